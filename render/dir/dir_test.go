package dir

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

func TestWriterWritesEveryQueuedFrameByItsNumber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "frames")
	w, err := New(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seqs := []uint32{7, 8, 100}
	for i, s := range seqs {
		f := testpic.Frame(64, 48, image.YCbCrSubsampleRatio420, s)
		if err := w.Show(f); err != nil {
			t.Fatal(err)
		}
		f.Release()
		// Let the queue drain: this test is not about skipping.
		testrig.Eventually(t, testrig.Patience, func() error {
			if w.Written() < uint64(i+1) {
				return fmt.Errorf("frame %d not written", s)
			}
			return nil
		})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range seqs {
		name := filepath.Join(path, Name(s))
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := testpic.Picture(64, 48, image.YCbCrSubsampleRatio420, s)
		if p := testpic.PSNR(testpic.RGBA(want), img); p < 99 {
			t.Fatalf("%s differs from the frame: PSNR %.1f dB", name, p)
		}
	}
	if got, _ := filepath.Glob(filepath.Join(path, "*")); len(got) != len(seqs) {
		t.Fatalf("files %v, want %d frames and no leftovers", got, len(seqs))
	}
	if Name(12) != "frame-00000012.png" {
		t.Fatal(Name(12))
	}
}

func TestWriterStopsAtTheBoundAndSaysSo(t *testing.T) {
	path := t.TempDir()
	w, err := New(path, Options{Frames: 3})
	if err != nil {
		t.Fatal(err)
	}
	for s := uint32(0); s < 10; s++ {
		f := testpic.Frame(32, 32, image.YCbCrSubsampleRatio420, s)
		w.Show(f)
		f.Release()
	}
	select {
	case <-w.Done():
	case <-time.After(testrig.Patience):
		t.Fatal("Done not closed after the bound")
	}
	w.Close()
	got, _ := filepath.Glob(filepath.Join(path, "*.png"))
	if len(got) != 3 {
		t.Fatalf("%d files, want 3: %v", len(got), got)
	}
}

func TestAFullQueueSkipsFramesInsteadOfWaitingAndCloseDrainsIt(t *testing.T) {
	path := t.TempDir()
	w, err := New(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	img := testpic.Picture(640, 480, image.YCbCrSubsampleRatio420, 0)
	spent := make([]time.Duration, 0, n)
	for s := uint32(0); s < n; s++ {
		f := receiver.NewFrame(img, s)
		start := time.Now()
		w.Show(f)
		spent = append(spent, time.Since(start))
		f.Release()
	}
	// The median call, not the sum: a busy machine preempting a few calls is not the
	// sink waiting for its encoder, which would make every call after the queue fills slow.
	slices.Sort(spent)
	if med := spent[n/2]; med > 100*time.Millisecond/n {
		t.Fatalf("the median of 40 Show calls took %v: the sink waited for the encoder", med)
	}
	w.Close()
	got, _ := filepath.Glob(filepath.Join(path, "*.png"))
	if uint64(len(got)) != w.Written() || w.Written()+w.Skipped() != n || w.Skipped() == 0 {
		t.Fatalf("%d files, written %d, skipped %d of %d", len(got), w.Written(), w.Skipped(), n)
	}
}

func TestCloseStopsTheEncoder(t *testing.T) {
	before := runtime.NumGoroutine()
	w, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	testrig.Eventually(t, testrig.Patience, func() error {
		if after := runtime.NumGoroutine(); after > before {
			return fmt.Errorf("%d goroutines after Close, %d before", after, before)
		}
		return nil
	})
}

func TestAnUnwritableDirectoryIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := New(filepath.Join(file, "sub"), Options{}); err == nil {
		t.Fatal("New under a file succeeded")
	}
}
