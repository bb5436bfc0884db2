package sender

import (
	"io"
	"sync"
	"time"

	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// kind is what a datagram carries. On the wire the end marker looks like a parity
// datagram that names no block (docs/PROTOCOL.md §3.5); here it is a kind of its
// own, so nothing that handles parity has to ask whether it is the end first.
type kind uint8

const (
	kindData   kind = iota // a fragment of a tile's payload
	kindParity             // a Reed-Solomon parity shard (docs/PROTOCOL.md §3.4)
	kindEnd                // the frame's end marker (docs/PROTOCOL.md §3.5)
	kindTables             // the stream's table set, before a re-tiled frame (docs/PROTOCOL.md §4.1)
)

// frameHeader is the header every datagram of a frame carries: the stream, the
// frame, its grid, its quality and its format. It is built once per frame, so data,
// parity and the end marker cannot disagree (issue 17: a stdlib-encoded 4:2:2
// frame's data said 4:2:0 while its parity and end marker said 4:2:2).
func frameHeader(stream, no uint32, captureUS int64, g tile.Grid, tiles uint16, quality int, format uint8) wire.Header {
	return wire.Header{
		Stream: stream, Frame: no, CaptureUS: uint32(captureUS),
		Width: uint16(g.W), Height: uint16(g.H), FrameTiles: tiles,
		TileW: uint16(g.TW), TileH: uint16(g.TH), Quality: uint8(quality), Format: format,
	}
}

// packer turns encoded tiles into datagrams: it cuts a tile's payload into
// fragments, numbers the frame's data datagrams, files them with the frame's
// parity encoder, sends parity and the end marker after the last tile, and paces
// every datagram. Its methods are safe for concurrent use by the encoders, each
// bringing its own datagram buffer.
type packer struct {
	conns []io.Writer // connected UDP sockets: one Write is one datagram
	pace  *pacer
	mtu   int // largest clear datagram, header included (the MTU less seal.Overhead when sealing)
	count *counters
	// sealer, when set, seals every datagram after its header (docs/PROTOCOL.md §7.3),
	// into buffers from sealBufs.
	sealer   *seal.Sealer
	sealBufs sync.Pool
}

// packTile sends tile j's payload as the fragments of frame fj, on conns[spread%n].
// dgram is the caller's buffer of mtu bytes.
func (p *packer) packTile(fj *frameJob, j tileJob, payload, dgram []byte, spread int) {
	room := p.mtu - wire.HeaderSize
	flags := j.flag
	if fj.parity != nil {
		room = fec.Room(p.mtu)
		flags |= wire.FlagProtected
	}
	count := wire.Fragments(len(payload), room)
	if count > 65535 || len(payload) > wire.MaxTilePayload {
		p.count.encErrs.Add(1)
		return
	}
	c := p.conns[spread%len(p.conns)]
	h := fj.hdr
	h.Flags, h.Tile, h.Fragments, h.PayloadSize = flags, uint16(j.tile), uint16(count), uint32(len(payload))
	for i := 0; i < count; i++ {
		seq := int(fj.sent.seq.Add(1)) - 1
		if seq >= wire.MaxFrameDatagrams { // a frame of more data datagrams (~90 MB) cannot be numbered (docs/PROTOCOL.md §3.1)
			p.count.encErrs.Add(1)
			return
		}
		h.Seq, h.Fragment = uint16(seq), uint16(i)
		off, n := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
		frag := payload[off : off+n]
		if _, err := h.MarshalTo(dgram); err != nil {
			p.count.encErrs.Add(1)
			return
		}
		copy(dgram[wire.HeaderSize:], frag)
		if fj.parity != nil {
			if err := fj.parity.Keep(&h, frag); err != nil {
				p.count.encErrs.Add(1)
			}
		}
		p.send(c, &fj.sent, dgram[:wire.HeaderSize+n], kindData)
	}
	p.count.tilesSent.Add(1)
}

// finish sends what follows a frame's last tile: the parity of a protected frame,
// sized for datagram loss rate loss (a fraction), then the end marker. Only the
// goroutine that sent the frame's last tile calls it.
func (p *packer) finish(fj *frameJob, loss float64) {
	if fj.parity != nil {
		err := fj.parity.Parity(fj.hdr, loss, func(d []byte, n int) {
			p.send(p.conns[n%len(p.conns)], &fj.sent, d, kindParity)
		})
		if err != nil {
			p.count.encErrs.Add(1)
		}
	}
	p.sendEnd(fj)
}

// sendEnd sends the frame's end marker after all its datagrams (docs/PROTOCOL.md
// §3.5), so the receiver releases a frame that lost datagrams at once instead of
// when the next frame arrives, and its acknowledgement, and so the repair, come a
// frame sooner.
func (p *packer) sendEnd(fj *frameJob) {
	n := fj.sent.dataDatagrams()
	if n == 0 {
		return // nothing was sent
	}
	h := fj.hdr
	h.SetEnd(n - 1)
	var d [wire.HeaderSize]byte
	if _, err := h.MarshalTo(d[:]); err != nil {
		p.count.encErrs.Add(1)
		return
	}
	p.send(p.conns[int(h.Frame)%len(p.conns)], &fj.sent, d[:], kindEnd)
}

// send paces and sends one datagram of a frame and tallies it: the ack's byte
// count measures data datagrams' payload alone.
func (p *packer) send(c io.Writer, t *tally, d []byte, k kind) {
	clearPayload := len(d) - wire.HeaderSize
	if p.sealer != nil {
		buf := p.sealBufs.Get().(*[]byte)
		defer p.sealBufs.Put(buf)
		wire.SetSealed(d)
		sealed, err := p.sealer.SealDatagram((*buf)[:0], d, wire.HeaderSize)
		if err != nil {
			p.count.encErrs.Add(1)
			return
		}
		d = sealed
	}
	t.paced.Add(int64(p.pace.wait(len(d))))
	us := time.Now().UnixMicro()
	t.firstSendUS.CompareAndSwap(0, us)
	t.lastSendUS.Store(us)
	if _, err := c.Write(d); err != nil {
		p.count.sendErrs.Add(1) // e.g. ECONNREFUSED while no receiver listens: keep going
		return
	}
	p.count.datagrams.Add(1)
	p.count.bytes.Add(uint64(len(d)))
	t.bytes.Add(int64(len(d)))
	if k == kindData {
		t.payload.Add(int64(clearPayload))
	}
	t.datagrams.Add(1)
}
