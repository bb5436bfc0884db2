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
		rc.frameSent(now, b, b, skipped, 0)
		skipped = 0
		sent++
		p.backlog += float64(b) * 8
		qMs := p.backlog / p.capBits * 1000
		if now.Sub(start) > d-time.Second {
			worst = max(worst, qMs)
		}
		// The frame's first byte arrives after the queue ahead of it drains.
		arrive := now.Add(time.Duration((p.backlog - float64(b)*8) / p.capBits * float64(time.Second)))
		rc.onAck(now, 5+qMs, arrive.UnixMicro(), now.UnixMicro(), uint32(float64(b)*(1-p.loss)), int64(b), int64(b))
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
		// The target probes up to a tenth over the capacity before the queue it
		// builds shows, then falls under it again: a sawtooth around 5.
		if rc.target > 5.6e6 || rc.target < 2e6 {
			t.Errorf("target %.1f Mbit/s, want 2..5.6", rc.target/1e6)
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
	t.Run("big frames on a fast path double the target from the first frame", func(t *testing.T) {
		// A 1080p photograph at q75 is 450 KB, 108 Mbit/s at 30 fps: the probe
		// doubles the target each calm frame up to the demand, so three frames
		// reach 80 Mbit/s (the demand averaged from nothing took five).
		rc := newRateControl(0, 75, 20)
		rc.setSource(30, true)
		now := time.Unix(1000, 0)
		for i := 0; i < 3; i++ {
			now = now.Add(time.Second / 30)
			rc.frameSent(now, 450_000, 450_000, 0, 10*time.Millisecond)
		}
		if rc.target < 80e6 {
			t.Errorf("target %.1f Mbit/s after three 108 Mbit/s frames, want at least 80", rc.target/1e6)
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

// busyCPU drives rc the way the sender's pipeline does with a live source of fps
// frames a second and encoders that take encode per frame: a frame that comes
// while the encoders are busy is skipped (the CPU's limit), the rest are encoded
// and sent. The path carries everything at once, with no loss; late(i) is how many
// ms after its true arrival the receiver's busy CPU stamps frame i's first datagram.
func busyCPU(rc *rateControl, start time.Time, d time.Duration, fps float64, encode time.Duration, late func(i int) float64, frameBytes func(q int) int) (offered int) {
	now, free := start, start
	skipped := 0
	for i := 0; now.Sub(start) < d; i++ {
		now = now.Add(time.Duration(float64(time.Second) / fps))
		offered++
		if now.Before(free) {
			rc.skipCPU(now)
			continue
		}
		if !rc.frameBudget(now) {
			skipped++
			continue
		}
		b := frameBytes(rc.quality)
		free = now.Add(encode)
		sent := free // the first datagram leaves once the first tiles are encoded
		rc.frameSent(free, b, b, skipped, encode)
		skipped = 0
		owd := 5 + late(i)
		arrive := sent.Add(time.Duration(owd * float64(time.Millisecond)))
		rc.onAck(free, owd, arrive.UnixMicro(), sent.UnixMicro(), uint32(b), int64(b), int64(b))
	}
	return offered
}

// A busy CPU, the sender's or the receiver's, costs frames, never quality: only the
// path's own signals may lower the target, and so the quality.
func TestABusyCPUIsNotAFullPath(t *testing.T) {
	busy := func(q int) int { return 200_000 * q / 75 } // about 48 Mbit/s at 30 fps, q75
	cases := []struct {
		name   string
		encode time.Duration
		late   func(i int) float64
		// wantCPUSkips: frames skipped because the encoders were busy; wantLate:
		// acknowledgements read as a late CPU rather than a queue.
		wantCPUSkips, wantLate bool
	}{
		{name: "encoding three frame intervals long keeps the quality and counts the skips as the CPU's",
			encode: 100 * time.Millisecond, late: func(int) float64 { return 0 }, wantCPUSkips: true},
		{name: "encoding just over the frame interval keeps the quality too",
			encode: 40 * time.Millisecond, late: func(int) float64 { return 0 }, wantCPUSkips: true},
		{name: "arrivals a busy receiver stamps ever later, while every byte arrives at the rate sent, cut nothing",
			encode: 20 * time.Millisecond, wantLate: true,
			late: func(i int) float64 {
				// Up to 90 ms over three seconds, then staying there, with jitter.
				return min(90, float64(i)) + float64((i*37)%11)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newRateControl(0, 75, 20)
			rc.setSource(30, false)
			offered := busyCPU(rc, time.Unix(1000, 0), 10*time.Second, 30, c.encode, c.late, busy)
			if rc.quality != 75 || rc.qualityCuts != 0 {
				t.Errorf("quality %d after %d cuts (reason %v), want 75 throughout", rc.quality, rc.qualityCuts, rc.qualityReason)
			}
			for r, n := range rc.cuts {
				if n > 0 {
					t.Errorf("target cut %d times for %v with nothing on the path", n, cutReason(r))
				}
			}
			if c.wantCPUSkips && (rc.cpuSkips == 0 || rc.cpuSkips >= uint64(offered)) {
				t.Errorf("%d of %d frames skipped for the CPU, want some and not all", rc.cpuSkips, offered)
			}
			if c.wantLate && rc.lateNotPath == 0 {
				t.Error("late arrivals never recognised as a CPU's lateness")
			}
		})
	}
}

// The path's own signals still cut the quality, and the stats name which.
func TestPathSignalsCutQuality(t *testing.T) {
	busy := func(q int) int { return 200_000 * q / 75 }
	cases := []struct {
		name string
		path path
		want cutReason
	}{
		{name: "a queue building at a 5 Mbit/s bottleneck cuts quality, for the queue", path: path{capBits: 5e6}, want: cutQueue},
		{name: "loss beyond what repair can hide cuts quality, for the loss", path: path{capBits: 1e9, loss: 0.5}, want: cutLoss},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newRateControl(0, 75, 20)
			rc.setSource(30, false)
			p := c.path
			p.run(rc, time.Unix(1000, 0), 10*time.Second, busy)
			if rc.quality >= 75 || rc.qualityCuts == 0 {
				t.Fatalf("quality %d after %d cuts", rc.quality, rc.qualityCuts)
			}
			if rc.qualityReason != c.want || rc.cuts[c.want] == 0 {
				t.Errorf("quality cut for %v (target cuts %v), want %v", rc.qualityReason, rc.cuts, c.want)
			}
		})
	}
	t.Run("a source that waits and has no rate of its own keeps its quality: the path sets its pace", func(t *testing.T) {
		rc := newRateControl(0, 75, 20)
		rc.setSource(0, true)
		p := &path{capBits: 5e6}
		_, _, share := p.run(rc, time.Unix(1000, 0), 10*time.Second, busy)
		if rc.quality != 75 {
			t.Errorf("quality %d, want 75", rc.quality)
		}
		if rc.target > 5.6e6 || share > 0.5 {
			t.Errorf("target %.1f Mbit/s, %.0f%% of frames sent: the 5 Mbit/s path should set the pace", rc.target/1e6, 100*share)
		}
	})
}

// Tail drops cut the target only when frame after frame loses its tail: a burst in
// one frame is as likely a receiver whose socket overflowed while its CPU was busy.
func TestTailDropsMustRepeat(t *testing.T) {
	type loss struct{ lost, late int }
	cases := []struct {
		name   string
		frames []loss
		cut    bool
	}{
		{name: "one frame losing its tail in a burst cuts nothing",
			frames: []loss{{15, 15}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}},
		{name: "tails lost in every other frame cut nothing",
			frames: []loss{{15, 15}, {0, 0}, {15, 15}, {0, 0}, {15, 15}, {0, 0}, {15, 15}, {0, 0}}},
		{name: "random loss over both halves cuts nothing",
			frames: []loss{{6, 3}, {6, 3}, {6, 3}, {6, 3}, {6, 3}, {6, 3}, {6, 3}, {6, 3}}},
		{name: "frame after frame losing its tail cuts the target, for tail drops",
			frames: []loss{{6, 6}, {6, 6}, {6, 6}, {6, 6}, {6, 6}}, cut: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newRateControl(0, 75, 20)
			rc.recvRate = 10e6
			now := time.Unix(1000, 0)
			for _, f := range c.frames {
				now = now.Add(time.Second / 30)
				rc.onDatagramLoss(now, f.lost, f.late, 0.5)
			}
			if cut := rc.cuts[cutTail] > 0; cut != c.cut || cut != (rc.target < startBits) {
				t.Errorf("tail cuts %d, target %.1f Mbit/s; want a cut: %v", rc.cuts[cutTail], rc.target/1e6, c.cut)
			}
		})
	}
}

// A receiver that drops datagrams itself gets fewer frames at the same quality,
// and all of them again once it stops dropping.
func TestAReceiverThatDropsDatagramsItselfGetsFewerFrames(t *testing.T) {
	rc := newRateControl(0, 75, 20)
	rc.setSource(30, false)
	p := &path{capBits: 1e9}
	now := time.Unix(1000, 0)
	sent, offered := 0, 0
	// 30 fps for 4 s; the receiver drops a tenth of each frame's 140 datagrams for
	// the first 2 s, the ledger having taken them out of the path's loss.
	step := func(drop bool) {
		now = now.Add(time.Second / 30)
		offered++
		if rc.receiverSkip(now) || !rc.frameBudget(now) {
			return
		}
		b := 200_000
		rc.frameSent(now, b, b, 0, 5*time.Millisecond)
		sent++
		if drop {
			rc.receiverDropped(now, 14)
		}
		rc.onAck(now, 5, now.UnixMicro(), now.UnixMicro(), uint32(b), int64(b), int64(b))
		p.backlog = 0
	}
	for range 60 {
		step(true)
	}
	t.Logf("after the drops: cap %.1f fps, %d skipped, %d of %d sent", rc.rxFPS, rc.rxSkips, sent, offered)
	if rc.rxFPS == 0 || rc.rxFPS >= 30 || rc.rxSkips == 0 || sent >= offered {
		t.Fatalf("after 2 s of receiver drops: frame rate cap %.1f, %d skipped, %d of %d sent; want fewer frames", rc.rxFPS, rc.rxSkips, sent, offered)
	}
	if rc.quality != 75 || rc.qualityCuts != 0 {
		t.Fatalf("quality %d after %d cuts, want 75: the receiver's drops are no path's", rc.quality, rc.qualityCuts)
	}
	for r, n := range rc.cuts {
		if n > 0 {
			t.Fatalf("target cut %d times for %v", n, cutReason(r))
		}
	}
	for range 150 { // 5 s without drops
		step(false)
	}
	if rc.rxFPS != 0 {
		t.Fatalf("frame rate still capped at %.1f after 5 s without receiver drops", rc.rxFPS)
	}
	skips := rc.rxSkips
	for range 30 {
		step(false)
	}
	if rc.rxSkips != skips || rc.quality != 75 {
		t.Fatalf("%d more frames skipped, quality %d, once the receiver kept up; want none, 75", rc.rxSkips-skips, rc.quality)
	}
}
