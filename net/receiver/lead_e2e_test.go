package receiver_test

import (
	"context"
	"image"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// stream sends frames of the test pattern to a fresh receiver over loopback and
// returns the receiver's stats, the sender's stats and the worst PSNR of a shown frame.
func stream(t *testing.T, w, h int, fps float64, frames int, scfg sender.Config) (receiver.Stats, sender.Stats, float64) {
	t.Helper()
	// A clean loopback loses nothing, so a long deadline costs nothing and keeps a
	// starved sender (race detector, a busy machine) from tripping it.
	rcfg := receiver.Config{Listen: "127.0.0.1:0", Sockets: 2, Deadline: time.Second}
	rx, err := receiver.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rx.Run(ctx) }()
	pat, err := capture.NewPattern(w, h, fps)
	if err != nil {
		t.Fatal(err)
	}
	src := capture.NewStamps(pat)
	scfg.To = rx.Addr()
	// These tests check the pipeline's fidelity: pin the quality, or rate control
	// would (rightly) lower it whenever the shared machine starves the encoder.
	scfg.MinQuality = scfg.Quality
	scfg.FrameSpan = -1 // and never trim a frame for a rate the starved machine made look low
	if scfg.NewEncoder == nil {
		scfg.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
	}
	tx, err := sender.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	worst := 1000.0
	shown := 0
	wg.Add(1)
	go func() { // the display: compare every shown frame with the pattern it came from
		defer wg.Done()
		ref := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		for {
			f, err := rx.Next(ctx)
			if err != nil {
				return
			}
			if f.Complete() {
				seq, ok := src.Seq(f.CaptureUS)
				if !ok {
					t.Errorf("frame %d carries capture time %d, which no captured frame had", f.Seq, f.CaptureUS)
				}
				pat.Draw(ref, seq)
				if p := tile.PSNR(ref, f.Image); p < worst {
					worst = p
				}
				shown++
			}
			f.Release()
		}
	}()
	if err := tx.Run(ctx, src, frames); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	return rx.Stats(), tx.Stats(), worst
}

func TestLoopback720p(t *testing.T) {
	before := runtime.NumGoroutine()
	frames := 30
	if raceEnabled {
		frames = 10
	}
	rs, ss, worst := stream(t, 1280, 720, 30, frames, sender.Config{Quality: 85})
	t.Logf("receiver %+v", rs)
	t.Logf("sender %+v", ss)
	// As in TestLoopback1080p, one frame may lose a datagram to a starved reader.
	if rs.FramesReceived < uint64(frames) || rs.FramesComplete+1 < uint64(frames) {
		t.Fatalf("received %d frames, %d complete, want %d", rs.FramesReceived, rs.FramesComplete, frames)
	}
	if rs.DatagramsInvalid != 0 {
		t.Fatalf("%d invalid datagrams on a clean link", rs.DatagramsInvalid)
	}
	if worst < 35 {
		t.Fatalf("worst PSNR %.1f dB, want >= 35", worst)
	}
	time.Sleep(100 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left running (was %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
