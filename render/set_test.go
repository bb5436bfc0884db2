package render

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
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
	// Frames keep coming until the dir sink has written its 3: a sink that is busy
	// skips a frame rather than wait, and a busy machine makes it busy longer.
	seq := uint32(0)
	testrig.Eventually(t, testrig.Patience, func() error {
		select {
		case <-s.Done():
			return nil
		default:
		}
		f := testpic.Frame(160, 120, image.YCbCrSubsampleRatio420, seq)
		seq++
		if err := s.Show(f); err != nil {
			t.Fatal(err)
		}
		f.Release()
		return fmt.Errorf("Done not closed after %d frames shown; the dir sink stops at 3", seq)
	})
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
	testrig.Eventually(t, testrig.Patience, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines after Close, %d before", n, before)
		}
		return nil
	})
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
	testrig.Eventually(t, testrig.Patience, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines after failed Opens, %d before", n, before)
		}
		return nil
	})
}
