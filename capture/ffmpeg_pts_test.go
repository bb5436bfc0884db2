package capture

import (
	"context"
	"testing"
	"time"
)

func TestParseFrameCRCLine(t *testing.T) {
	var tb timeBase
	for _, tc := range []struct {
		name    string
		line    string
		pts     time.Duration
		isFrame bool
		err     bool
	}{
		{"a frame before the time base is a frame without a time", "0, 0, 0, 1, 472, 0x1", 0, true, true},
		{"the time base line sets the time base", "#tb 0: 1/1000", 0, false, false},
		{"other comments are not frames", "#software: Lavf59.27.100", 0, false, false},
		{"a frame line gives its pts", "0,       1020,       1020,        1,      472, 0x656c15f4", 1020 * time.Millisecond, true, false},
		{"a negative pts is kept", "0, -40, -40, 1, 472, 0x1", -40 * time.Millisecond, true, false},
		{"a garbled pts is a frame without a time", "0, 5, x5, 1, 472, 0x1", 0, true, true},
		{"a pts beyond a week is refused", "0, 0, 9223372036854775807, 1, 1, 0x1", 0, true, true},
		{"another stream's line is not ours", "1, 0, 0, 1, 472, 0x1", 0, false, false},
		{"a blank line is nothing", "  ", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pts, isFrame, err := parseFrameCRCLine(tc.line, &tb)
			if pts != tc.pts || isFrame != tc.isFrame || (err != nil) != tc.err {
				t.Fatalf("got %v, %v, %v; want %v, %v, error %v", pts, isFrame, err, tc.pts, tc.isFrame, tc.err)
			}
		})
	}
	t.Run("a bad time base is refused", func(t *testing.T) {
		var tb timeBase
		if _, _, err := parseFrameCRCLine("#tb 0: 1/0", &tb); err == nil || tb.den != 0 {
			t.Fatalf("got %v, tb %v", err, tb)
		}
	})
}

func FuzzFrameCRCLine(f *testing.F) {
	f.Add("#tb 0: 1/1000", "0,       1020,       1020,        1,      472, 0x656c15f4")
	f.Add("#tb 0: 1001/30000", "0, -3, -3, 1, 1, 0x0")
	f.Fuzz(func(t *testing.T, tbLine, line string) {
		var tb timeBase
		parseFrameCRCLine(tbLine, &tb)
		pts, isFrame, err := parseFrameCRCLine(line, &tb)
		if err == nil && isFrame && (pts > maxPTS || pts < -maxPTS) {
			t.Fatalf("pts %v beyond the bound", pts)
		}
	})
}

// vfrPTS is the presentation time of frame seq of vfr.mkv: ten frames 100 ms
// apart, then fifty 20 ms apart.
func vfrPTS(seq uint64) time.Duration {
	if seq < 10 {
		return time.Duration(seq) * 100 * time.Millisecond
	}
	return time.Second + time.Duration(seq-10)*20*time.Millisecond
}

func TestVariableFrameRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := testClip(t, "vfr.mkv")
	t.Run("every frame of a variable-rate file comes out, once", func(t *testing.T) {
		src, err := Open(ctx, path, Options{FPS: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		n := 0
		for ; ; n++ {
			f, err := src.Next(ctx)
			if err == ErrEnd {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Seq != uint64(n) {
				t.Fatalf("frame %d has seq %d", n, f.Seq)
			}
			if pts, _ := src.(*FileSource).r.pts(); pts != vfrPTS(f.Seq) {
				t.Fatalf("frame %d: pts %v, want %v", n, pts, vfrPTS(f.Seq))
			}
			f.Release()
		}
		if n != 60 {
			t.Fatalf("%d frames, want 60 (10 at 10 fps and 50 at 50 fps)", n)
		}
	})
	t.Run("a variable-rate file is paced by each frame's own time", func(t *testing.T) {
		src, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var first time.Time
		fast, n := 0, 0
		for {
			f, err := src.Next(ctx)
			if err == ErrEnd {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				if f.Seq != 0 {
					t.Fatalf("the first frame has seq %d", f.Seq)
				}
				first = f.Time
			}
			n++
			if f.Seq >= 10 {
				fast++
			}
			// Never early; late only by what a busy machine costs.
			if at, want := f.Time.Sub(first), vfrPTS(f.Seq); at < want-5*time.Millisecond || at > want+250*time.Millisecond {
				t.Errorf("frame %d captured at %v, its time in the file is %v", f.Seq, at, want)
			}
			f.Release()
		}
		dropped := src.(*FileSource).Dropped()
		if uint64(n)+dropped != 60 {
			t.Fatalf("%d frames delivered and %d dropped, want 60 in all", n, dropped)
		}
		// Paced at one rate, the 50 fps half came out at 10 fps: 10 frames.
		if fast < 40 {
			t.Fatalf("%d frames of the 50 fps second delivered (%d dropped), want at least 40", fast, dropped)
		}
		t.Logf("%d frames delivered, %d dropped", n, dropped)
	})
}
