package sender

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// The ledger keeps what was sent and not yet acknowledged, and what the receiver
// holds of every grid tile: acknowledgements and timeouts tell it which frames
// and tiles arrived, which were lost (and go again), and what the path did to each
// frame, which it hands to rate control and the pacer. It has no sockets: a test
// feeds it acknowledgements and reads what it declares lost.

// stallAfter is how long the control link may stay silent while frames are in
// flight before the sender stops trusting it and runs open loop.
const stallAfter = time.Second

// keepFlights is how long a frame's record is kept for a late acknowledgement, so
// frames lost in a blackout are recognised and repaired when acks resume.
const keepFlights = 10 * time.Second

// link is the control link as the ledger sees it (control.Client).
type link interface {
	Connected() bool
	Reconnects() uint64 // connections made after the first
	RTT() time.Duration
}

// congestion is what the ledger tells rate control (rateControl).
type congestion interface {
	onAck(now time.Time, owdMs float64, firstUS, sendUS int64, bytes uint32, sent, wire int64)
	onDatagramLoss(now time.Time, lost, lostLate int, lateShare float64)
	// onDispersion reports whether it read the spread as the receiver's slowness.
	onDispersion(now time.Time, wireBytes, sendUS, arriveUS, pathUS int64, lossless bool) (receiverSlow bool)
	// receiverDropped takes lost datagrams the receiver said it dropped itself.
	receiverDropped(now time.Time, n int)
	openLoop() (targetBits float64)
	paceBits(now time.Time, line int64) int64
}

// pacing is the pacer, retuned after every acknowledgement.
type pacing interface {
	setRate(bits int64)
}

// tileState is what the sender knows of one grid tile at the receiver.
type tileState struct {
	sent      uint32 // frame that carried the newest version sent
	everSent  bool
	confirmed bool // the receiver acknowledged that version
	lost      bool // that version did not arrive: send the tile again with the next frame
	est       int  // smoothed encoded size in bytes, 0 before the first encode
}

// tally is what the packer put on the wire for one frame, which the ledger
// compares with the receiver's acknowledgement. The packer writes it from the
// encoding goroutines, so its fields are atomic.
type tally struct {
	seq         atomic.Int32 // data datagrams numbered so far
	bytes       atomic.Int64 // on the wire: headers, parity and the end marker included
	payload     atomic.Int64 // fragment payload of data datagrams, what the ack's byte count measures
	datagrams   atomic.Int64
	firstSendUS atomic.Int64
	lastSendUS  atomic.Int64
	paced       atomic.Int64 // nanoseconds the encoders slept in the pacer, summed over them
	encoding    atomic.Int64 // nanoseconds the encoders spent encoding the frame's tiles, summed over them
}

// dataDatagrams is how many data datagrams were numbered (at most 2^16).
func (t *tally) dataDatagrams() int { return min(int(t.seq.Load()), wire.MaxFrameDatagrams) }

// flight is a frame sent and not yet acknowledged.
type flight struct {
	sent    *tally
	at      time.Time // submitted
	done    time.Time // last datagram sent; zero while encoding
	tiles   []uint16
	gen     int // grid generation, so a resize invalidates old records
	expired bool
}

// ledger is a plain state machine; the sender calls it under its lock.
type ledger struct {
	stream uint32
	window int   // frames unacknowledged before the window is full
	line   int64 // the line rate in bit/s, the pacer's ceiling
	link   link
	cc     congestion
	pace   pacing
	count  *counters
	log    *slog.Logger

	inflight   map[uint32]*flight
	tiles      []tileState
	gen        int
	lastAck    time.Time
	linkUp     bool
	linkUpAt   time.Time
	openLoop   bool
	reconnects uint64  // control reconnections already acted on
	spread     *spread // the last whole frame's spread, until a later frame's first arrival bounds it
	rx         rxDrops // what the receiver said it dropped itself
}

// rxDrops is the receiver's own count of the datagrams it dropped (docs/PROTOCOL.md
// §5.4), turned into credit: datagrams that later acknowledgements show lost are
// taken from it first, as the receiver's and not the path's. The count covers
// every kind of datagram and says nothing of which frame, so credit that finds no
// loss to explain within rxCreditKeep lapses rather than hide a path's loss later.
type rxDrops struct {
	seen   bool
	last   uint64    // the receiver's count, as of its last message
	credit int       // datagrams dropped and not yet matched with a loss
	at     time.Time // credit last added
}

// rxCreditKeep is how long the receiver's drops may wait for the acknowledgement
// that shows them: it goes out after the frame is released and decoded.
const rxCreditKeep = time.Second

// onDrops takes a receiver-drops message: its growth since the last one becomes
// credit. A count lower than the last means the receiver restarted: a new baseline.
func (l *ledger) onDrops(d wire.Drops, now time.Time) {
	if d.Stream != l.stream {
		return
	}
	if l.rx.seen && d.Count > l.rx.last {
		n := d.Count - l.rx.last
		l.count.rxDropped.Add(n)
		l.rx.credit = int(min(uint64(l.rx.credit)+n, 1<<30))
		l.rx.at = now
	}
	l.rx.seen, l.rx.last = true, d.Count
}

