package sender

import (
	"math"
	"time"
)

// rateControl turns acknowledgements into a target bit rate and the target into a
// JPEG quality, a refresh pace and, as a last resort, skipped frames. It is a plain
// state machine fed by the sender under the sender's lock; docs/CONTROL.md explains
// the algorithm and its constants.
type rateControl struct {
	maxBits   float64 // --max-bitrate; +Inf when not set
	minBits   float64
	target    float64 // bits per second the sender may send
	qMax      int     // the configured quality: never exceeded
	qMin      int
	quality   int
	refreshX  int // the refresh period is stretched by this factor under pressure (1..8)
	credit    float64
	lastTick  time.Time
	lastDown  time.Time // target last lowered
	lastUp    time.Time // target last raised
	qDown     time.Time // quality last lowered
	qUp       time.Time // quality last raised
	holdUntil time.Time // no increase before this: the last decrease has not shown yet
	capEst    float64   // receive rate when the queue last built: the path's capacity as last seen
	capAt     time.Time

	// Measurements from acknowledgements.
	owdMin      [30]owdBucket // one-way delay minimum per 2 s over the last minute: the empty-queue baseline
	recent      [8]float64    // last one-way delays, ms; their minimum ignores a lost first datagram and CPU hiccups
	nRecent     int
	queueMs     float64 // smoothed queueing delay above the baseline
	prevQ       float64
	trend       float64 // smoothed change of queueMs per ack
	overN       int     // consecutive acks that looked like overuse
	loss        float64 // smoothed datagram loss, slow: sizes the parity
	lossFast    float64 // the same, quick: says whether a queue is overflowing now
	lostAll     float64 // smoothed datagrams' worth of tiles lost per frame
	lostLate    float64 // of which in the second half of the frame's sending order
	tail        bool    // losses look like a queue overflowing under each frame
	lossyFrames int     // frames that lost data datagrams: enough of them classify the loss
	recv        [32]recvSample
	nRecv       int
	recvRate    float64 // bits per second the receiver got over the last ~500 ms

	// What the encoder produced: bytes the frames wanted at the current quality.
	demand float64 // smoothed bits per second of encoded frames, skipped ones estimated
	fps    float64 // smoothed capture rate
	lastFr time.Time
}

type owdBucket struct {
	sec int64
	min float64
}

type recvSample struct {
	atUS  int64
	bytes uint32
}

// Constants of the controller (docs/CONTROL.md, "Rate control").
const (
	overuseQueueMs      = 40.0 // queueing delay that always means too fast
	risingQueueMs       = 15.0 // queueing delay that means too fast while it is growing
	calmQueueMs         = 8.0  // below this the path is idle enough to probe upwards
	risingTrendMs       = 1.0  // smoothed growth of the queueing delay per frame that means a filling queue
	overuseFrames       = 4    // acks in a row that must look like overuse
	lossCeiling         = 0.25 // tile loss beyond what repair-by-ack can hide
	backoff             = 0.85 // on overuse, the target drops to this share of what arrived
	growthPer100ms      = 0.10 // multiplicative probing while the path is calm
	nearCapGrowthPerSec = 0.10 // probing near the last measured capacity
	recvWindowUS        = 500_000
	implausibleShare    = 0.5  // a frame's dispersion under this share of the receive rate is the receiver's, not the path's
	startBits           = 20e6 // first target; a faster path is found within a few frames (frameSent doubles the target while the path stays calm)
	defaultMinBits      = 300e3
	qualityStepDown     = 100 * time.Millisecond
	qualityStepUp       = 300 * time.Millisecond
)

func newRateControl(maxBits int64, qMax, qMin int) *rateControl {
	rc := &rateControl{maxBits: math.Inf(1), minBits: defaultMinBits, qMax: qMax, qMin: min(qMin, qMax), quality: qMax, refreshX: 1}
	if maxBits > 0 {
		rc.maxBits = float64(maxBits)
		rc.minBits = min(rc.minBits, rc.maxBits)
	}
	rc.target = min(startBits, rc.maxBits)
	return rc
}

