package sender

import (
	"slices"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// path simulates a bottleneck of capBits with a FIFO in front: it turns the bytes the
// controller sends each frame into one-way delays and received bytes, the way acks
// report them.
type path struct {
	capBits float64
	backlog float64 // bits queued
	loss    float64 // random tile loss
}

// run drives rc for d at 30 fps with frames of frameBytes(q) and returns the target,
// the worst queueing delay in the last second, and the share of frames sent.
func (p *path) run(rc *rateControl, start time.Time, d time.Duration, frameBytes func(q int) int) (time.Time, float64, float64) {
	const fps = 30
	now := start
	sent, total, skipped := 0, 0, 0
	worst := 0.0
	for now.Sub(start) < d {
		now = now.Add(time.Second / fps)
		p.backlog = max(0, p.backlog-p.capBits/fps)
		total++
		if !rc.frameBudget(now) {
			skipped++
			continue
		}
		b := frameBytes(rc.quality)
		rc.frameSent(now, b, b, skipped)
		skipped = 0
		sent++
		p.backlog += float64(b) * 8
		qMs := p.backlog / p.capBits * 1000
		if now.Sub(start) > d-time.Second {
			worst = max(worst, qMs)
		}
		// The frame's first byte arrives after the queue ahead of it drains.
		arrive := now.Add(time.Duration((p.backlog - float64(b)*8) / p.capBits * float64(time.Second)))
		rc.onAck(now, 5+qMs, arrive.UnixMicro(), uint32(float64(b)*(1-p.loss)), int64(b), int64(b))
	}
	return now, worst, float64(sent) / float64(total)
}

func TestRateControl(t *testing.T) {
	// Frame size of a busy 1080p scene: about 1.5 Mbit at q75, shrinking with quality.
	busy := func(q int) int { return 200_000 * q / 75 }
	t.Run("a 5 Mbit/s bottleneck brings the target under it and keeps the queue short", func(t *testing.T) {
		rc := newRateControl(0, 75, 20)
		p := &path{capBits: 5e6}
		_, worst, _ := p.run(rc, time.Unix(1000, 0), 20*time.Second, busy)
		if rc.target > 5e6 || rc.target < 2e6 {
			t.Errorf("target %.1f Mbit/s, want 2..5", rc.target/1e6)
		}
		if worst > 250 { // one q20 frame alone takes 85 ms to cross 5 Mbit/s
			t.Errorf("queueing delay reached %.0f ms in the last second", worst)
		}
		if rc.quality != rc.qMin {
			t.Errorf("quality %d, want the floor %d: q20 frames still need 10 Mbit/s", rc.quality, rc.qMin)
		}
	})
	t.Run("a fast path lets quality stay at the top", func(t *testing.T) {
		rc := newRateControl(0, 75, 20)
		p := &path{capBits: 1e9}
		_, _, share := p.run(rc, time.Unix(1000, 0), 10*time.Second, busy)
		if rc.quality != 75 || share < 0.95 { // a few frames skipped while the target climbs from its start
			t.Errorf("quality %d, %.0f%% of frames sent; want 75 and all", rc.quality, 100*share)
		}
	})
	t.Run("max bitrate caps the target on a fast path", func(t *testing.T) {
		rc := newRateControl(10e6, 75, 20)
		p := &path{capBits: 1e9}
		p.run(rc, time.Unix(1000, 0), 10*time.Second, busy)
		if rc.target > 10e6 {
			t.Errorf("target %.1f Mbit/s above the 10 Mbit/s cap", rc.target/1e6)
		}
		if rc.quality >= 75 {
			t.Errorf("quality %d: 45 Mbit/s of frames cannot fit 10 Mbit/s at the top quality", rc.quality)
		}
	})
	t.Run("random loss without queueing does not cut the rate", func(t *testing.T) {
		rc := newRateControl(0, 75, 20)
		p := &path{capBits: 1e9, loss: 0.2}
		p.run(rc, time.Unix(1000, 0), 10*time.Second, busy)
		if rc.target < 50e6 {
			t.Errorf("target %.1f Mbit/s after 20%% random loss", rc.target/1e6)
		}
	})
	t.Run("loss beyond what repair can hide cuts the rate", func(t *testing.T) {
		rc := newRateControl(0, 75, 20)
		p := &path{capBits: 1e9, loss: 0.5}
		p.run(rc, time.Unix(1000, 0), 5*time.Second, busy)
		if rc.target > 20e6 {
			t.Errorf("target %.1f Mbit/s after 50%% loss", rc.target/1e6)
		}
	})
	t.Run("when the bottleneck goes away quality and rate come back", func(t *testing.T) {
		rc := newRateControl(0, 75, 20)
		p := &path{capBits: 5e6}
		now, _, _ := p.run(rc, time.Unix(1000, 0), 10*time.Second, busy)
		p.capBits, p.backlog = 1e9, 0
		p.run(rc, now, 15*time.Second, busy)
		if rc.quality < 70 || rc.target < 40e6 {
			t.Errorf("quality %d, target %.1f Mbit/s after the path cleared", rc.quality, rc.target/1e6)
		}
	})
	t.Run("a static scene does not walk the target up without evidence", func(t *testing.T) {
		rc := newRateControl(0, 75, 20)
		p := &path{capBits: 1e9}
		p.run(rc, time.Unix(1000, 0), 20*time.Second, func(int) int { return 2000 })
		if rc.target > startBits {
			t.Errorf("target %.1f Mbit/s with 0.5 Mbit/s of traffic", rc.target/1e6)
		}
	})
}

func TestAdaptiveParityHysteresis(t *testing.T) {
	s := &Sender{rc: newRateControl(0, 75, 20)}
	s.rc.lossyFrames = 5
	steps := []struct {
		loss float64
		tail bool
		want bool
	}{
		{0.002, false, false},  // below the threshold: no parity yet
		{0.006, false, true},   // on
		{0.003, false, true},   // a lull at 1% loss: stays on
		{0.0005, false, false}, // the path is clean again: off
		{0.003, false, false},  // and not back on below the threshold
		{0.02, false, true},
		{0.02, true, false}, // a queue's tail drops: parity would feed the queue
	}
	for i, st := range steps {
		s.rc.loss, s.rc.tail = st.loss, st.tail
		if got := s.protect(); got != st.want {
			t.Fatalf("step %d (loss %.4f, tail %v): parity %v, want %v", i, st.loss, st.tail, got, st.want)
		}
	}
	s.cfg.FEC = -1
	s.rc.loss, s.rc.tail = 0.05, false
	if s.protect() {
		t.Fatal("--fec -1 sent parity")
	}
}

// fit keeps what crosses the path in frameSpan: repairs first, then changed tiles
// from where the last trimmed frame stopped, and never nothing.
func TestFitTrimsAFrameToTheSpan(t *testing.T) {
	s := &Sender{rc: newRateControl(0, 75, 20), cfg: Config{FrameSpan: DefaultFrameSpan}}
	g, err := tile.NewGrid(2048, 128, 256, 128, wire.Sub420) // 8 tiles in a row
	if err != nil {
		t.Fatal(err)
	}
	s.grid = g
	s.tiles = make([]tileState, 8)
	for i := range s.tiles {
		s.tiles[i].est = 10_000
	}
	s.rc.target = 30_500 * 8 / DefaultFrameSpan.Seconds() // 30.5 KB in a frame span: three tiles
	all := func() []tileJob {
		jobs := []tileJob{{tile: 6, flag: wire.FlagRefresh}}
		for i := range 6 {
			jobs = append(jobs, tileJob{tile: i})
		}
		return append(jobs, tileJob{tile: 7, flag: wire.FlagRepair})
	}
	tiles := func(jobs []tileJob, deferred int) []int {
		var ts []int
		for _, j := range jobs {
			ts = append(ts, j.tile)
		}
		if want := (8 - len(jobs)) * 10_000; deferred != want {
			t.Fatalf("%d bytes deferred with %d of 8 tiles sent, want %d", deferred, len(jobs), want)
		}
		return ts
	}
	s.rc.quality = 50
	if _, deferred := s.fit(all()); deferred != 0 {
		t.Fatal("trimmed a frame while the quality could still go down")
	}
	s.rc.quality = s.rc.qMin
	if got := tiles(s.fit(all())); !slices.Equal(got, []int{7, 0, 1}) {
		t.Fatalf("first frame sends %v, want the repair then tiles 0 and 1", got)
	}
	if got := tiles(s.fit(all())); !slices.Equal(got, []int{7, 2, 3}) {
		t.Fatalf("second frame sends %v, want the repair then the next changed tiles", got)
	}
	s.rc.target = 100e6
	if got := tiles(s.fit(all())); len(got) != 8 {
		t.Fatalf("a fast path trimmed the frame to %v", got)
	}
	s.rc.target = 1e5 // not even one tile fits: one goes anyway
	if got := tiles(s.fit(all())); len(got) != 1 || got[0] != 7 {
		t.Fatalf("a path too slow for one tile sends %v, want the repair alone", got)
	}
	if n := s.deferredN.Load(); n != 5+5+7 {
		t.Fatalf("tiles deferred %d", n)
	}
}

// The pacer bursts at twice the target while quality can still give, and stays
// near the target once frames do not fit even at the lowest quality.
func TestPacingAtTheLowestQuality(t *testing.T) {
	rc := newRateControl(0, 75, 20)
	rc.target = 5e6
	now := time.Now()
	if p := rc.paceBits(now, 1e9); p != 10_000_000 {
		t.Fatalf("pacing %d bit/s at quality %d, want twice the target", p, rc.quality)
	}
	rc.quality = rc.qMin
	if p := rc.paceBits(now, 1e9); p != 5_500_000 {
		t.Fatalf("pacing %d bit/s at the lowest quality, want 1.1 times the target", p)
	}
}
