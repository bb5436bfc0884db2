package capture_test

import (
	"context"
	"image"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// Each file source streams in real time through the real sender to a receiver on
// loopback; every complete frame the receiver shows is compared with the frame
// ffmpeg decodes from the same file.
func TestFilesEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		file    string
		refFmt  string
		w, h    int
		minPSNR float64
	}{
		// limited-range sources arrive converted to full range: ffmpeg's yuvj is the reference
		{"h264-720p.mkv", "yuvj420p", 1280, 720, 35},
		{"h264-1080p.mkv", "yuvj420p", 1920, 1080, 35},
		{"c420.y4m", "yuvj420p", 640, 360, 35},
		{"c422.y4m", "yuvj422p", 642, 362, 35},
		{"m420.mjpeg", "yuvj420p", 1280, 720, 35},
	} {
		t.Run(tc.file+" arrives intact over loopback", func(t *testing.T) {
			path := capture.ClipPath(t, tc.file)
			ref := capture.ReferenceFrames(t, path, tc.refFmt, tc.w, tc.h)
			before := runtime.NumGoroutine()
			start := time.Now()
			shown, complete, worst, ss, rs := streamFile(t, path, ref)
			t.Logf("%s: %d frames in the file, %d shown, %d complete, worst PSNR %.1f dB, %v", tc.file, len(ref), shown, complete, worst, time.Since(start).Round(time.Millisecond))
			// The sender skips frames while it is still encoding the previous one
			// (on a busy 2-core machine, or under the race detector, most of them at
			// 1080p), so how many arrive measures the sender, not the source; every
			// one that does arrive must match the file.
			want := 5
			if raceDetector {
				want = 2
			}
			if complete < want {
				t.Logf("sender %+v", ss)
				t.Logf("receiver %+v", rs)
				t.Fatalf("%d of %d frames arrived complete", complete, len(ref))
			}
			if worst < tc.minPSNR {
				t.Fatalf("worst PSNR %.1f dB, want >= %.0f", worst, tc.minPSNR)
			}
			time.Sleep(100 * time.Millisecond)
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines left running (was %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// streamFile plays path through a sender to a receiver and compares what arrives.
func streamFile(t *testing.T, path string, ref []*image.YCbCr) (shown, complete int, worst float64, ss sender.Stats, rs receiver.Stats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 2, Deadline: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rx.Run(ctx) }()

	file, err := capture.Open(ctx, path, capture.Options{}) // real time, at the file's rate
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	src := capture.NewStamps(file)
	tx, err := sender.New(sender.Config{To: rx.Addr(), Quality: 90, MinQuality: 90, FrameSpan: -1})
	if err != nil {
		t.Fatal(err)
	}
	worst = math.Inf(1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			f, err := rx.Next(ctx)
			if err != nil {
				return
			}
			shown++
			if f.Complete() {
				seq, ok := src.Seq(f.CaptureUS)
				if !ok || seq >= uint64(len(ref)) {
					t.Errorf("frame %d carries capture time %d, which no file frame had", f.Seq, f.CaptureUS)
				} else if p := tile.PSNR(ref[seq], f.Image); p < worst {
					worst = p
				}
				complete++
			}
			f.Release()
		}
	}()
	if err := tx.Run(ctx, src, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	return shown, complete, worst, tx.Stats(), rx.Stats()
}