// onAck feeds one acknowledgement: owdMs is the frame's first datagram arrival on the
// receiver's clock minus its send time on ours (the clock offset is constant, so only
// changes matter); bytes is the fragment payload the receiver got of the frame,
// sent the fragment payload sent for it and wire all it cost on the wire (headers
// and parity too).
func (rc *rateControl) onAck(now time.Time, owdMs float64, firstUS int64, bytes uint32, sent, wire int64) {
	sec := now.Unix() / 2
	b := &rc.owdMin[sec%int64(len(rc.owdMin))]
	if b.sec != sec {
		*b = owdBucket{sec: sec, min: owdMs}
	} else {
		b.min = min(b.min, owdMs)
	}
	base := math.Inf(1)
	for _, o := range rc.owdMin {
		if o.sec > sec-int64(len(rc.owdMin)) {
			base = min(base, o.min)
		}
	}
	rc.recent[rc.nRecent%len(rc.recent)] = owdMs
	rc.nRecent++
	cur := math.Inf(1)
	for i := 0; i < min(rc.nRecent, len(rc.recent)); i++ {
		cur = min(cur, rc.recent[i])
	}
	q := max(0, cur-base)
	rc.queueMs = 0.7*rc.queueMs + 0.3*q
	rc.trend = 0.8*rc.trend + 0.2*(rc.queueMs-rc.prevQ)
	rc.prevQ = rc.queueMs
	if sent > 0 {
		// Parity and repair hide losses from the tile counts, so loss is measured
		// below them: payload bytes that arrived against those sent.
		p := max(0, min(1, 1-float64(bytes)/float64(sent)))
		rc.loss = 0.9*rc.loss + 0.1*p
		rc.lossFast = 0.5*rc.lossFast + 0.5*p
	}
	if sent > 0 && wire > sent {
		// The receive rate compares with the target, which counts headers and parity.
		bytes = uint32(float64(bytes) * float64(wire) / float64(sent))
	}
	rc.recv[rc.nRecv%len(rc.recv)] = recvSample{atUS: firstUS, bytes: bytes}
	rc.nRecv++
	// Bytes that arrived after the window's first frame, over the time since it:
	// the first frame's own bytes arrived before the span began.
	var sum float64
	first, firstBytes := firstUS, float64(bytes)
	for i := 0; i < min(rc.nRecv, len(rc.recv)); i++ {
		s := rc.recv[i]
		if s.atUS > firstUS-recvWindowUS && s.atUS <= firstUS {
			sum += float64(s.bytes)
			if s.atUS < first {
				first, firstBytes = s.atUS, float64(s.bytes)
			}
		}
	}
	sum -= firstBytes
	if span := float64(firstUS - first); span > 100_000 {
		rc.recvRate = sum * 8 / (span / 1e6)
	}
	rc.adapt(now)
}

// onDispersion feeds how a whole frame spread out on the way: sent over sendUS,
// it arrived (all of it, and was decoded) over arriveUS. A path slower than the
// pacer stretches the frame, and bytes over the stretched span is the path's
// capacity (packet-train dispersion). This catches a bottleneck that big frames
// overflow before any queueing delay shows on their first datagram, which is all
// the one-way delay sees.
//
// The receiver stamps the release after it has decoded the frame, so a slow
// receiver stretches the span with no network behind it, and cutting the rate
// for it would only cost picture quality. Two tests tell the receiver's time from
// the path's. pathUS (at most arriveUS) is the longest the path can have taken:
// the next frame's first datagram arrived then, and on a FIFO path it cannot
// overtake this frame's last. And a lossless frame, with the queue calm, that
// claims a capacity under half of what the receiver has been getting over the
// last half second is implausible: a path cannot average more than it carries.
// Either way the frame is the receiver's slowness, reported by returning true,
// and the rate stays.
func (rc *rateControl) onDispersion(now time.Time, wireBytes, sendUS, arriveUS, pathUS int64, lossless bool) (receiverSlow bool) {
	stretched := func(us int64) bool { return us >= 2*sendUS+20_000 } // beyond decoding and jitter
	if wireBytes < 32<<10 || !stretched(arriveUS) {
		return false // too small to measure, or not stretched
	}
	if !stretched(pathUS) {
		return true
	}
	c := float64(wireBytes) * 8 / (float64(pathUS) / 1e6)
	if lossless && rc.queueMs < calmQueueMs && c < implausibleShare*rc.recvRate {
		return true
	}
	if c < rc.target && now.Sub(rc.lastDown) > 200*time.Millisecond {
		rc.capEst, rc.capAt = c, now
		rc.target = max(rc.minBits, backoff*c)
		rc.lastDown = now
		rc.holdUntil = now.Add(300 * time.Millisecond)
	}
	return false
}

