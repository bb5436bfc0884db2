package sender_test

import (
	"context"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
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

// shown is what the display saw of one frame.
type shown struct {
	ready    time.Time
	psnr     float64
	complete bool
	latency  time.Duration
}

// rig is a sender, an impairing relay and a receiver on loopback, with a display
// that compares every shown frame with the source frame it was captured from.
type rig struct {
	t     *testing.T
	rx    *receiver.Receiver
	tx    *sender.Sender
	relay *relay.Relay
	src   source

	mu    sync.Mutex
	seqs  map[int64]uint64
	shown []shown

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newRig(t *testing.T, src source, imp relay.Config, cfg sender.Config) *rig {
	t.Helper()
	rcfg := receiver.Config{Listen: "127.0.0.1:0", Sockets: 2}
	if raceEnabled {
		rcfg.Deadline = time.Second
	}
	rx, err := receiver.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	imp.Listen, imp.Forward = "127.0.0.1:0", rx.Addr()
	if imp.Seed == 0 {
		imp.Seed = 7
	}
	rl, err := relay.Start(imp, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.To = rl.Addr().String()
	tx, err := sender.New(cfg)
	if err != nil {
		rl.Close()
		t.Fatal(err)
	}
	return &rig{t: t, rx: rx, tx: tx, relay: rl, src: src, seqs: make(map[int64]uint64)}
}

func (r *rig) Info() capture.Info { return r.src.Info() }
func (r *rig) Close() error       { return nil }

func (r *rig) Next(ctx context.Context) (*capture.Frame, error) {
	f, err := r.src.Next(ctx)
	if err == nil {
		r.mu.Lock()
		r.seqs[f.Time.UnixMicro()] = f.Seq
		r.mu.Unlock()
	}
	return f, err
}

// start runs all three until stop.
func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(3)
	go func() { defer r.wg.Done(); r.rx.Run(ctx) }()
	go func() {
		defer r.wg.Done()
		if err := r.tx.Run(ctx, r, 0); err != nil {
			r.t.Error(err)
		}
	}()
	go func() {
		defer r.wg.Done()
		b := r.src.Info()
		ref := image.NewYCbCr(image.Rect(0, 0, b.Width, b.Height), image.YCbCrSubsampleRatio420)
		for {
			f, err := r.rx.Next(ctx)
			if err != nil {
				return
			}
			r.mu.Lock()
			seq, ok := r.seqs[f.CaptureUS]
			r.mu.Unlock()
			s := shown{ready: f.Ready, complete: f.Complete(), latency: f.Latency()}
			if ok {
				r.src.Draw(ref, seq)
				s.psnr = tile.PSNR(ref, f.Image)
			} else {
				r.t.Errorf("frame %d carries capture time %d, which no captured frame had", f.Seq, f.CaptureUS)
			}
			f.Release()
			r.mu.Lock()
			r.shown = append(r.shown, s)
			r.mu.Unlock()
		}
	}()
}

func (r *rig) stop() {
	r.cancel()
	r.wg.Wait()
	if r.relay != nil {
		r.relay.Close()
	}
}

// frames returns what was shown so far.
func (r *rig) frames() []shown {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]shown(nil), r.shown...)
}

// slow scales durations for the race detector, which makes encoding ten times slower.
func slow(d time.Duration) time.Duration {
	if raceEnabled {
		return 2 * d
	}
	return d
}