// explain takes up to lost datagrams of a frame's loss from the receiver's credit
// and returns how many it explained.
func (l *ledger) explain(lost int, now time.Time) int {
	if l.rx.credit > 0 && now.Sub(l.rx.at) > rxCreditKeep {
		l.rx.credit = 0
	}
	n := min(lost, l.rx.credit)
	l.rx.credit -= n
	return n
}

// spread is how a whole frame arrived, as its acknowledgement reported it.
type spread struct {
	firstUS, readyUS int64 // first datagram arrival and release, receiver's clock
	sendUS           int64 // first to last datagram sent
	wireBytes        int64
	lossless         bool
	at               time.Time
}

// spreadKeep is how long a spread waits for a later frame's first arrival; a sample
// older than that says too little of the path now to act on.
const spreadKeep = time.Second

func newLedger(stream uint32, window int, line int64, lk link, cc congestion, pace pacing, count *counters, log *slog.Logger) *ledger {
	return &ledger{stream: stream, window: window, line: line, link: lk, cc: cc, pace: pace, count: count, log: log,
		inflight: make(map[uint32]*flight)}
}

// reset forgets every tile for a new grid of n tiles; records of frames sent on
// the old grid stay until acknowledged or expired, but touch no tile.
func (l *ledger) reset(n int) {
	l.gen++
	l.tiles = make([]tileState, n)
}

// record files frame no, carrying tiles, as sent: each tile's newest version is
// now that frame's.
func (l *ledger) record(no uint32, tiles []uint16, sent *tally, now time.Time) {
	for _, t := range tiles {
		ts := &l.tiles[t]
		*ts = tileState{sent: no, everSent: true, est: ts.est}
	}
	l.inflight[no] = &flight{sent: sent, at: now, gen: l.gen, tiles: tiles}
}

// sent notes that frame no's last datagram left at now, and learns its tiles'
// encoded sizes (sizes[i] for tiles[i], 0 for a tile that failed to encode).
func (l *ledger) sent(no uint32, sizes []int32, now time.Time) {
	fl := l.inflight[no]
	if fl == nil {
		return
	}
	fl.done = now
	if fl.gen != l.gen {
		return
	}
	for k, t := range fl.tiles {
		if n := int(sizes[k]); n > 0 {
			if ts := &l.tiles[t]; ts.est == 0 {
				ts.est = n
			} else {
				ts.est = (3*ts.est + n) / 4
			}
		}
	}
}

// outstanding is the number of frames awaiting acknowledgement and not expired.
func (l *ledger) outstanding() int {
	n := 0
	for _, fl := range l.inflight {
		if !fl.expired {
			n++
		}
	}
	return n
}

// windowFull reports whether Window frames are awaiting acknowledgement.
func (l *ledger) windowFull() bool { return l.outstanding() >= l.window }

// ackTimeout is how long a frame may stay unacknowledged before it counts as lost
// and stops holding the window: a frame whose every datagram was lost is never acked.
func (l *ledger) ackTimeout() time.Duration {
	return max(250*time.Millisecond, 4*l.link.RTT())
}

// checkLoop decides whether acknowledgements can be trusted: the control link is up
// and has answered recently, or nothing has been waiting for an answer. It handles
// the transitions: a new connection may lead to a new receiver, so every tile is
// sent again; losing the loop drops to the open-loop rate.
func (l *ledger) checkLoop(now time.Time) bool {
	up := l.link.Connected()
	if up && !l.linkUp {
		l.linkUpAt = now
	}
	// A reconnection may reach a restarted receiver that holds nothing, and a
	// multicast receiver that joins holds nothing (the link stays up for the others):
	// send every tile again. (On the first connection, frames sent before it are
	// settled by the first ack like any others.)
	if n := l.link.Reconnects(); up && n != l.reconnects {
		l.reconnects = n
		for i := range l.tiles {
			if l.tiles[i].everSent {
				l.tiles[i].lost = true
			}
		}
	}
	l.linkUp = up
	waiting := false
	for _, fl := range l.inflight {
		if !fl.done.IsZero() && now.Sub(fl.done) > stallAfter && fl.done.After(l.lastAck) {
			waiting = true
			break
		}
	}
	closed := up && !(waiting && now.Sub(l.lastAck) > stallAfter && now.Sub(l.linkUpAt) > stallAfter)
	if !closed && !l.openLoop && !l.lastAck.IsZero() {
		target := l.cc.openLoop()
		l.log.Info("sender: no acknowledgements, running open loop", "target_mbit_per_s", target/1e6)
	}
	l.openLoop = !closed
	return closed
}

// expire gives up on frames unacknowledged for longer than the ack timeout. In
// closed loop their tiles are lost and go again; open loop, nothing can be known,
// so the records are kept until acks resume and show which frames arrived.
func (l *ledger) expire(now time.Time, closed bool) {
	timeout := l.ackTimeout()
	for n, fl := range l.inflight {
		// The ack timeout runs from the last datagram: a slow encoder is not a lost frame.
		if !fl.expired && !fl.done.IsZero() && now.Sub(fl.done) > timeout {
			fl.expired = true
			if closed {
				l.markLost(n, fl)
			}
		}
		if now.Sub(fl.at) > keepFlights {
			delete(l.inflight, n)
		}
	}
}