// onDatagramLoss takes how a frame's lost data datagrams fell over its sending
// order: lost in all, lostLate of them in the second half, which holds lateShare of
// the frame's datagrams. Random loss hits both halves alike; a bottleneck queue
// that overflows while each frame streams in drops the tail, even when the first
// datagrams find the queue empty and no delay shows. Frames that keep losing their
// tail (three datagrams a frame or more, and the first half under 0.3 of its
// share) are congestion; the rest is left to parity and repair.
func (rc *rateControl) onDatagramLoss(now time.Time, lost, lostLate int, lateShare float64) {
	rc.lostAll = 0.8*rc.lostAll + 0.2*float64(lost)
	rc.lostLate = 0.8*rc.lostLate + 0.2*float64(lostLate)
	rc.tail = rc.lostLate >= 3 && rc.lostAll-rc.lostLate < 0.3*(1-lateShare)*rc.lostAll
	if lost > 0 {
		rc.lossyFrames++
	}
	if !rc.tail || now.Sub(rc.lastDown) < 300*time.Millisecond {
		return
	}
	got := rc.recvRate
	if got <= 0 || got > rc.target {
		got = rc.target
	}
	rc.capEst, rc.capAt = got, now
	rc.target = max(rc.minBits, backoff*got)
	rc.lastDown = now
	rc.holdUntil = now.Add(500 * time.Millisecond)
}

// paceBits is the pacing rate for a line rate of line: twice the target so a frame
// leaves in half a frame time, but not far above a capacity measured lately, where
// a faster burst only overflows the bottleneck's queue.
func (rc *rateControl) paceBits(now time.Time, line int64) int64 {
	p := 2 * rc.target
	if rc.quality <= rc.qMin {
		// Frames no longer fit the path even at the lowest quality: the path is the
		// bottleneck, and bursting above its rate only fills its queue.
		p = 1.1 * rc.target
	}
	if rc.capEst > 0 && now.Sub(rc.capAt) < 10*time.Second {
		p = min(p, max(rc.target, 1.1*rc.capEst))
	}
	return min(line, max(int64(p), 1_000_000))
}

// adapt moves the target after a new measurement.
func (rc *rateControl) adapt(now time.Time) {
	if rc.queueMs > overuseQueueMs || (rc.queueMs > risingQueueMs && rc.trend > risingTrendMs) {
		rc.overN++
	} else {
		rc.overN = 0
	}
	// Several frames in a row: a late frame or two is as likely a busy CPU (ours or
	// the receiver's) as a queue in the network.
	overuse := rc.overN >= overuseFrames
	switch {
	case overuse:
		// Down to what actually arrived, less a margin to drain the queue, then wait
		// for the queue to drain before judging again: a queue a second deep takes
		// that long to show any effect.
		wait := min(time.Second, max(200*time.Millisecond, time.Duration(2*rc.queueMs)*time.Millisecond))
		if now.Sub(rc.lastDown) > wait {
			got := rc.recvRate
			if got <= 0 {
				got = rc.target
			}
			rc.capEst, rc.capAt = got, now
			if rc.trend >= 0 || rc.target > got {
				// Still growing (or sending more than arrives): below what arrives.
				rc.target = max(rc.minBits, min(rc.target, got)*backoff)
			}
			rc.lastDown = now
		}
		rc.holdUntil = now.Add(300 * time.Millisecond)
	case rc.loss > lossCeiling && now.Sub(rc.lastDown) > 200*time.Millisecond:
		rc.target = max(rc.minBits, rc.target*0.9)
		rc.lastDown = now
		rc.holdUntil = now.Add(500 * time.Millisecond)
	case !overuse && rc.queueMs < calmQueueMs && rc.loss <= lossCeiling && now.After(rc.holdUntil):
		dt := now.Sub(rc.lastUp)
		if rc.lastUp.IsZero() || dt > time.Second {
			dt = 100 * time.Millisecond
		}
		growth := growthPer100ms * dt.Seconds() * 10
		if rc.capEst > 0 && now.Sub(rc.capAt) < 10*time.Second && rc.target > 0.7*rc.capEst && rc.target < 1.3*rc.capEst {
			// Near the rate where the queue last built: creep, do not leap.
			growth = nearCapGrowthPerSec * dt.Seconds()
		}
		grown := rc.target * (1 + growth)
		// Probing beyond what is being used proves nothing: a static scene would
		// walk the target to the cap and the next busy scene would flood the path.
		ceiling := max(2*rc.recvRate, 2*rc.demand, startBits)
		rc.target = min(rc.maxBits, max(rc.target, min(grown, ceiling)))
		rc.lastUp = now
	}
}

