package receiver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// packet is one validated datagram on its way to the assembler.
type packet struct {
	h       wire.Header
	kind    kind
	chunk   *chunk // the read buffer holding the payload, which free releases
	payload []byte
	charge  int64 // bytes counted against the queue budget: the payload and read-buffer room it leaves unused
	at      time.Time
	from    netip.AddrPort
	queued  *atomic.Int64 // the queue's byte count, which free gives the payload back to
}

// kind is what a datagram is to the assembler. On the wire the end marker is a
// parity datagram naming no block (docs/PROTOCOL.md §3.5); here it is its own kind,
// told apart once, so parity handling never has to ask whether it is the end.
type kind uint8

const (
	kindData   kind = iota // a tile fragment (§3.1)
	kindParity             // a Reed-Solomon parity shard over a block (§3.4)
	kindEnd                // the frame's end marker (§3.5)
	kindTables             // a table set of the stream (§4.1)
)

func kindOf(h *wire.Header) kind {
	switch {
	case h.IsTables():
		return kindTables
	case h.IsEnd():
		return kindEnd
	case h.Flags&wire.FlagParity != 0:
		return kindParity
	}
	return kindData
}

// Read batches: a reader takes up to readBatch messages a system call into a chunk
// of chunkBytes, and the payloads go to the assembler as slices of it, not copies.
const (
	readBatch  = 64
	chunkBytes = 512 << 10 // eight 64 KB GRO buffers, or hundreds of plain datagrams
)

// chunk is a reader's buffer that datagrams are read into. The reader holds one
// reference while it reads into it and each queued packet one; the last release
// gives it back to the reader's pool. The assembler frees packets as it takes them,
// so a chunk is back in its pool soon after its last datagram is handled.
type chunk struct {
	buf  []byte
	refs atomic.Int32
	pool *sync.Pool
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.pool.Put(c)
	}
}

// read reads datagrams from c, opens sealed ones, validates them and queues them for the
// assembler, until c is closed. What it refuses costs at most a header check, a table
// lookup and one AEAD open, and never reaches the queue. It reads by UDP GRO where
// the kernel has it, else by recvmmsg.
func (r *Receiver) read(c *net.UDPConn) {
	r.readBy(c, udp.RecvGRO)
}

