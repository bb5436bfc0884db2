package capture

import (
	"context"
	"image"
	"testing"
	"time"
)

func TestPatternIsDeterministicAndMoves(t *testing.T) {
	p, err := NewPattern(320, 192, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := image.NewYCbCr(image.Rect(0, 0, 320, 192), image.YCbCrSubsampleRatio420)
	b := image.NewYCbCr(a.Rect, a.SubsampleRatio)
	p.Draw(a, 5)
	p.Draw(b, 5)
	if string(a.Y) != string(b.Y) || string(a.Cb) != string(b.Cb) {
		t.Fatal("frame 5 drawn twice differs")
	}
	p.Draw(b, 6)
	if string(a.Y) == string(b.Y) {
		t.Fatal("frame 6 is the same picture as frame 5")
	}
	t.Run("rejects sizes it cannot draw", func(t *testing.T) {
		for _, s := range [][2]int{{0, 100}, {8, 8}, {100000, 100}} {
			if _, err := NewPattern(s[0], s[1], 30); err == nil {
				t.Fatalf("accepted %v", s)
			}
		}
		if _, err := NewPattern(64, 64, -1); err == nil {
			t.Fatal("accepted a negative rate")
		}
	})
}

func TestPatternPacesItselfAndSkipsWhenLate(t *testing.T) {
	p, _ := NewPattern(64, 64, 50)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 5; i++ {
		f, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq != uint64(i) {
			t.Fatalf("frame %d has seq %d", i, f.Seq)
		}
		f.Release()
	}
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Fatalf("5 frames at 50 fps took %v", d)
	}
	time.Sleep(100 * time.Millisecond) // a busy caller misses about 5 slots
	f, _ := p.Next(ctx)
	if f.Seq < 8 || p.Skipped() < 3 {
		t.Fatalf("after a pause got seq %d with %d skipped", f.Seq, p.Skipped())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Next(cctx); err == nil {
		t.Fatal("Next ignored a cancelled context")
	}
}

func BenchmarkPattern1080p(b *testing.B) {
	p, _ := NewPattern(1920, 1080, 0)
	img := image.NewYCbCr(image.Rect(0, 0, 1920, 1080), image.YCbCrSubsampleRatio420)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Draw(img, uint64(i))
	}
}

func TestStampsFindTheFrameOfACaptureTime(t *testing.T) {
	p, _ := NewPattern(64, 64, 0)
	s := NewStamps(p)
	var stamps []int64
	for i := 0; i < 3*stampsKept; i++ {
		f, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, f.Time.UnixMicro())
		f.Release()
		time.Sleep(time.Microsecond) // distinct stamps
	}
	last := len(stamps) - 1
	if seq, ok := s.Seq(stamps[last]); !ok || seq != uint64(last) {
		t.Fatalf("newest stamp: seq %d ok %v, want %d", seq, ok, last)
	}
	if _, ok := s.Seq(12345); ok {
		t.Fatal("an unknown stamp was found")
	}
	if n := len(s.seqs); n > 4*stampsKept+1 {
		t.Fatalf("kept %d stamps, bound is %d", n, 4*stampsKept)
	}
}
