package dir

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

func TestWriterWritesEveryQueuedFrameUnderItsIndexStreamAndNumber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "frames")
	w, err := New(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seqs := []uint32{7, 8, 100}
	for _, s := range seqs {
		f := testpic.Frame(64, 48, image.YCbCrSubsampleRatio420, s)
		f.Stream = 0xabc
		if err := w.Show(f); err != nil {
			t.Fatal(err)
		}
		f.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		name := filepath.Join(path, Name(uint64(i+1), 0xabc, s))
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
	if got := Name(12, 0xabc, 3); got != "frame-00000012-00000abc-00000003.png" {
		t.Fatal(got)
	}
}

func TestEveryFrameOfABurstIsWritten(t *testing.T) {
	for _, workers := range []int{2, 0} {
		t.Run(fmt.Sprintf("with %d workers (0: GOMAXPROCS)", workers), func(t *testing.T) {
			path := t.TempDir()
			var logged bytes.Buffer
			w, err := New(path, Options{Workers: workers, Log: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatal(err)
			}
			const n = 60 // delivered back to back, far faster than PNG encodes
			img := testpic.Picture(160, 96, image.YCbCrSubsampleRatio420, 0)
			for s := uint32(1); s <= n; s++ {
				f := receiver.NewFrame(img, s)
				if err := w.Show(f); err != nil {
					t.Fatal(err)
				}
				f.Release()
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, _ := filepath.Glob(filepath.Join(path, "*.png"))
			if len(got) != n || w.Written() != n || w.Skipped() != 0 {
				t.Fatalf("%d files, written %d, skipped %d; want all %d frames", len(got), w.Written(), w.Skipped(), n)
			}
			if want := fmt.Sprintf("wrote %d frames to %s", n, path); !strings.Contains(logged.String(), want) || strings.Contains(logged.String(), "could not") {
				t.Fatalf("end message %q, want %q and nothing about frames not written", logged.String(), want)
			}
		})
	}
}

func TestARestartedSenderOrReceiverNeverOverwritesEarlierFiles(t *testing.T) {
	path := t.TempDir()
	// Two streams whose frame numbers both start at 1, as after a sender restart, then a
	// second receiver (a new Writer) on the same directory: 3 x 5 frames, 15 files.
	for _, run := range []struct {
		stream uint32
		reopen bool
	}{{0x11111111, false}, {0x22222222, false}, {0x22222222, true}} {
		w, err := New(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for s := uint32(1); s <= 5; s++ {
			f := testpic.Frame(32, 32, image.YCbCrSubsampleRatio420, s)
			f.Stream = run.stream
			w.Show(f)
			f.Release()
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := filepath.Glob(filepath.Join(path, "*.png"))
	if len(got) != 15 {
		t.Fatalf("%d files, want 15 (no name reused): %v", len(got), got)
	}
	sort.Strings(got)
	for i, name := range got {
		if idx, ok := parseIndex(filepath.Base(name)); !ok || idx != uint64(i+1) {
			t.Fatalf("file %d is %s: want the running index %d", i, name, i+1)
		}
	}
}

func TestAnExistingFileIsKept(t *testing.T) {
	path := t.TempDir()
	final := filepath.Join(path, "taken.png")
	os.WriteFile(final, []byte("mine"), 0o644)
	tmp := filepath.Join(path, ".tmp")
	os.WriteFile(tmp, []byte("new"), 0o644)
	if err := place(tmp, final); !errors.Is(err, errExists) {
		t.Fatalf("place over an existing file: %v, want errExists", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "mine" {
		t.Fatalf("the existing file now holds %q", b)
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
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the bound")
	}
	w.Close()
	got, _ := filepath.Glob(filepath.Join(path, "*.png"))
	if len(got) != 3 {
		t.Fatalf("%d files, want 3: %v", len(got), got)
	}
}

func TestAFullQueueSkipsFramesInsteadOfWaitingCountsThemAndSaysSo(t *testing.T) {
	path := t.TempDir()
	var logged bytes.Buffer
	// One worker and a queue of minQueue frames: a burst of 40 cannot all wait.
	w, err := New(path, Options{Workers: 1, QueueBytes: 1, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	img := testpic.Picture(640, 480, image.YCbCrSubsampleRatio420, 0)
	var spent time.Duration
	for s := uint32(0); s < n; s++ {
		f := receiver.NewFrame(img, s)
		start := time.Now()
		w.Show(f)
		spent += time.Since(start)
		f.Release()
	}
	if d := spent; d > time.Second {
		t.Fatalf("40 Show calls took %v: the sink waited for the encoder", d)
	}
	w.Close()
	got, _ := filepath.Glob(filepath.Join(path, "*.png"))
	if uint64(len(got)) != w.Written() || w.Written()+w.Skipped() != n || w.Skipped() == 0 {
		t.Fatalf("%d files, written %d, skipped %d of %d", len(got), w.Written(), w.Skipped(), n)
	}
	want := fmt.Sprintf("could not write %d (%d skipped for a full queue, 0 after a write error)", w.Skipped(), w.Skipped())
	if !strings.Contains(logged.String(), want) || !strings.Contains(logged.String(), "level=WARN") {
		t.Fatalf("end message %q, want a warning with %q", logged.String(), want)
	}
}

func TestCloseStopsTheEncoder(t *testing.T) {
	before := runtime.NumGoroutine()
	w, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	// A goroutine that has returned may be counted a moment longer: wait for the count.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after Close, %d before", runtime.NumGoroutine(), before)
		}
	}
}

func TestAnUnwritableDirectoryIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := New(filepath.Join(file, "sub"), Options{}); err == nil {
		t.Fatal("New under a file succeeded")
	}
}

// BenchmarkWriter720p is the sink's throughput: b.N frames of 1280x720 shown and written
// to the last (Close is timed), with every encoder busy; none may be skipped.
func BenchmarkWriter720p(b *testing.B) {
	img := testpic.Picture(1280, 720, image.YCbCrSubsampleRatio420, 0)
	w, err := New(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(img.Y) + len(img.Cb) + len(img.Cr)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f := receiver.NewFrame(img, uint32(i))
		w.Show(f)
		f.Release()
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if w.Skipped() > 0 {
		b.Fatalf("%d of %d frames skipped", w.Skipped(), w.Written()+w.Skipped())
	}
}
