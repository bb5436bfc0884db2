package receiver

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// ackSink takes the acknowledgement of every released frame; the control link's
// server is one. It must not block.
type ackSink interface{ SendAck(a *wire.Ack) }

// clockSource says how far the sender's clock is ahead of ours, and whether that has
// been measured yet; the control link's pings measure it (docs/PROTOCOL.md §6).
type clockSource interface{ Offset() (time.Duration, bool) }

// assemblerConfig is everything the assembler is given: its settings, and where
// its output goes, each through an interface or function it declares, so it shares
// no state with the Receiver and a test can stand in for any of them.
type assemblerConfig struct {
	decoders   int
	newDecoder func(h *tile.Headers) tile.Decoder
	deadline   time.Duration // see Config.Deadline
	limits     wire.Limits
	log        *slog.Logger

	acks    ackSink
	clock   clockSource
	publish func(f *Frame)   // takes over one reference to every frame released
	now     func() time.Time // time.Now, or a test's clock
	// linked reports whether a stream's sender is attached to the control link (with a
	// key: proved the key); nil means never. See acceptStream.
	linked func(stream uint32) bool
	keyed  bool
	// following, if set, is told the current stream and when its latest datagram
	// arrived, so the readers can drop other streams early.
	following func(stream uint32, at time.Time)
	// newest, if set, is the newest capture time the readers have seen: stream<<32 |
	// capture time's low 32 bits (see stale).
	newest func() uint64
	// reassembly and frameBytes are the byte budgets of tile and parity buffers and of
	// frame images (Config.MaxMemory's shares; 0: 128 MB and 1 GB).
	reassembly int
	frameBytes int64
}

// assembler owns all reassembly state and its counters; only its goroutine touches
// the state, and only it writes the counters. Decoding runs on a pool of workers that
// write straight into the frame's pixels (each tile its own rectangle) and report
// back through results.
type assembler struct {
	cfg   assemblerConfig
	c     assemblerCounters
	heads tile.Headers // JPEG headers the decoders share

	// timerWakes counts the expiry timer's firings (tests: an idle receiver sleeps).
	timerWakes atomic.Uint64
	sets       tableSets // the current stream's table sets (docs/PROTOCOL.md §4.1)

	stream  uint32
	haveStr bool
	lastAt  time.Time // last datagram of the current stream
	sender  string
	// The frame-number window: ref is the newest released frame (or, before the first
	// release, the stream's first frame); inWinAt when a datagram inside the window
	// last arrived, outsideN how many outside it have since.
	ref      uint32
	inWinAt  time.Time
	outsideN int

	pending  []*pendingFrame // sorted by frame number, oldest first
	lastNo   uint32          // newest released frame number
	released bool            // whether lastNo is meaningful
	last     *Frame          // newest released frame, kept for concealment
	pool     *framePool
	frameMem frameMem // the frame images' budget (cfg.frameBytes)
	budget   budget   // bytes held by reassembly buffers and parity
	// refusedNo is the newest frame refused for want of a frame image (refused
	// says it is set): the later datagrams of such a frame, and of any older frame
	// not already pending, are refused too, even once an image is free again, since
	// the frame would start without the datagrams refused before and could only be
	// shown partial. A slow sink then costs whole frames, not pictures with holes.
	refusedNo uint32
	refused   bool
	// spare holds reassembly tiles whose decode finished, for reuse, so the
	// steady state allocates no per-tile buffers; at most maxSpareTiles holding
	// at most maxSpareBytes, so hostile giant tiles cannot pin memory.
	spare      []*pendingTile
	spareBytes int
	fec        *fec.Decoder // rebuilds lost datagrams from parity
	// endLate is the latest a datagram has lately arrived after its frame's end
	// marker (reordering on the path), decaying frame by frame; a frame closes
	// twice that after its marker (endGrace).
	endLate time.Duration

	// results has room for every outstanding job, so decoders never block on it
	// while the assembler blocks on jobs.
	stopping    atomic.Bool // decoders skip what is left once the receiver stops
	jobs        chan decodeJob
	results     chan decodeResult
	outstanding int
	workers     sync.WaitGroup
}

