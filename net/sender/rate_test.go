package sender

import (
	"testing"
	"time"
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