func pattern(t *testing.T, w, h int, fps float64) *capture.Pattern {
	if raceEnabled { // a quarter of the pixels: the race detector slows encoding tenfold
		w, h = w/2, h/2
	}
	p, err := capture.NewPattern(w, h, fps)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStaticSceneCostsAFractionOfFullFrames(t *testing.T) {
	run := func(threshold int) (sender.Stats, []shown) {
		p, err := capture.NewPattern(640, 384, 30) // full size even under race: 9 tiles, one of them the keepalive
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t, still{p}, relay.Config{}, sender.Config{ChangeThreshold: threshold})
		r.start()
		time.Sleep(slow(time.Second))
		r.stop()
		return r.tx.Stats(), r.frames()
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
	if cr.FramesSent >= 20 && perCR > perFull/4 {
		t.Errorf("a still picture costs %.0f bytes a frame, full frames %.0f: want under a quarter", perCR, perFull)
	}
	if full.TileShare != 1 {
		t.Errorf("change threshold -1 sent %.2f of the tiles, want all", full.TileShare)
	}
	if n := len(shownCR); n < 5 || shownCR[n-1].psnr < 35 {
		t.Fatalf("%d frames shown, last PSNR %.1f dB", n, shownCR[max(0, n-1)].psnr)
	}
}

// With a refresh period far longer than the test, only repair by acknowledgement can
// bring back tiles lost on the way: the picture must heal anyway.
func TestRepairHealsAStillPictureUnderLoss(t *testing.T) {
	r := newRig(t, still{pattern(t, 640, 384, 30)}, relay.Config{Loss: 0.2}, sender.Config{Refresh: time.Hour})
	r.start()
	time.Sleep(slow(1500 * time.Millisecond))
	r.stop()
	st := r.tx.Stats()
	t.Logf("sender %+v", st)
	fr := r.frames()
	if len(fr) < 10 {
		t.Fatalf("only %d frames shown", len(fr))
	}
	if last := fr[len(fr)-1]; last.psnr < 35 {
		t.Errorf("last frame shown has PSNR %.1f dB: lost tiles were not repaired", last.psnr)
	}
	if st.TilesRepaired == 0 || st.TilesLost == 0 {
		t.Errorf("20%% loss and no repair: %+v", st)
	}
	if st.TilesRepaired > 3*st.TilesLost {
		t.Errorf("%d tiles resent for %d lost: repair should send each loss about once", st.TilesRepaired, st.TilesLost)
	}
}

func TestPictureHealsAfterABlackout(t *testing.T) {
	r := newRig(t, pattern(t, 640, 384, 30), relay.Config{}, sender.Config{})
	r.start()
	time.Sleep(slow(500 * time.Millisecond))
	r.relay.BlackoutFor(time.Second)
	end := time.Now().Add(time.Second)
	time.Sleep(slow(time.Second) + time.Second)
	r.stop()
	var healed time.Time
	for _, s := range r.frames() {
		if s.ready.After(end) && s.psnr >= 30 && healed.IsZero() {
			healed = s.ready
		}
	}
	t.Logf("sender %+v", r.tx.Stats())
	if healed.IsZero() {
		t.Fatal("the picture never healed after the blackout")
	}
	limit := slow(time.Second)
	if d := healed.Sub(end); d > limit {
		t.Errorf("healed %v after the blackout, want under %v", d, limit)
	}
}

func TestRateCapKeepsLatencyBounded(t *testing.T) {
	if raceEnabled {
		t.Log("under the race detector the encoder, not the cap, limits the rate; checking only that frames flow")
	}
	// 640x384 pattern at 30 fps needs about 12 Mbit/s at q75: a 3 Mbit/s cap must
	// make the sender give up quality (and frames) instead of building a queue.
	r := newRig(t, pattern(t, 640, 384, 30), relay.Config{RateBits: 3e6, RateLatency: 200 * time.Millisecond}, sender.Config{})
	r.start()
	time.Sleep(slow(3 * time.Second))
	st := r.tx.Stats()
	r.stop()
	fr := r.frames()
	t.Logf("sender %+v", st)
	t.Logf("relay %+v", r.relay.Stats())
	if len(fr) < 20 {
		t.Fatalf("only %d frames shown", len(fr))
	}
	var worst time.Duration
	for _, s := range fr[len(fr)*3/5:] { // after the start's overshoot has drained
		worst = max(worst, s.latency)
	}
	if !raceEnabled && worst > 200*time.Millisecond {
		t.Errorf("latency reached %v in the last 40%% of the run: a standing queue", worst)
	}
	if !raceEnabled && (st.Quality >= 75 || st.TargetMbps > 3.2) {
		t.Errorf("quality %d, target %.1f Mbit/s under a 3 Mbit/s cap", st.Quality, st.TargetMbps)
	}
}

// The control link goes through the relay too: with no TCP there, the sender never
// gets an acknowledgement and must stream open loop at a safe rate.
func TestNoControlLinkStreamsOpenLoop(t *testing.T) {
	r := newRig(t, pattern(t, 320, 256, 30), relay.Config{NoTCP: true}, sender.Config{})
	r.start()
	time.Sleep(slow(time.Second))
	st := r.tx.Stats()
	r.stop()
	if !st.OpenLoop || st.ControlConnected {
		t.Errorf("open loop %v, connected %v", st.OpenLoop, st.ControlConnected)
	}
	fr := r.frames()
	if len(fr) < 10 {
		t.Fatalf("only %d frames shown without a control link", len(fr))
	}
	if p := fr[len(fr)-1].psnr; p < 30 {
		t.Errorf("last frame PSNR %.1f dB", p)
	}
}

// Parity FEC against repair alone on a moving picture: with parity nearly every
// frame is whole when shown, without it nearly every frame misses a tile somewhere.
// Adaptive parity must find the loss random and protect frames by itself.
func TestParityRecoversLossesWithinTheFrame(t *testing.T) {
	run := func(fec int) (complete, frames, recovered uint64, pct float64) {
		r := newRig(t, pattern(t, 640, 384, 30), relay.Config{Loss: 0.05}, sender.Config{FEC: fec})
		r.start()
		time.Sleep(slow(1500 * time.Millisecond))
		st := r.tx.Stats()
		r.stop()
		rs := r.rx.Stats()
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
