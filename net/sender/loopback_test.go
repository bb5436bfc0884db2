package sender_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// source is a capture.Source whose frames a test can regenerate by sequence number.
type source interface {
	capture.Source
	Draw(img *image.YCbCr, seq uint64)
}

// still is a source that shows the same picture (frame 0 of the pattern) forever,
// at fps: a static camera without noise.
type still struct {
	*capture.Pattern
}

func (s still) Next(ctx context.Context) (*capture.Frame, error) {
	f, err := s.Pattern.Next(ctx)
	if err == nil {
		s.Pattern.Draw(f.Image, 0)
		f.Seq = 0
	}
	return f, err
}

func (s still) Draw(img *image.YCbCr, seq uint64) { s.Pattern.Draw(img, 0) }

// newRig starts the loopback rig with a relay impairing the path (imp), comparing
// every frame shown with the source frame it came from.
func newRig(t *testing.T, src source, imp relay.Config, cfg sender.Config) *loopback.Rig {
	t.Helper()
	rcfg := receiver.Config{Sockets: 2}
	if testrig.Race {
		rcfg.Deadline = time.Second
	}
	return loopback.Start(t, src, loopback.Config{Receiver: rcfg, Sender: cfg, Relay: &imp, Reference: reference(src)})
}

// reference draws src's frames for the rig's comparison.
func reference(src source) func(uint64) *image.YCbCr {
	info := src.Info()
	img := image.NewYCbCr(image.Rect(0, 0, info.Width, info.Height), image.YCbCrSubsampleRatio420)
	return func(seq uint64) *image.YCbCr {
		src.Draw(img, seq)
		return img
	}
}

// shownAtLeast is a SendUntil condition: n frames shown.
func shownAtLeast(r *loopback.Rig, n int) func() error {
	return func() error {
		if got := len(r.Shown()); got < n {
			return fmt.Errorf("%d of %d frames shown", got, n)
		}
		return nil
	}
}

// settledUnderCap is a SendUntil condition for a rate cap: rate control needs time
// under the cap to settle, at least 3 s, and 20 frames shown however long a busy
// machine takes for them.
func settledUnderCap(r *loopback.Rig) func() error {
	start := time.Now()
	return func() error {
		if n := len(r.Shown()); n < 20 || time.Since(start) < slow(3*time.Second) {
			return fmt.Errorf("%d of 20 frames shown after %v", n, time.Since(start).Round(time.Millisecond))
		}
		return nil
	}
}

// lastPSNR is the PSNR of the last frame shown, 0 if none was.
func lastPSNR(fr []loopback.Shown) float64 {
	if len(fr) == 0 {
		return 0
	}
	return fr[len(fr)-1].PSNR
}

// slow scales durations for the race detector, which makes encoding ten times slower.
func slow(d time.Duration) time.Duration {
	if testrig.Race {
		return 2 * d
	}
	return d
}

func pattern(t *testing.T, w, h int, fps float64) *capture.Pattern {
	if testrig.Race { // a quarter of the pixels: the race detector slows encoding tenfold
		w, h = w/2, h/2
	}
	p, err := capture.NewPattern(w, h, fps)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStaticSceneCostsAFractionOfFullFrames(t *testing.T) {
	run := func(threshold int) (sender.Stats, []loopback.Shown) {
		p, err := capture.NewPattern(640, 384, 30) // full size even under race: 9 tiles, one of them the keepalive
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t, still{p}, relay.Config{}, sender.Config{ChangeThreshold: threshold})
		// 20 frames sent, however long a busy machine takes: enough for the first
		// frame's full cost to be a small part of the average.
		r.SendUntil(t, func() error {
			if n := r.TX.Stats().FramesSent; n < 20 || len(r.Shown()) < 5 {
				return fmt.Errorf("%d frames sent, %d shown", n, len(r.Shown()))
			}
			return nil
		})
		r.Stop()
		return r.TX.Stats(), r.Shown()
	}
	cr, shownCR := run(0)
	full, _ := run(-1)
	t.Logf("with conditional replenishment %+v", cr)
	t.Logf("full frames %+v", full)
	// The first frame carries every tile; after it, a still picture costs the one
	// keepalive tile a frame plus the rolling refresh (9 tiles per 2 s here).
	if cr.FramesSent < 5 || cr.TilesSent-9 > 2*(cr.FramesSent-1) {
		t.Errorf("%d tiles in %d frames of a still picture: want 9 and then at most 2 a frame", cr.TilesSent, cr.FramesSent)
	}
	perCR := float64(cr.BytesSent) / float64(cr.FramesSent)
	perFull := float64(full.BytesSent) / float64(full.FramesSent)
	if perCR > perFull/4 {
		t.Errorf("a still picture costs %.0f bytes a frame, full frames %.0f: want under a quarter", perCR, perFull)
	}
	if full.TileShare != 1 {
		t.Errorf("change threshold -1 sent %.2f of the tiles, want all", full.TileShare)
	}
	if n := len(shownCR); n < 5 || lastPSNR(shownCR) < 35 {
		t.Fatalf("%d frames shown, last PSNR %.1f dB", n, lastPSNR(shownCR))
	}
}

