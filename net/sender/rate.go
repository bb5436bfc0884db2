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
	tailRun     int     // consecutive frames that lost data datagrams from their second half
	lossyFrames int     // frames that lost data datagrams: enough of them classify the loss
	recv        [32]recvSample
	nRecv       int
	recvRate    float64 // bits per second the receiver got over the last ~500 ms

	sendRate  float64   // bits per second sent, over the same frames as recvRate
	pathCutAt time.Time // the target last cut on the path's own signal

	// What the encoder produced: bytes the frames wanted at the current quality.
	demand   float64 // smoothed bits per second of encoded frames, skipped ones estimated
	fps      float64 // smoothed capture rate: frames offered, including those the busy encoders skipped
	lastFr   time.Time
	encodeMs float64 // smoothed encoding time per frame, pacing excluded: the CPU's own frame interval

	// How the source's frames are meant to go (setSource).
	srcFPS float64 // the source's nominal rate, 0 for none
	waits  bool    // the source waits for the sender (a file): frames wait for the path, never skipped

	// What the controller did and why, for the stats: the path's doing kept apart
	// from the CPU's.
	cuts          [numCutReasons]uint64 // target decreases, by the path signal behind each
	lastCut       cutReason             // the signal behind the newest decrease
	qualityCuts   uint64                // quality steps down
	qualityReason cutReason             // why the newest quality step down: what held the target low
	cpuSkips      uint64                // frames skipped because the encoders were still busy with the previous one
	lateNotPath   uint64                // acks whose delay looked like a queue while the path carried all at the rate sent
	rxExplained   uint64                // lost datagrams the receiver said it dropped itself: not the path's
	rxSkips       uint64                // frames skipped to spare a receiver that drops datagrams itself

	// A receiver that drops datagrams itself (its socket buffers overflow while its
	// CPU is busy, docs/PROTOCOL.md §5.4) gets fewer frames, not worse ones: rxFPS
	// caps the frame rate (0: no cap) until it has gone a while without drops.
	rxFPS    float64
	rxCut    time.Time // rxFPS last lowered
	rxLast   time.Time // the receiver's drops last explained a loss
	rxGrow   time.Time // rxFPS last raised
	lastSent time.Time // the newest frame sent
	sentFPS  float64   // smoothed rate of frames sent
}

// cutReason is the signal behind a cut of the target rate (and so of the quality):
// every one but cutMaxBitrate and cutStart is the path's.
type cutReason uint8

const (
	cutStart      cutReason = iota // no cut yet: the target has not grown to what the frames want
	cutQueue                       // queueing delay over the limits while the receive rate fell below the send rate
	cutTail                        // frames lose their tail: a queue overflowing under each frame
	cutSpread                      // frames arrive stretched: a link slower than the pacer (dispersion)
	cutLoss                        // loss beyond what repair can hide
	cutOpenLoop                    // no acknowledgements: the path may be gone
	cutMaxBitrate                  // the --max-bitrate cap, not the path
	numCutReasons
)

var cutNames = [numCutReasons]string{"start", "queue", "tail_drops", "dispersion", "loss", "open_loop", "max_bitrate"}

func (r cutReason) String() string {
	if r < numCutReasons {
		return cutNames[r]
	}
	return "unknown"
}

type owdBucket struct {
	sec int64
	min float64
}