// readBy is read by path, or the fastest path below it the kernel has.
func (r *Receiver) readBy(c *net.UDPConn, path udp.RecvPath) {
	rd, err := udp.NewReader(c, path, readBatch)
	if err != nil {
		r.cfg.Log.Error("udp reader", "err", err) // a batch size out of range: a bug
		return
	}
	if rd.Refused() != nil && !r.warned[noGRO].Swap(true) {
		r.cfg.Log.Info("udp: receiving without GRO", "path", rd.Path().String(), "reason", rd.Refused())
	}
	queueBudget, _, _ := budgets(r.cfg.MaxMemory)
	pool := &sync.Pool{}
	pool.New = func() any { return &chunk{buf: make([]byte, chunkBytes), pool: pool} }
	take := func() (*chunk, int) {
		ch := pool.Get().(*chunk)
		ch.refs.Store(1)
		return ch, 0
	}
	ch, off := take()
	defer func() { ch.release() }()
	var drops uint64 // rd's drop count as last added to the receiver's
	if _, ok := rd.Drops(); ok {
		r.c.dropsKnown.Store(true)
	}
	for {
		if len(ch.buf)-off < rd.MinBuf() {
			if ch.refs.Load() == 1 { // no packet holds it: read into it again
				off = 0
			} else {
				ch.release()
				ch, off = take()
			}
		}
		msgs, used, err := rd.Read(ch.buf[off:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors and the like: nothing to do but read on
		}
		if r.readPause > 0 { // a test's receiver starved of CPU (export_test.go)
			time.Sleep(r.readPause)
		}
		if n, _ := rd.Drops(); n != drops {
			r.c.socketDrops.Add(n - drops)
			drops = n
		}
		now := time.Now()
		end := 0 // of the previous datagram in buf
		for _, m := range msgs {
			r.c.dgrams.Add(1)
			if m.Trunc { // longer than the slot; the next slots take it whole
				r.c.invalid.Add(1)
				continue
			}
			// The room a batch leaves between slots is held as long as the datagrams
			// after it: the budget counts it, so it bounds the memory queued packets pin.
			r.queue(ch, ch.buf[off+m.Off:off+m.Off+m.Len], int64(m.Off-end), m.From, now, queueBudget)
			end = m.Off + m.Len
		}
		off += used
	}
}

// queue validates datagram d, read into ch after unused bytes of it, and queues
// it for the assembler; the packet takes a reference on ch.
func (r *Receiver) queue(ch *chunk, d []byte, unused int64, from netip.AddrPort, now time.Time, queueBudget int64) {
	n := len(d)
	r.noteSource(d, from)
	d, ok := r.open(d, from)
	if !ok {
		return
	}
	var p packet
	payload, err := p.h.Unmarshal(d, r.cfg.Limits)
	if err != nil {
		r.c.invalid.Add(1)
		r.explain(err, from)
		return
	}
	if cur := r.current.Load(); r.haveCur.Load() && p.h.Stream != cur && now.UnixNano()-r.curNs.Load() < int64(SwitchAfter) &&
		!takesOver(r.ctl.Linked, r.cfg.Key != nil, p.h.Stream, cur) {
		// Another stream while the current one is live: the assembler would refuse
		// it too, but dropping it here keeps a flood of them out of the queue.
		r.c.otherStream.Add(1)
		return
	}
	if r.haveCur.Load() && p.h.Stream == r.current.Load() {
		r.noteCapture(p.h.Stream, p.h.CaptureUS)
	}
	charge := int64(len(payload)) + unused
	if r.queued.Load()+charge > queueBudget {
		r.c.overflow.Add(1)
		return
	}
	p.kind = kindOf(&p.h)
	r.c.bytes.Add(uint64(n))
	ch.refs.Add(1)
	p.chunk, p.payload, p.charge = ch, payload, charge
	p.at, p.from, p.queued = now, from, &r.queued
	r.queued.Add(charge)
	select {
	case r.packets <- p:
	default:
		r.c.overflow.Add(1)
		p.free()
	}
}

// noteCapture keeps the newest capture time seen of stream (comparing the 32-bit
// values as serial numbers).
func (r *Receiver) noteCapture(stream, capture uint32) {
	for {
		old := r.newest.Load()
		if uint32(old>>32) == stream && int32(capture-uint32(old)) <= 0 {
			return
		}
		if r.newest.CompareAndSwap(old, uint64(stream)<<32|uint64(capture)) {
			return
		}
	}
}

// open returns the clear datagram: d itself when the receiver has no key (a sealed
// datagram is then refused, and the refusal explained once), or d opened in place with
// its stream's key (docs/PROTOCOL.md §7.3). It counts what it refuses.
func (r *Receiver) open(d []byte, from netip.AddrPort) ([]byte, bool) {
	stream, flags, ok := wire.Peek(d)
	sealed := ok && flags&wire.FlagSealed != 0
	switch {
	case !ok || (r.cfg.Key == nil && !sealed):
		return d, true // Unmarshal says what is wrong with it, if anything
	case r.cfg.Key == nil:
		r.c.unauthenticated.Add(1)
		r.refuse(refusedSealed, "datagrams of a keyed stream are dropped: this receiver has no key (start it with --key or --pair)", from)
		return nil, false
	case !sealed:
		r.c.unauthenticated.Add(1)
		r.refuse(refusedUnsealed, "datagrams without a key are dropped: this receiver has a key (give the sender --key or --pair)", from)
		return nil, false
	}
	o := r.ctl.Opener(stream)
	if o == nil {
		r.c.unauthenticated.Add(1) // no sender proved the key for this stream
		return nil, false
	}
	clear, err := o.OpenDatagram(d, wire.HeaderSize)
	switch {
	case errors.Is(err, seal.ErrReplay):
		r.c.replayed.Add(1)
		return nil, false
	case err != nil:
		r.c.unauthenticated.Add(1)
		return nil, false
	}
	wire.ClearSealed(clear)
	return clear, true
}

// free gives the payload's storage back; the payload must not be used after.
func (p *packet) free() {
	if p.queued != nil {
		p.queued.Add(-p.charge)
		p.queued = nil
	}
	if p.chunk != nil {
		p.chunk.release()
	}
	p.chunk, p.payload = nil, nil
}

// Refusals that drop every datagram of a stream, not one stray datagram: each is
// explained once in the log, at warn, since a silent invalid count leaves the user
// guessing why nothing shows.
type refusal int

const (
	refusedVersion  refusal = iota // the sender runs another protocol version
	refusedSize                    // its frames are larger than Config.Limits
	refusedFormat                  // a codec, subsampling or quality this receiver does not know
	refusedSealed                  // sealed datagrams, and this receiver has no key
	refusedUnsealed                // clear datagrams, and this receiver has a key
	noGRO                          // not a refusal: the kernel has no UDP GRO, said once at info
	numRefusals
)

// refuse logs why once per kind of refusal.
func (r *Receiver) refuse(why refusal, msg string, from netip.AddrPort) {
	if !r.warned[why].Swap(true) {
		r.cfg.Log.Warn(msg, "from", from)
	}
}

// explain says once per kind of refusal why datagrams that failed validation with
// err are dropped, when err is of a kind that drops a whole stream.
func (r *Receiver) explain(err error, from netip.AddrPort) {
	var why refusal
	switch {
	case errors.Is(err, wire.ErrVersion):
		why = refusedVersion
	case errors.Is(err, wire.ErrFrame):
		why = refusedSize
	case errors.Is(err, wire.ErrFormat):
		why = refusedFormat
	default:
		return
	}
	if r.warned[why].Swap(true) {
		return
	}
	switch why {
	case refusedVersion:
		// Most likely an hrvs of another release at the other end.
		r.cfg.Log.Warn("datagrams of another protocol version are dropped: run the same hrvs release at both ends",
			"err", err, "ours", wire.Version, "from", from)
	case refusedSize:
		r.cfg.Log.Warn("datagrams of frames larger than this receiver accepts are dropped: the whole stream is refused",
			"err", err, "max", fmt.Sprintf("%dx%d", r.cfg.Limits.MaxWidth, r.cfg.Limits.MaxHeight), "from", from)
	case refusedFormat:
		r.cfg.Log.Warn("datagrams of a format this receiver cannot decode are dropped: the whole stream is refused",
			"err", err, "from", from)
	}
}