// randomLoss reports whether enough lossy frames have been seen to call the loss
// random rather than a queue's tail: only then does parity help.
func (rc *rateControl) randomLoss() bool {
	// Beyond a quarter of the datagrams parity costs more than half the rate, and
	// loss that high is rarely random: a path that full needs a lower rate.
	return rc.lossyFrames >= 5 && !rc.tail && rc.loss < 0.25
}

// openLoop is the rate while no acknowledgements arrive: three quarters of the last
// target, since nothing tells the sender whether the path is still there.
func (rc *rateControl) openLoop() (targetBits float64) {
	rc.target = max(rc.minBits, min(rc.target, 0.75*rc.target))
	return rc.target
}

// frameBudget decides for a captured frame whether it may be sent: the credit is a
// token bucket filled at the target rate and holding at most two frames' worth.
// Skipping is the last resort, reached when even the lowest quality does not fit.
func (rc *rateControl) frameBudget(now time.Time) bool {
	if !rc.lastFr.IsZero() {
		dt := now.Sub(rc.lastFr).Seconds()
		if dt > 0 && dt < 1 {
			rc.fps = 0.9*rc.fps + 0.1/dt
		}
	}
	rc.lastFr = now
	if !rc.lastTick.IsZero() {
		fill := now.Sub(rc.lastTick).Seconds() * rc.target / 8
		capacity := 2 * rc.target / 8 / max(rc.fps, 1)
		rc.credit = min(capacity, rc.credit+fill)
	}
	rc.lastTick = now
	return rc.credit >= 0
}

// frameSent charges a frame's bytes and adapts the quality to how the frames fit:
// demand is the rate the frames would need at this quality (at least 1.2 times the
// target when frames had to be skipped for lack of credit). wanted is what the
// frame would have cost with the tiles fit left for later: a trimmed frame is no
// sign that the quality fits.
func (rc *rateControl) frameSent(now time.Time, bytes, wanted int, skippedBefore int) {
	rc.credit -= float64(bytes)
	want := float64(max(bytes, wanted)) * 8 * max(rc.fps, 1)
	if skippedBefore > 0 {
		want = max(want, 1.2*rc.target)
	}
	rc.demand = 0.8*rc.demand + 0.2*want
	if rc.demand > rc.target && rc.target < rc.maxBits && rc.queueMs < calmQueueMs &&
		now.Sub(rc.lastDown) > 5*time.Second && !(rc.capEst > 0 && now.Sub(rc.capAt) < 10*time.Second) {
		// The frames want more and the path has shown no limit: ask the path before
		// giving up picture quality. Overuse detection corrects a wrong guess within
		// a few frames.
		rc.target = min(rc.maxBits, rc.demand, 2*rc.target)
	}
	ratio := rc.demand / rc.target
	step := 0
	switch {
	case ratio > 1.5:
		step = -8
	case ratio > 1.1:
		step = -4
	case ratio > 0.95:
		step = -2
	case ratio < 0.3:
		step = 6
	case ratio < 0.55:
		step = 3
	case ratio < 0.7:
		step = 1
	}
	switch {
	case step < 0 && now.Sub(rc.qDown) >= qualityStepDown:
		if rc.quality == rc.qMin {
			rc.refreshX = min(8, rc.refreshX*2)
		}
		rc.quality = max(rc.qMin, rc.quality+step)
		rc.qDown = now
	case step > 0 && now.Sub(rc.qUp) >= qualityStepUp && now.Sub(rc.qDown) >= qualityStepUp:
		if rc.refreshX > 1 {
			rc.refreshX /= 2
		} else {
			rc.quality = min(rc.qMax, rc.quality+step)
		}
		rc.qUp = now
	}
}

// budget is what the chooser needs of rate control for the next frame.
func (rc *rateControl) budget() budget {
	return budget{refreshX: rc.refreshX, lowest: rc.quality <= rc.qMin, targetBits: rc.target}
}