type pendingFrame struct {
	no                          uint32
	f                           *Frame
	w, h, gridTiles, frameTiles int
	quality                     int    // codec 0: the JPEG quality; codec 1: the table set id
	sub, codec                  uint8  // the format byte's nibbles
	captureLow                  uint32 // as stamped: low 32 bits of the sender's µs clock
	tileW, tileH                uint16
	first, lastAt, newerAt      time.Time
	endAt                       time.Time // the sender's end marker arrived
	releasedAt                  time.Time // complete or given up, and handed to decoding (see release)
	tiles                       map[uint16]*pendingTile
	got                         []byte // bitmap of tiles decoded into f
	covered                     []bool // 16x8 blocks written by decoded tiles
	handed                      int    // tiles handed to decoders
	started                     int    // distinct tiles begun: at most frameTiles
	decoded, failed, decoding   int
	bytes                       int
	closing                     bool
	arrived                     []byte       // bitmap of data datagram indices that came from the network
	waiting                     []uint16     // whole codec-1 tiles whose table set has not come yet
	datagrams                   int          // data datagram indices known: highest seen + 1, or the end marker's
	parity                      fec.Incoming // what the frame holds to rebuild lost datagrams
}

// giveUp closes the frame: what has not arrived by now is lost. The first time also
// stamps the frame released.
func (pf *pendingFrame) giveUp(now time.Time) {
	pf.closing = true
	if pf.releasedAt.IsZero() {
		pf.releasedAt = now
	}
}

// markArrived records that data datagram seq came from the network.
func (pf *pendingFrame) markArrived(seq uint16) {
	i := int(seq)
	for len(pf.arrived) <= i/8 {
		pf.arrived = append(pf.arrived, 0)
	}
	wire.SetBit(pf.arrived, i)
	pf.datagrams = max(pf.datagrams, i+1)
}

// budget is the memory reassembly may hold (maxReserved): tile buffers and what the
// parity decoder keeps. The assembler's goroutine alone uses it.
type budget struct{ used, max int }

func (b *budget) Take(n int) bool {
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) Give(n int) { b.used -= n }

func newAssembler(cfg assemblerConfig) *assembler {
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.reassembly <= 0 {
		cfg.reassembly = 128 << 20
	}
	if cfg.frameBytes <= 0 {
		cfg.frameBytes = 1 << 30
	}
	a := &assembler{cfg: cfg, jobs: make(chan decodeJob, 4096), results: make(chan decodeResult, 4096),
		budget: budget{max: cfg.reassembly}, frameMem: frameMem{max: cfg.frameBytes}}
	a.fec = fec.NewDecoder(&a.budget, cfg.limits)
	return a
}

// before reports whether frame number a comes before b, allowing for wraparound.
func before(a, b uint32) bool { return int32(a-b) < 0 }

// run assembles the datagrams of packets until it is closed and drained, and every
// decode has finished. It owns the decoders and stops them before it returns.
func (a *assembler) run(ctx context.Context, packets <-chan packet) {
	a.startDecoders()
	stop := context.AfterFunc(ctx, func() { a.stopping.Store(true) })
	defer stop()
	// The timer is armed for the earliest instant a pending frame can expire, not
	// ticking: an idle receiver, or one between frames, then sleeps instead of
	// waking 500 times a second (60 ms of CPU a second, 1.5 ms a frame at 30 fps).
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var armed time.Time // when timer fires; zero when it is not armed
	for packets != nil || a.decodingAny() {
		select {
		case p, ok := <-packets:
			if !ok {
				packets = nil
				continue
			}
			if !a.stopping.Load() { // once stopping, what is queued is only given back
				a.handle(&p)
			}
			p.free()
		case res := <-a.results:
			a.finishDecode(res)
		case <-timer.C:
			armed = time.Time{}
			a.timerWakes.Add(1)
			a.expire(a.cfg.now())
		}
		a.release()
		// Re-armed only when a frame can expire sooner than the armed instant: a
		// timer that fires early finds nothing to expire and is armed again.
		if next, ok := a.nextExpiry(); ok && (armed.IsZero() || next.Before(armed)) {
			armed = next
			timer.Reset(next.Sub(a.cfg.now()))
		}
	}
	a.stop()
}

// expirySlack is added to the instant a frame may expire, which expire tests with
// a strict comparison, so that the timer does not fire a moment too early.
const expirySlack = 100 * time.Microsecond

