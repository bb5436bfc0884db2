package receiver_test

import (
	"context"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// stream sends frames of the test pattern to a fresh receiver over loopback and
// returns the receiver's stats, the sender's stats and the worst PSNR of a complete
// frame shown.
func stream(t *testing.T, w, h int, fps float64, frames int, scfg sender.Config) (receiver.Stats, sender.Stats, float64) {
	t.Helper()
	pat, err := capture.NewPattern(w, h, fps)
	if err != nil {
		t.Fatal(err)
	}
	// These tests check the pipeline's fidelity: pin the quality, or rate control
	// would (rightly) lower it whenever the shared machine starves the encoder.
	scfg.MinQuality = scfg.Quality
	scfg.FrameSpan = -1 // and never trim a frame for a rate the starved machine made look low
	if scfg.NewEncoder == nil {
		scfg.NewEncoder = fast
	}
	// A clean loopback loses nothing, so a long deadline costs nothing and keeps a
	// starved sender (race detector, a busy machine) from tripping it.
	r := loopback.Start(t, pat, loopback.Config{
		Receiver:  receiver.Config{Sockets: 2, Deadline: time.Second},
		Sender:    scfg,
		Reference: loopback.Pattern(pat),
	})
	if err := r.Send(context.Background(), frames); err != nil {
		t.Fatal(err)
	}
	r.Settle()
	r.Stop()
	worst := 1000.0
	for _, s := range r.Shown() {
		if s.Complete {
			worst = min(worst, s.PSNR)
		}
	}
	return r.RX.Stats(), r.TX.Stats(), worst
}

func fast() tile.Encoder { return &tile.FastEncoder{} }

func TestLoopback720p(t *testing.T) {
	frames := 30
	if testrig.Race {
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
}

func TestLoopback1080p(t *testing.T) {
	frames := 30
	if testrig.Race {
		frames = 8
	}
	rs, ss, worst := stream(t, 1920, 1080, 30, frames, sender.Config{Quality: 85})
	// Loopback loses nothing, but a starved reader goroutine (race detector, a busy
	// machine) can hold a datagram past the reordering grace: allow one such frame.
	if rs.FramesComplete+1 < uint64(frames) || rs.DatagramsInvalid != 0 {
		t.Fatalf("receiver %+v\nsender %+v", rs, ss)
	}
	if worst < 35 {
		t.Fatalf("worst PSNR %.1f dB, want >= 35", worst)
	}
}
