package capture_test

import (
	"context"
	"image"
	"math"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
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
			start := time.Now()
			shown, complete, worst, ss, rs := streamFile(t, path, ref)
			t.Logf("%s: %d frames in the file, %d shown, %d complete, worst PSNR %.1f dB, %v", tc.file, len(ref), shown, complete, worst, time.Since(start).Round(time.Millisecond))
			// The sender skips frames while it is still encoding the previous one
			// (on a busy 2-core machine, or under the race detector, most of them at
			// 1080p), so how many arrive measures the sender, not the source; every
			// one that does arrive must match the file.
			want := 5
			if testrig.Race {
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
		})
	}
}

// streamFile plays path through a sender to a receiver and compares what arrives.
func streamFile(t *testing.T, path string, ref []*image.YCbCr) (shown, complete int, worst float64, ss sender.Stats, rs receiver.Stats) {
	t.Helper()
	file, err := capture.Open(context.Background(), path, capture.Options{}) // real time, at the file's rate
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r := loopback.Start(t, file, loopback.Config{
		Receiver: receiver.Config{Sockets: 2, Deadline: time.Second},
		Sender:   sender.Config{Quality: 90, MinQuality: 90, FrameSpan: -1},
		Reference: func(seq uint64) *image.YCbCr {
			if seq >= uint64(len(ref)) {
				return nil
			}
			return ref[seq]
		},
	})
	if err := r.Send(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	r.Settle()
	r.Stop()
	worst = math.Inf(1)
	for _, s := range r.Shown() {
		if s.Complete {
			worst = min(worst, s.PSNR)
			complete++
		}
	}
	return len(r.Shown()), complete, worst, r.TX.Stats(), r.RX.Stats()
}