// nextExpiry returns the earliest instant at which expire would give up a pending
// frame (its expiry, plus expirySlack), and false when no frame is pending.
func (a *assembler) nextExpiry() (time.Time, bool) {
	var next time.Time
	grace := a.endGrace()
	for _, pf := range a.pending {
		if pf.closing {
			continue
		}
		if t := a.expiry(pf, grace); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if next.IsZero() {
		return next, false
	}
	return next.Add(expirySlack), true
}

// stop ends the decoders and gives back every frame still held.
func (a *assembler) stop() {
	close(a.jobs)
	a.workers.Wait()
	for _, pf := range a.pending {
		pf.f.Release()
	}
	a.pending = nil
	if a.last != nil {
		a.last.Release()
		a.last = nil
	}
}

func (a *assembler) decodingAny() bool {
	for _, pf := range a.pending {
		if pf.decoding > 0 {
			return true
		}
	}
	return false
}

// handle files one datagram into its frame and tile.
func (a *assembler) handle(p *packet) {
	h := &p.h
	if !a.acceptStream(h.Stream, p) {
		a.c.otherStream.Add(1)
		return
	}
	a.lastAt = p.at
	if a.cfg.following != nil {
		a.cfg.following(a.stream, p.at)
	}
	if p.kind == kindTables { // the stream's, not a frame's: any frame number will do
		a.defineTables(h.Quality, h.Codec(), p.payload)
		return
	}
	if a.released && !before(a.lastNo, h.Frame) {
		switch p.kind {
		case kindEnd: // the end of a frame released whole: as expected
		case kindParity:
			a.c.dup.Add(1) // parity of a frame released whole: not needed, not late
		default:
			a.c.late.Add(1)
			// A datagram that came after its frame was given up: the grace was too short
			// for this path or for this machine (readers starved of CPU reorder too), so
			// lengthen it; it decays again frame by frame.
			a.endLate = min(maxEndGrace, max(2*a.endLate, reorderGrace))
		}
		return
	}
	if !a.inWindow(h.Frame, p) {
		a.c.outside.Add(1)
		return
	}
	pf := a.frame(h, p.at)
	if pf == nil {
		return
	}
	if pf.closing {
		a.c.late.Add(1)
		return
	}
	pf.lastAt = p.at
	for _, q := range a.pending {
		if q == pf {
			break
		}
		if q.newerAt.IsZero() {
			q.newerAt = p.at
		}
	}
	if !pf.endAt.IsZero() {
		a.endLate = max(a.endLate, p.at.Sub(pf.endAt))
	}
	// A rebuilt datagram is filed like one that arrived, from the decoder's call.
	rebuilt := func(h *wire.Header, payload []byte) { a.fileData(pf, h, payload, true) }
	switch p.kind {
	case kindEnd:
		// The sender has sent all of this frame: what has not come within the
		// reordering grace is lost, and the frame need not wait for the next one.
		if pf.endAt.IsZero() {
			pf.endAt = p.at
		}
		pf.datagrams = max(pf.datagrams, int(h.Seq)+1)
	case kindParity:
		a.count(a.fec.Parity(&pf.parity, h, p.payload, rebuilt))
	case kindData:
		pf.markArrived(h.Seq)
		a.fileData(pf, h, p.payload, false)
		if h.Flags&wire.FlagProtected != 0 {
			a.count(a.fec.Data(&pf.parity, h, p.payload, rebuilt))
		}
	}
}

// count adds what the parity decoder refused to the drop counters.
func (a *assembler) count(c fec.Counts) {
	if c.Invalid > 0 {
		a.c.invalid.Add(uint64(c.Invalid))
	}
	if c.Duplicate > 0 {
		a.c.dup.Add(uint64(c.Duplicate))
	}
	if c.Overflow > 0 {
		a.c.overflow.Add(uint64(c.Overflow))
	}
}

// acceptStream decides whether a datagram's stream is the one being played. A new
// stream takes over when the current one has been silent for SwitchAfter (a restarted
// sender is picked up a second after the old one stopped), or at once when takeOver
// says its sender is linked and may. So no stray datagram, no flood with a foreign id
// and no forged hello switches a display whose sender is live on the control link.
func (a *assembler) acceptStream(stream uint32, p *packet) bool {
	if a.haveStr && stream == a.stream {
		return true
	}
	if a.haveStr && !a.takeOver(stream) && p.at.Sub(a.lastAt) < SwitchAfter {
		return false
	}
	if a.haveStr {
		a.cfg.log.Info("new stream: sender restarted or replaced", "old", a.stream, "new", stream, "from", p.from)
		for _, pf := range a.pending {
			pf.giveUp(p.at)
		}
	}
	a.stream, a.haveStr, a.released, a.refused = stream, true, false, false
	a.sets.reset()
	a.ref, a.inWinAt, a.outsideN = p.h.Frame, p.at, 0
	a.sender = p.from.String()
	a.c.streams.Add(1)
	sender := a.sender
	a.c.sender.Store(&sender)
	return true
}

// takeOver reports whether stream may replace the live current stream: with a key, when
// its sender proved the key (only such streams' datagrams get this far); without, when
// its sender said hello on the control link and the current stream's has not (a real
// sender displaces datagrams sent open loop, but a hello cannot displace a linked
// sender).
func (a *assembler) takeOver(stream uint32) bool {
	return takesOver(a.cfg.linked, a.cfg.keyed, stream, a.stream)
}

// takesOver is takeOver's rule, which the socket readers apply too.
func takesOver(linked func(uint32) bool, keyed bool, stream, current uint32) bool {
	if linked == nil || !linked(stream) {
		return false
	}
	return keyed || !linked(current)
}

// inWindow reports whether frame number n is within maxAhead of the window's reference
// (behind it is late, handled before). Numbers outside are dropped, so one far-ahead
// datagram cannot make every later frame look old; but when nothing inside the window
// has come for resyncAfter while resyncCount datagrams came from outside (a sender whose
// numbering jumped), the window moves to them.
func (a *assembler) inWindow(n uint32, p *packet) bool {
	if d := int32(n - a.ref); d > -maxAhead && d <= maxAhead {
		a.inWinAt, a.outsideN = p.at, 0
		return true
	}
	a.outsideN++
	if a.outsideN < resyncCount || p.at.Sub(a.inWinAt) < resyncAfter {
		return false
	}
	a.cfg.log.Info("frame numbers jumped: following the stream's new numbering", "from", a.ref, "to", n)
	for _, pf := range a.pending {
		pf.giveUp(p.at)
	}
	a.released, a.ref, a.inWinAt, a.outsideN, a.refused = false, n, p.at, 0, false
	return true
}

// stale reports whether a frame captured at captureLow (the sender's clock, low 32
// bits) is a backlog to skip: captured over StaleAfter before the newest frame the
// readers have seen of this stream, and (once the clocks are related by pings) over
// StaleAfter ago. The second test keeps a forged far-future capture time from making
// live frames look stale; the first keeps frames from being judged by a clock alone.
// Without pings (no control link) nothing is stale.
func (a *assembler) stale(captureLow uint32, now time.Time) bool {
	if a.cfg.newest == nil {
		return false
	}
	newest := a.cfg.newest()
	if uint32(newest>>32) != a.stream || int64(int32(uint32(newest)-captureLow)) <= StaleAfter.Microseconds() {
		return false
	}
	off, ok := a.cfg.clock.Offset()
	if !ok { // no control link to relate the clocks: never judge by capture times alone
		return false
	}
	captured := time.UnixMicro(wire.UnwrapTime(captureLow, now.Add(off).UnixMicro())).Add(-off)
	return now.Sub(captured) > StaleAfter
}

// frame finds or starts the pending frame a datagram belongs to; nil means drop.
func (a *assembler) frame(h *wire.Header, at time.Time) *pendingFrame {
	i := sort.Search(len(a.pending), func(i int) bool { return !before(a.pending[i].no, h.Frame) })
	if i < len(a.pending) && a.pending[i].no == h.Frame {
		pf := a.pending[i]
		if pf.w != int(h.Width) || pf.h != int(h.Height) || pf.gridTiles != int(h.GridTiles) ||
			pf.frameTiles != int(h.FrameTiles) || pf.quality != int(h.Quality) || pf.sub != h.Sub() || pf.codec != h.Codec() ||
			pf.tileW != h.TileW || pf.tileH != h.TileH || pf.captureLow != h.CaptureUS {
			a.c.invalid.Add(1)
			return nil
		}
		return pf
	}
	if a.stale(h.CaptureUS, at) {
		a.c.stale.Add(1) // a backlog after a stall: newer frames follow
		return nil
	}
	sub := tile.SubsampleRatio(h.Format & 0xf)
	if a.pool == nil || a.pool.w != int(h.Width) || a.pool.h != int(h.Height) || a.pool.sub != sub {
		if a.pool != nil {
			a.pool.retire()
		}
		a.pool = newFramePool(int(h.Width), int(h.Height), sub, &a.frameMem)
	}
	if len(a.pending) >= maxPending {
		a.pending[0].giveUp(at) // the oldest gives way; it is released as soon as it can be
		if i == 0 {
			a.c.late.Add(1)
			return nil
		}
	}
	if a.refused && !before(a.refusedNo, h.Frame) {
		a.c.overflow.Add(1) // started without an image: it could only be partial
		return nil
	}
	f := a.pool.get()
	if f == nil { // every frame image the budget allows is in use
		a.c.overflow.Add(1)
		a.refused, a.refusedNo = true, h.Frame
		return nil
	}
	f.Stream, f.Seq, f.Sender = a.stream, h.Frame, a.sender
	f.Tiles, f.TilesMissing, f.Quality, f.Bytes = int(h.FrameTiles), 0, int(h.Quality), 0
	if h.Codec() != 0 {
		f.Quality = 0 // the quality byte names a table set (docs/PROTOCOL.md §4.1), not a quality
	}
	pf := &pendingFrame{
		no: h.Frame, f: f, w: int(h.Width), h: int(h.Height), gridTiles: int(h.GridTiles), frameTiles: int(h.FrameTiles),
		quality: int(h.Quality), sub: h.Sub(), codec: h.Codec(), captureLow: h.CaptureUS, tileW: h.TileW, tileH: h.TileH,
		first: at, lastAt: at,
		tiles: make(map[uint16]*pendingTile), got: make([]byte, (int(h.GridTiles)+7)/8),
		covered: make([]bool, ((int(h.Width)+blockW-1)/blockW)*((int(h.Height)+blockH-1)/blockH)),
	}
	a.pending = append(a.pending, nil)
	copy(a.pending[i+1:], a.pending[i:])
	a.pending[i] = pf
	return pf
}

// expire closes frames that can no longer complete. The sender sends frames one
// after another and ends each with an end marker, so once the marker or a newer
// frame's datagrams have been there for longer than reordering explains, the
// frame's missing datagrams are lost. A frame that hears nothing for the deadline
// is closed too (its marker lost, before a pause), and none waits longer than
// maxAssembly deadlines in all.
func (a *assembler) expire(now time.Time) {
	grace := a.endGrace()
	for _, pf := range a.pending {
		if !pf.closing && now.After(a.expiry(pf, grace)) {
			pf.giveUp(now)
		}
	}
}

// expiry is the instant after which pf is given up: grace after its end marker or
// after a newer frame's first datagram, the deadline after its last datagram, or
// maxAssembly deadlines after its first, whichever comes first.
func (a *assembler) expiry(pf *pendingFrame, grace time.Duration) time.Time {
	t := pf.lastAt.Add(a.cfg.deadline)
	for _, u := range [...]time.Time{pf.newerAt, pf.endAt} {
		if !u.IsZero() && u.Add(grace).Before(t) {
			t = u.Add(grace)
		}
	}
	if u := pf.first.Add(maxAssembly * a.cfg.deadline); u.Before(t) {
		t = u
	}
	return t
}

// maxEndGrace bounds how long a frame waits after its end marker, however much the
// path reorders: beyond it, waiting costs more latency than the repair does. The
// grace grows this far only after datagrams came late; 100 ms, not 50, because a
// receiver whose socket readers are starved of CPU (both cores busy, the race
// detector) reorders by that much across its sockets, and a frame shown with holes
// is worse than one shown 50 ms later.
const maxEndGrace = 100 * time.Millisecond

// endGrace is how long after its end marker, or after a newer frame's first datagram,
// a frame waits for stragglers: twice the lateness seen lately, at least reorderGrace.
// Datagrams later than the grace are lost to it, but the ones just inside it, and the
// ones that come late, push it up, so it follows the path and the machine.
func (a *assembler) endGrace() time.Duration {
	return min(maxEndGrace, max(reorderGrace, 2*a.endLate))
}

// release hands finished frames to the display in frame order. A frame is finished
// when every tile it carries has been decoded (or failed), or when it is closing
// and no decode is still writing into it. A finished newer frame closes older ones.
func (a *assembler) release() {
	for len(a.pending) > 0 {
		pf := a.pending[0]
		whole := pf.decoded+pf.failed == pf.frameTiles
		if !whole && !pf.closing {
			newer := false
			for _, q := range a.pending[1:] {
				if q.decoded+q.failed == q.frameTiles {
					newer = true
					break
				}
			}
			if !newer {
				return
			}
			pf.giveUp(a.cfg.now())
		}
		if pf.decoding > 0 {
			return
		}
		a.pending = a.pending[1:]
		a.finish(pf)
	}
}

// finish conceals what is missing, accounts, acknowledges and publishes pf.
func (a *assembler) finish(pf *pendingFrame) {
	for _, t := range pf.tiles {
		a.budget.Give(t.size())
	}
	pf.datagrams = max(pf.datagrams, pf.parity.Extent())
	a.fec.Release(&pf.parity)
	f := pf.f
	if f.Stream != a.stream { // a frame of a stream that has since been replaced
		f.Release()
		return
	}
	if len(pf.waiting) > 0 { // their table set never came: concealed like tiles lost
		a.c.tablesMissing.Add(uint64(len(pf.waiting)))
		pf.waiting = nil
	}
	conceal(pf, a.last)
	now := a.cfg.now()
	f.TilesMissing = pf.frameTiles - pf.decoded
	f.Bytes = pf.bytes
	// The sender's clock reads our clock plus the measured offset.
	off, _ := a.cfg.clock.Offset()
	f.CaptureUS = wire.UnwrapTime(pf.captureLow, now.Add(off).UnixMicro())
	f.Captured = time.UnixMicro(f.CaptureUS).Add(-off)
	f.Ready = now

	c := &a.c
	c.frames.Add(1)
	c.tilesGot.Add(uint64(pf.decoded))
	c.tilesMissing.Add(uint64(f.TilesMissing))
	for _, t := range pf.tiles {
		c.lost.Add(uint64(t.frags - t.received))
	}
	if f.TilesMissing == 0 {
		c.complete.Add(1)
	} else {
		c.partial.Add(1)
	}
	c.latency.add(f.Latency())
	c.firstNs.CompareAndSwap(0, now.UnixNano())
	c.lastNs.Store(now.UnixNano())
	c.shape.Store(uint64(pf.codec)<<48 | uint64(pf.w)<<32 | uint64(pf.h)<<16 | uint64(pf.quality))
	a.lastNo, a.released = pf.no, true
	a.ref = pf.no               // the window travels with the stream: it is centred on the newest released frame
	a.endLate -= a.endLate / 64 // forget a burst of reordering over a few seconds

	// "Frame released" is the instant the frame was complete, or given up, and
	// handed to decoding: before its last tiles were decoded, so a receiver that
	// decodes slowly does not look to the sender like a path that spreads the frame
	// out (docs/PROTOCOL.md §5).
	released := pf.releasedAt
	if released.IsZero() { // cannot be (whole means every tile was handed over), but never send 0
		released = now
	}
	ack := wire.Ack{Stream: a.stream, Frame: pf.no, FirstUS: pf.first.UnixMicro(), ReadyUS: released.UnixMicro(),
		Bytes: uint32(pf.bytes), Received: uint16(pf.decoded), FrameTiles: uint16(pf.frameTiles),
		GridTiles: uint16(pf.gridTiles), Got: pf.got, Datagrams: uint16(min(pf.datagrams, wire.MaxFrameDatagrams)), Arrived: pf.arrived}
	if need := (int(ack.Datagrams) + 7) / 8; len(ack.Arrived) < need {
		ack.Arrived = append(ack.Arrived, make([]byte, need-len(ack.Arrived))...)
	}
	a.cfg.acks.SendAck(&ack)

	if a.last != nil {
		a.last.Release()
	}
	f.Retain()
	a.last = f
	a.cfg.publish(f)
}