// With a refresh period far longer than the test, only repair by acknowledgement can
// bring back tiles lost on the way: the picture must heal anyway.
func TestRepairHealsAStillPictureUnderLoss(t *testing.T) {
	r := newRig(t, still{pattern(t, 640, 384, 30)}, relay.Config{Loss: 0.2}, sender.Config{Refresh: time.Hour})
	// The picture must heal, however long a busy machine takes: send until ten
	// frames were shown, tiles were lost and repaired, and the last frame is whole.
	r.SendUntil(t, func() error {
		fr, st := r.Shown(), r.TX.Stats()
		if len(fr) < 10 || st.TilesRepaired == 0 || st.TilesLost == 0 || lastPSNR(fr) < 35 {
			return fmt.Errorf("%d frames shown, the last at PSNR %.1f dB: lost tiles were not repaired (%d lost, %d repaired)",
				len(fr), lastPSNR(fr), st.TilesLost, st.TilesRepaired)
		}
		return nil
	})
	r.Stop()
	st := r.TX.Stats()
	t.Logf("sender %+v", st)
	if st.TilesRepaired > 3*st.TilesLost {
		t.Errorf("%d tiles resent for %d lost: repair should send each loss about once", st.TilesRepaired, st.TilesLost)
	}
}

func TestPictureHealsAfterABlackout(t *testing.T) {
	r := newRig(t, pattern(t, 640, 384, 30), relay.Config{}, sender.Config{})
	r.SendInBackground()
	r.WaitShown(t, 5) // the stream is up
	r.Relay.BlackoutFor(time.Second)
	end := time.Now().Add(time.Second)
	healedAt := func() time.Time {
		for _, s := range r.Shown() {
			if s.Ready.After(end) && s.PSNR >= 30 {
				return s.Ready
			}
		}
		return time.Time{}
	}
	testrig.Eventually(t, testrig.Patience, func() error {
		if healedAt().IsZero() {
			return errors.New("the picture never healed after the blackout")
		}
		return nil
	})
	r.Stop()
	healed := healedAt()
	t.Logf("sender %+v", r.TX.Stats())
	limit := slow(time.Second)
	if d := healed.Sub(end); d > limit {
		t.Errorf("healed %v after the blackout, want under %v", d, limit)
	}
}

func TestRateCapKeepsLatencyBounded(t *testing.T) {
	if testrig.Race {
		t.Log("under the race detector the encoder, not the cap, limits the rate; checking only that frames flow")
	}
	// 640x384 pattern at 30 fps needs about 12 Mbit/s at q75: a 3 Mbit/s cap must
	// make the sender give up quality (and frames) instead of building a queue.
	r := newRig(t, pattern(t, 640, 384, 30), relay.Config{RateBits: 3e6, RateLatency: 200 * time.Millisecond}, sender.Config{})
	r.SendUntil(t, settledUnderCap(r))
	st := r.TX.Stats()
	r.Stop()
	fr := r.Shown()
	t.Logf("sender %+v", st)
	t.Logf("relay %+v", r.Relay.Stats())
	var worst time.Duration
	for _, s := range fr[len(fr)*3/5:] { // after the start's overshoot has drained
		worst = max(worst, s.Latency)
	}
	if !testrig.Race && worst > 200*time.Millisecond {
		t.Errorf("latency reached %v in the last 40%% of the run: a standing queue", worst)
	}
	if !testrig.Race && (st.Quality >= 75 || st.TargetMbps > 3.2) {
		t.Errorf("quality %d, target %.1f Mbit/s under a 3 Mbit/s cap", st.Quality, st.TargetMbps)
	}
}

// The control link goes through the relay too: with no TCP there, the sender never
// gets an acknowledgement and must stream open loop at a safe rate.
func TestNoControlLinkStreamsOpenLoop(t *testing.T) {
	r := newRig(t, pattern(t, 320, 256, 30), relay.Config{NoTCP: true}, sender.Config{})
	r.SendUntil(t, shownAtLeast(r, 10))
	st := r.TX.Stats()
	r.Stop()
	if !st.OpenLoop || st.ControlConnected {
		t.Errorf("open loop %v, connected %v", st.OpenLoop, st.ControlConnected)
	}
	if p := lastPSNR(r.Shown()); p < 30 {
		t.Errorf("last frame PSNR %.1f dB", p)
	}
}