type recvSample struct {
	atUS   int64  // first datagram's arrival, receiver's clock
	sendUS int64  // first datagram's departure, ours
	bytes  uint32 // that arrived, scaled to wire bytes
	sent   int64  // wire bytes sent
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
	implausibleShare    = 0.5             // a frame's dispersion under this share of the receive rate is the receiver's, not the path's
	pathBehindShare     = 0.95            // a receive rate under this share of the send rate, same frames: the path falls behind
	tailFrames          = 3               // frames in a row that must lose their tail before tail drops cut the target
	queueEpisode        = 2 * time.Second // after a cut on the path's signal, a queue is still the path's for this long
	demandHeadroom      = 1.25            // a target raised to what the frames want leaves them this much room
	startBits           = 20e6            // first target; a faster path is found within a few frames (frameSent doubles the target while the path stays calm)
	defaultMinBits      = 300e3
	qualityStepDown     = 100 * time.Millisecond
	qualityStepUp       = 300 * time.Millisecond
	rxBackoff           = 0.75                   // a receiver dropping datagrams itself gets this share of the frame rate
	rxCutEvery          = 500 * time.Millisecond // at most one frame-rate cut per this: the drops of a cut frame rate take a while to stop
	rxCalm              = time.Second            // without receiver drops this long, the frame rate grows again
	rxGrowth            = 1.5                    // by this factor a second, until uncapped
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
// receiver's clock (firstUS) minus its send time on ours (sendUS; the clock offset is
// constant, so only changes matter); bytes is the fragment payload the receiver got
// of the frame, sent the fragment payload sent for it and wire all it cost on the
// wire (headers and parity too).
func (rc *rateControl) onAck(now time.Time, owdMs float64, firstUS, sendUS int64, bytes uint32, sent, wire int64) {
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
	rc.recv[rc.nRecv%len(rc.recv)] = recvSample{atUS: firstUS, sendUS: sendUS, bytes: bytes, sent: wire}
	rc.nRecv++
	// Bytes that arrived after the window's first frame, over the time since it:
	// the first frame's own bytes arrived before the span began. The same frames'
	// bytes over the time they took to leave are the send rate: a path that carries
	// what it is given delivers them at the rate sent however late a busy CPU
	// stamps them, and one that is full falls behind.
	var sum, sumSent float64
	first := recvSample{atUS: firstUS, sendUS: sendUS, bytes: bytes, sent: wire}
	for i := 0; i < min(rc.nRecv, len(rc.recv)); i++ {
		s := rc.recv[i]
		if s.atUS > firstUS-recvWindowUS && s.atUS <= firstUS {
			sum += float64(s.bytes)
			sumSent += float64(s.sent)
			if s.atUS < first.atUS {
				first = s
			}
		}
	}
	sum -= float64(first.bytes)
	sumSent -= float64(first.sent)
	if span := float64(firstUS - first.atUS); span > 100_000 {
		rc.recvRate = sum * 8 / (span / 1e6)
		if sendSpan := float64(sendUS - first.sendUS); sendSpan > 0 && sendUS != 0 && first.sendUS != 0 {
			rc.sendRate = sumSent * 8 / (sendSpan / 1e6)
		}
	}
	rc.adapt(now)
}

// pathBehind reports whether the receive rate fell below the send rate over the
// same frames: the path's own sign that a queue is building, which a CPU that
// stamps arrivals late does not give.
func (rc *rateControl) pathBehind() bool {
	return rc.sendRate > 0 && rc.recvRate < pathBehindShare*rc.sendRate
}

// cut lowers the target to bits for reason.
func (rc *rateControl) cut(now time.Time, bits float64, reason cutReason) {
	rc.target = max(rc.minBits, bits)
	rc.lastDown = now
	rc.lastCut = reason
	rc.cuts[reason]++
	rc.pathCutAt = now
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
	if !rc.rxLast.IsZero() && now.Sub(rc.rxLast) < rxCalm {
		// The receiver says it is dropping datagrams itself: it reads its sockets
		// late, and stamps late, so its spreads are its CPU's, not the path's.
		return true
	}
	c := float64(wireBytes) * 8 / (float64(pathUS) / 1e6)
	// Nor is a lossless frame, with the queue calm, while the frames of the last
	// half second arrived at the rate they were sent: the path carried them all as
	// fast as they came, and the stretch is a busy CPU's (the receiver's reading
	// and decoding, or its scheduler's).
	if lossless && rc.queueMs < calmQueueMs && (c < implausibleShare*rc.recvRate || rc.sendRate > 0 && !rc.pathBehind()) {
		return true
	}
	if c < rc.target && now.Sub(rc.lastDown) > 200*time.Millisecond {
		rc.capEst, rc.capAt = c, now
		rc.cut(now, backoff*c, cutSpread)
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
	// A queue overflowing under each frame takes the tail of frame after frame; one
	// frame's tail lost in a burst (a receiver starved of CPU whose socket buffer
	// overflowed while it was not reading) is not the path, though it moves the
	// smoothed counts as much.
	if lostLate > 0 {
		rc.tailRun++
	} else {
		rc.tailRun = 0
	}
	if !rc.tail || rc.tailRun < tailFrames || now.Sub(rc.lastDown) < 300*time.Millisecond {
		return
	}
	got := rc.recvRate
	if got <= 0 || got > rc.target {
		got = rc.target
	}
	rc.capEst, rc.capAt = got, now
	rc.cut(now, backoff*got, cutTail)
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
	queued := rc.queueMs > overuseQueueMs || (rc.queueMs > risingQueueMs && rc.trend > risingTrendMs)
	switch {
	case queued && (rc.pathBehind() || now.Sub(rc.pathCutAt) < queueEpisode):
		// The path falls behind what is sent, or did lately enough that this is
		// the queue it built draining (the smoothed delay lags the rates).
		rc.overN++
	case queued:
		// Late, yet everything sent arrived at the rate it was sent: a busy CPU (the
		// receiver's reading, or ours) stamped the arrivals late, the path is not
		// full, and a lower quality would not help.
		rc.lateNotPath++
		rc.overN = 0
	default:
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
				rc.cut(now, min(rc.target, got)*backoff, cutQueue)
			}
			rc.lastDown = now
		}
		rc.holdUntil = now.Add(300 * time.Millisecond)
	case rc.loss > lossCeiling && now.Sub(rc.lastDown) > 200*time.Millisecond:
		rc.cut(now, rc.target*0.9, cutLoss)
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
	rc.lastCut = cutOpenLoop
	rc.cuts[cutOpenLoop]++
	rc.target = max(rc.minBits, min(rc.target, 0.75*rc.target))
	return rc.target
}

// setSource tells the controller how the source's frames are meant to go: at fps
// frames per second (0: as fast as they can be sent), and whether the source waits
// for the sender (a file: frames wait for the path instead of being skipped).
func (rc *rateControl) setSource(fps float64, waits bool) {
	rc.srcFPS, rc.waits = max(0, fps), waits
}

// offered counts a captured frame in the capture rate.
func (rc *rateControl) offered(now time.Time) {
	if !rc.lastFr.IsZero() {
		dt := now.Sub(rc.lastFr).Seconds()
		if dt > 0 && dt < 1 {
			rc.fps = 0.9*rc.fps + 0.1/dt
		}
	}
	rc.lastFr = now
}

// skipCPU counts a captured frame skipped because the encoders were still busy
// with the previous one: the CPU's limit, which costs frames and never quality.
func (rc *rateControl) skipCPU(now time.Time) {
	rc.offered(now)
	rc.cpuSkips++
}

// receiverDropped takes n datagrams a frame's acknowledgement showed lost that the
// receiver said it dropped itself (docs/PROTOCOL.md §5.4): its CPU's limit, not the
// path's. It lowers the frame rate the receiver is sent, never the target rate or
// the quality: fewer frames mean fewer bursts for a busy receiver to read.
func (rc *rateControl) receiverDropped(now time.Time, n int) {
	rc.rxExplained += uint64(n)
	rc.rxLast = now
	if now.Sub(rc.rxCut) < rxCutEvery || rc.sentFPS == 0 {
		return // too soon to see the last cut's effect, or no frame rate measured yet to cut
	}
	fps := rc.sentFPS
	if rc.rxFPS > 0 {
		fps = rc.rxFPS // the frames sent under a cap come at a quantised rate below it
	}
	rc.rxFPS, rc.rxCut, rc.rxGrow = max(1, rxBackoff*fps), now, now
}

// receiverSkip reports whether a captured frame must be skipped for a receiver
// that drops datagrams itself (receiverDropped), and counts it. The cap grows back
// after rxCalm without drops, and goes once it no longer holds the frames back.
func (rc *rateControl) receiverSkip(now time.Time) bool {
	if rc.rxFPS == 0 {
		return false
	}
	if now.Sub(rc.rxLast) > rxCalm && now.Sub(rc.rxGrow) > 100*time.Millisecond {
		rc.rxFPS *= math.Pow(rxGrowth, min(now.Sub(rc.rxGrow).Seconds(), 1))
		rc.rxGrow = now
		if f := rc.fps; f > 0 && rc.rxFPS >= f {
			rc.rxFPS = 0
			return false
		}
	}
	if rc.lastSent.IsZero() || now.Sub(rc.lastSent).Seconds() >= 0.9/rc.rxFPS {
		return false
	}
	rc.offered(now)
	rc.rxSkips++
	return true
}

// refill adds the credit earned since the last call.
func (rc *rateControl) refill(now time.Time) {
	if !rc.lastTick.IsZero() {
		fill := now.Sub(rc.lastTick).Seconds() * rc.target / 8
		capacity := 2 * rc.target / 8 / max(rc.fps, 1)
		rc.credit = min(capacity, rc.credit+fill)
	}
	rc.lastTick = now
}

// creditWait is how long a source that waits must wait before its next frame fits
// the credit: 0 when it fits now.
func (rc *rateControl) creditWait(now time.Time) time.Duration {
	rc.refill(now)
	var rx time.Duration // a receiver that drops datagrams itself waits for its frame rate
	if rc.rxFPS > 0 && !rc.lastSent.IsZero() {
		rx = rc.lastSent.Add(time.Duration(float64(time.Second) / rc.rxFPS)).Sub(now)
	}
	if rc.credit >= 0 {
		return max(rx, 0)
	}
	return max(rx, time.Duration(-rc.credit*8/rc.target*float64(time.Second)))
}

// frameBudget decides for a captured frame whether it may be sent: the credit is a
// token bucket filled at the target rate and holding at most two frames' worth.
// Skipping is the last resort, reached when even the lowest quality does not fit.
func (rc *rateControl) frameBudget(now time.Time) bool {
	rc.offered(now)
	rc.refill(now)
	return rc.credit >= 0
}

// demandFPS is the frame rate the frames are meant to go at, as far as the CPU
// can encode them: the source's (its nominal rate if it waits for the sender,
// else the rate it offers frames at), at most one frame per encoding time. A CPU
// that cannot keep up lowers it, so a slow encoder costs frames, not quality.
// A source that waits and has no rate of its own (+Inf before the first encoding
// time) goes as fast as the path and the CPU allow.
func (rc *rateControl) demandFPS() float64 {
	r := rc.fps
	if rc.waits {
		r = math.Inf(1)
		if rc.srcFPS > 0 {
			r = rc.srcFPS
		}
	}
	if rc.encodeMs > 0 {
		r = min(r, 1000/rc.encodeMs)
	}
	if math.IsInf(r, 1) {
		r = rc.fps
	}
	if rc.rxFPS > 0 {
		r = min(r, rc.rxFPS) // a receiver that drops datagrams itself: fewer frames, the same quality
	}
	return max(r, 1)
}

// frameSent charges a frame's bytes and adapts the quality to how the frames fit:
// demand is the rate the frames would need at this quality and at demandFPS (at
// least 1.2 times the target when frames had to be skipped for lack of credit).
// wanted is what the frame would have cost with the tiles fit left for later: a
// trimmed frame is no sign that the quality fits. encode is the time the encoders
// took for the frame, pacing excluded (0: not measured).
//
// Quality falls only when the frames want more than the target, and the target
// falls only on the path's signals (cut) or the --max-bitrate cap: a busy CPU
// lowers demandFPS instead. A source that waits and has no rate of its own keeps
// its quality: the path sets its frame rate.
func (rc *rateControl) frameSent(now time.Time, bytes, wanted int, skippedBefore int, encode time.Duration) {
	rc.credit -= float64(bytes)
	if dt := now.Sub(rc.lastSent).Seconds(); !rc.lastSent.IsZero() && dt > 0 && dt < 1 {
		if rc.sentFPS == 0 {
			rc.sentFPS = 1 / dt
		} else {
			rc.sentFPS = 0.8*rc.sentFPS + 0.2/dt
		}
	}
	rc.lastSent = now
	if ms := float64(encode) / float64(time.Millisecond); ms > 0 {
		if rc.encodeMs == 0 {
			rc.encodeMs = ms
		} else {
			rc.encodeMs = 0.8*rc.encodeMs + 0.2*ms
		}
	}
	want := float64(max(bytes, wanted)) * 8 * rc.demandFPS()
	if skippedBefore > 0 {
		want = max(want, 1.2*rc.target)
	}
	if rc.demand == 0 {
		// The first frame's want is the only estimate there is: averaging it with
		// nothing would hold the start-up probe below (and the pacer with it) at a
		// fifth of what the frames need for several frames, and a source played in
		// real time would lose those frames to the slow start.
		rc.demand = want
	} else {
		rc.demand = 0.8*rc.demand + 0.2*want
	}
	if rc.demand > rc.target && rc.target < rc.maxBits && rc.queueMs < calmQueueMs &&
		now.Sub(rc.lastDown) > 5*time.Second && !(rc.capEst > 0 && now.Sub(rc.capAt) < 10*time.Second) {
		// The frames want more and the path has shown no limit: ask the path before
		// giving up picture quality, with the headroom that keeps the quality steps
		// below from reading a target just at the demand as too tight. Overuse
		// detection corrects a wrong guess within a few frames.
		rc.target = min(rc.maxBits, demandHeadroom*rc.demand, 2*rc.target)
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
	if step < 0 && (rc.waits && rc.srcFPS == 0 || !rc.pathLimited()) {
		// No rate to keep (fewer frames, the same pictures), or no signal of the
		// path's has set the target: the target grows to the frames (above), the
		// quality stays.
		step = 0
	}
	switch {
	case step < 0 && now.Sub(rc.qDown) >= qualityStepDown:
		if rc.quality == rc.qMin {
			rc.refreshX = min(8, rc.refreshX*2)
		}
		if rc.quality > rc.qMin {
			rc.qualityCuts++
			rc.qualityReason = rc.lastCut
			if rc.target >= rc.maxBits {
				rc.qualityReason = cutMaxBitrate
			}
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

// pathLimited reports whether the target is what the path (a cut on one of its
// signals) or the --max-bitrate cap made it, the only reasons quality may fall.
func (rc *rateControl) pathLimited() bool {
	return rc.target >= rc.maxBits || rc.lastCut != cutStart
}

// budget is what the chooser needs of rate control for the next frame.
func (rc *rateControl) budget() budget {
	return budget{refreshX: rc.refreshX, lowest: rc.quality <= rc.qMin, targetBits: rc.target}
}
