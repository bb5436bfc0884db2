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
	"github.com/hrvs/hrvs/net/wire"
)

// packet is one validated datagram on its way to the assembler.
type packet struct {
	h       wire.Header
	kind    kind
	buf     *[]byte    // storage holding the payload
	pool    *sync.Pool // where buf goes back, if it came from one
	payload []byte
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

// smallBuf is the payload size kept in the receiver's buffer pool: a datagram of the
// default MTU fits, larger ones get a buffer of their own.
const smallBuf = 2048

// read reads datagrams from c, opens sealed ones, validates them and queues them for the
// assembler, until c is closed. What it refuses costs at most a header check, a table
// lookup and one AEAD open, and never reaches the queue.
func (r *Receiver) read(c *net.UDPConn) {
	scratch := make([]byte, wire.MaxDatagram+1)
	queueBudget, _, _ := budgets(r.cfg.MaxMemory)
	for {
		n, from, err := c.ReadFromUDPAddrPort(scratch)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors and the like: nothing to do but read on
		}
		r.c.dgrams.Add(1)
		r.noteSource(scratch[:n], from)
		d, ok := r.open(scratch[:n], from)
		if !ok {
			continue
		}
		var p packet
		payload, err := p.h.Unmarshal(d, r.cfg.Limits)
		if err != nil {
			r.c.invalid.Add(1)
			r.explain(err, from)
			continue
		}
		now := time.Now()
		if cur := r.current.Load(); r.haveCur.Load() && p.h.Stream != cur && now.UnixNano()-r.curNs.Load() < int64(SwitchAfter) &&
			!takesOver(r.ctl.Linked, r.cfg.Key != nil, p.h.Stream, cur) {
			// Another stream while the current one is live: the assembler would refuse
			// it too, but dropping it here keeps a flood of them out of the queue.
			r.c.otherStream.Add(1)
			continue
		}
		if r.haveCur.Load() && p.h.Stream == r.current.Load() {
			r.noteCapture(p.h.Stream, p.h.CaptureUS)
		}
		if r.queued.Load()+int64(len(payload)) > queueBudget {
			r.c.overflow.Add(1)
			continue
		}
		p.kind = kindOf(&p.h)
		r.c.bytes.Add(uint64(n))
		if len(payload) <= smallBuf {
			p.buf, p.pool = r.bufs.Get().(*[]byte), &r.bufs
		} else {
			b := make([]byte, len(payload))
			p.buf = &b
		}
		p.payload = (*p.buf)[:len(payload)]
		copy(p.payload, payload)
		p.at, p.from, p.queued = now, from, &r.queued
		r.queued.Add(int64(len(payload)))
		select {
		case r.packets <- p:
		default:
			r.c.overflow.Add(1)
			p.free()
		}
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
		p.queued.Add(-int64(len(p.payload)))
		p.queued = nil
	}
	if p.pool != nil {
		p.pool.Put(p.buf)
	}
	p.buf, p.pool, p.payload = nil, nil, nil
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
