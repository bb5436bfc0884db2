package render

import (
	"context"
	"errors"
	"image"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/render/internal/testpic"
	"github.com/hrvs/hrvs/render/window"
)

func TestOpenRejectsUnknownSinks(t *testing.T) {
	for _, sink := range []string{"tv", "dir:", "null:x", "window:2", "DIR:x"} {
		t.Run(sink, func(t *testing.T) {
			_, err := Open(Config{Sink: sink})
			if !errors.Is(err, ErrBadSink) {
				t.Fatalf("Open(%q) = %v, want ErrBadSink", sink, err)
			}
			if !strings.Contains(err.Error(), "dir:PATH") && !strings.Contains(err.Error(), "dir needs a path") {
				t.Fatalf("error %q does not say what is allowed", err)
			}
		})
	}
}

func TestTheDefaultSinkIsTheWindowOnlyWhenOneCanOpen(t *testing.T) {
	s, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.HasWindow() != window.Available() {
		t.Fatalf("HasWindow %v, window.Available %v", s.HasWindow(), window.Available())
	}
	if !s.HasWindow() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.RunWindow(ctx); err != nil || ctx.Err() != nil {
			t.Fatalf("RunWindow without a window = %v, after %v", err, ctx.Err())
		}
	}
}

func TestAWindowInAHeadlessBuildIsAClearError(t *testing.T) {
	if window.Available() {
		t.Skip("this build has a window and a display")
	}
	_, err := Open(Config{Sink: "window"})
	if err == nil || !(strings.Contains(err.Error(), "headless") || strings.Contains(err.Error(), "DISPLAY")) {
		t.Fatalf("Open window = %v", err)
	}
}

func TestEveryOutputGetsTheFrames(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	frames := filepath.Join(dir, "frames")
	rec := filepath.Join(dir, "rec.avi")
	s, err := Open(Config{Sink: "dir:" + frames, Frames: 3, HTTP: "127.0.0.1:0", Record: rec,
		Stats: func() any { return map[string]int{"fps": 30} }})
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint32(0); seq < 5; seq++ {
		f := testpic.Frame(160, 120, image.YCbCrSubsampleRatio420, seq)
		if err := s.Show(f); err != nil {
			t.Fatal(err)
		}
		f.Release()
		time.Sleep(30 * time.Millisecond)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the dir sink's 3 frames")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	pngs, _ := filepath.Glob(filepath.Join(frames, "frame-*.png"))
	if len(pngs) != 3 {
		t.Fatalf("%d PNG files, want 3", len(pngs))
	}
	if st, err := os.Stat(rec); err != nil || st.Size() < 1000 {
		t.Fatalf("recording: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}

func TestAFailedOpenLeavesNothingOpen(t *testing.T) {
	dir := t.TempDir()
	before := runtime.NumGoroutine()
	_, err := Open(Config{Sink: "dir:" + filepath.Join(dir, "f"), HTTP: "256.0.0.1:http"})
	if err == nil || !strings.Contains(err.Error(), "--http") {
		t.Fatalf("Open with a bad address = %v", err)
	}
	_, err = Open(Config{Sink: "null", Record: filepath.Join(dir, "no", "such", "dir", "x.avi")})
	if err == nil || !strings.Contains(err.Error(), "--record") {
		t.Fatalf("Open with a bad record path = %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after failed Opens, %d before", n, before)
	}
}