// markLost marks the tiles of frame n whose newest version it carried for repair.
func (l *ledger) markLost(n uint32, fl *flight) int {
	if fl.gen != l.gen {
		return 0
	}
	lost := 0
	for _, t := range fl.tiles {
		if ts := &l.tiles[t]; ts.sent == n && !ts.confirmed && !ts.lost {
			ts.lost = true
			lost++
		}
	}
	l.count.lost.Add(uint64(lost))
	return lost
}

// onAck learns what the receiver got of one frame. Frames older than the one
// acknowledged that were never acknowledged did not reach the receiver at all (it
// releases frames in order and the ack link is ordered), so they count as lost too.
func (l *ledger) onAck(a *wire.Ack, now time.Time) {
	if a.Stream != l.stream {
		return
	}
	l.lastAck = now
	fl := l.inflight[a.Frame]
	if fl == nil {
		return
	}
	delete(l.inflight, a.Frame)
	for n, g := range l.inflight {
		if int32(n-a.Frame) < 0 {
			l.markLost(n, g)
			delete(l.inflight, n)
		}
	}
	l.count.acked.Add(1)
	whole := a.Received == a.FrameTiles
	if whole {
		l.count.ackedWhole.Add(1)
	}
	if fl.gen == l.gen && int(a.GridTiles) == len(l.tiles) {
		for _, t := range fl.tiles {
			ts := &l.tiles[t]
			if !a.Has(int(t)) {
				l.count.lost.Add(1)
				if ts.sent == a.Frame { // else a newer version is already on its way
					ts.lost = true
				}
			} else if ts.sent == a.Frame {
				ts.confirmed, ts.lost = true, false
			}
		}
	}
	l.feedback(a, fl.sent, whole, now)
}

// feedback hands rate control what the acknowledgement says of the path: the
// one-way delay of the frame's first datagram, the bytes that arrived, where in
// the frame's sending order datagrams were lost, and how the frame spread out.
func (l *ledger) feedback(a *wire.Ack, sent *tally, whole bool, now time.Time) {
	first := sent.firstSendUS.Load()
	if first == 0 {
		return // nothing of the frame left
	}
	payload, wireBytes := sent.payload.Load(), sent.bytes.Load()
	owd := float64(a.FirstUS-first) / 1000
	// Data datagrams are numbered in sending order and the ack says which arrived
	// from the network (parity's rebuilds aside). Random loss hits both halves of a
	// frame alike; a queue that overflows under the frame's own burst drops its tail.
	// What the receiver said it dropped itself is taken out first: its CPU's doing,
	// which costs frames, not the path's (docs/CONTROL.md §5.1).
	d := sent.dataDatagrams()
	lost, lostLate := 0, 0
	for i := range d {
		if !a.Came(i) {
			lost++
			if i >= d/2 {
				lostLate++
			}
		}
	}
	bytes := a.Bytes
	if x := l.explain(lost, now); x > 0 {
		// A socket that overflows drops the end of a burst: the frame's tail first.
		lostLate -= min(lostLate, x)
		lost -= x
		bytes = uint32(min(payload, int64(bytes)+int64(x)*payload/int64(d)))
		l.cc.receiverDropped(now, x)
	}
	l.cc.onAck(now, owd, a.FirstUS, first, bytes, payload, wireBytes)
	if d >= 2 {
		l.cc.onDatagramLoss(now, lost, lostLate, float64(d-d/2)/float64(d))
	}
	l.settleSpread(a.FirstUS, now)
	if whole { // a partial frame's release time says nothing of the path
		l.spread = &spread{firstUS: a.FirstUS, readyUS: a.ReadyUS, sendUS: sent.lastSendUS.Load() - first,
			wireBytes: wireBytes, lossless: lost == 0 && int64(bytes) >= payload, at: now}
	}
	l.pace.setRate(l.cc.paceBits(now, l.line))
}

// settleSpread hands rate control the waiting spread now that a later frame's first
// datagram arrived at nextFirstUS. The receiver reports the spread up to the
// frame's release, which it may stamp after slow decoding; on a FIFO path the later
// frame's first datagram cannot overtake this frame's last, so the path's share of
// the spread ended by nextFirstUS at the latest.
func (l *ledger) settleSpread(nextFirstUS int64, now time.Time) {
	sp := l.spread
	if sp == nil || nextFirstUS <= sp.firstUS {
		return
	}
	l.spread = nil
	if now.Sub(sp.at) > spreadKeep {
		return
	}
	arrive := sp.readyUS - sp.firstUS
	path := min(arrive, nextFirstUS-sp.firstUS)
	if l.cc.onDispersion(now, sp.wireBytes, sp.sendUS, arrive, path, sp.lossless) {
		l.count.receiverSlow.Add(1)
	}
}