// Parity FEC against repair alone on a moving picture: with parity nearly every
// frame is whole when shown, without it nearly every frame misses a tile somewhere.
// Adaptive parity must find the loss random and protect frames by itself.
func TestParityRecoversLossesWithinTheFrame(t *testing.T) {
	run := func(fec int) (complete, frames, recovered uint64, pct float64) {
		r := newRig(t, pattern(t, 640, 384, 30), relay.Config{Loss: 0.05}, sender.Config{FEC: fec})
		// 40 frames each, however long a busy machine takes for them.
		r.SendUntil(t, func() error {
			if n := r.RX.Stats().FramesReceived; n < 40 {
				return fmt.Errorf("%d of 40 frames received", n)
			}
			return nil
		})
		st := r.TX.Stats()
		r.Stop()
		rs := r.RX.Stats()
		return rs.FramesComplete, rs.FramesReceived, rs.DatagramsRecovered, st.FECPct
	}
	cFix, nFix, recFix, _ := run(30)
	cAd, nAd, recAd, pctAd := run(0)
	cNo, nNo, recNo, _ := run(-1)
	t.Logf("fixed 30%% parity: %d of %d frames complete, %d datagrams rebuilt; adaptive (%.0f%% parity): %d of %d, %d rebuilt; none: %d of %d",
		cFix, nFix, recFix, pctAd, cAd, nAd, recAd, cNo, nNo)
	if recFix == 0 || recAd == 0 || recNo != 0 {
		t.Fatalf("datagrams rebuilt: %d with fixed parity, %d adaptive, %d without", recFix, recAd, recNo)
	}
	if nFix == 0 || nNo == 0 || nAd == 0 {
		t.Fatal("no frames")
	}
	if share := float64(cFix) / float64(nFix); share < 0.9 {
		t.Errorf("with 30%% parity at 5%% loss only %.0f%% of frames were complete", 100*share)
	}
	if float64(cAd)/float64(nAd) <= float64(cNo)/float64(nNo) || pctAd <= 0 {
		t.Errorf("adaptive parity (%.0f%%) did not raise the share of complete frames: %d/%d against %d/%d", pctAd, cAd, nAd, cNo, nNo)
	}
}

// clip is a Y4M file of the pattern's first frames, opened as a file source: its
// frame i is the pattern's frame i.
type clip struct {
	capture.Source
	p *capture.Pattern
}

func (c clip) Draw(img *image.YCbCr, seq uint64) { c.p.Draw(img, seq) }

// writeClip writes frames of the pattern at w x h into a Y4M file and opens it at
// fps (negative: as fast as possible).
func writeClip(t *testing.T, w, h, frames int, fps float64) clip {
	t.Helper()
	p, err := capture.NewPattern(w, h, 30)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clip.y4m")
	out := []byte(fmt.Sprintf("YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg XCOLORRANGE=FULL\n", w, h)) // the pattern is full range
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range frames {
		p.Draw(img, uint64(i))
		out = append(out, "FRAME\n"...)
		out = append(out, img.Y...)
		out = append(out, img.Cb...)
		out = append(out, img.Cr...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(context.Background(), path, capture.Options{FPS: fps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return clip{Source: src, p: p}
}

// A file sent as fast as possible waits for the encoders, the window and the rate
// (back-pressure) instead of skipping frames: every frame arrives, at the quality
// set, however busy the machine.
func TestAFileAtMaxRateDeliversEveryFrame(t *testing.T) {
	const frames = 45
	w, h := 640, 384
	if testrig.Race {
		w, h = 320, 192
	}
	src := writeClip(t, w, h, frames, -1)
	if info := src.Info(); !info.Stored || info.FPS != 0 {
		t.Fatalf("the clip opened as %+v: want a stored source with no rate of its own", info)
	}
	r := newRig(t, src, relay.Config{}, sender.Config{})
	if err := r.Send(context.Background(), frames); err != nil {
		t.Fatal(err)
	}
	r.Settle()
	r.Stop()
	st, rs := r.TX.Stats(), r.RX.Stats()
	t.Logf("sender %+v", st)
	if st.FramesCaptured != frames || st.FramesSent != frames || rs.FramesReceived != frames || rs.FramesComplete != frames {
		t.Errorf("%d frames in the file: %d captured, %d sent, %d received, %d complete; want all",
			frames, st.FramesCaptured, st.FramesSent, rs.FramesReceived, rs.FramesComplete)
	}
	if n := st.FramesSkippedCPU + st.FramesDroppedAck + st.FramesDroppedRate; n != 0 {
		t.Errorf("%d frames skipped (%d busy, %d window, %d rate): a file can wait", n, st.FramesSkippedCPU, st.FramesDroppedAck, st.FramesDroppedRate)
	}
	if st.Quality != sender.DefaultQuality || st.QualityCuts != 0 {
		t.Errorf("quality %d after %d cuts (%s), want %d throughout on a clean path", st.Quality, st.QualityCuts, st.QualityCutReason, sender.DefaultQuality)
	}
}
