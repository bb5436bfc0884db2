package sender

import (
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/udp"
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
// bringing its own outbox.
type packer struct {
	conns []io.Writer // connected UDP sockets: one Write is one datagram
	pace  *pacer
	mtu   int // largest clear datagram, header included (the MTU less seal.Overhead when sealing)
	count *counters
	// sealer, when set, seals every datagram after its header (docs/PROTOCOL.md §7.3).
	sealer *seal.Sealer
	// path is how outboxes send on the UDP sockets among conns: udp.SendGSO (the
	// default) steps down by itself where the kernel lacks it.
	path   udp.SendPath
	log    *slog.Logger
	warned atomic.Bool // a path below the one asked for was said once
}

// Outbox limits: a batch is one system call (udp.Writer's messages) and never more
// than the pacer lets through at once.
const (
	outboxDatagrams = 64
	// parityRun is how many consecutive parity datagrams go to one socket: enough
	// for a GSO run, few enough that a frame's parity still spreads over the
	// receiver's readers.
	parityRun = 16
)

// outbox is one encoder's batch of datagrams on their way to one socket: built in
// place in one buffer, paced as one burst of at most the pacer's budget, and handed
// to the kernel in one call (a GSO run of a tile's equal fragments becomes one
// message). It belongs to one encoder goroutine.
type outbox struct {
	p       *packer
	ws      []batchWriter // one per socket, made when first used
	buf     []byte        // the batch's datagrams, back to back
	dgrams  [][]byte      // slices of buf
	payload []int32       // clear payload of each data datagram (0 for parity and the end marker)
	scratch []byte        // a clear datagram before it is sealed into buf
	conn    int           // the socket the batch goes to
	t       *tally        // the frame it belongs to
	limit   int           // the batch's byte budget, the pacer's burst when it began
}

// batchWriter sends datagrams in order and says how many went: *udp.Writer, or
// oneByOne for any io.Writer.
type batchWriter interface {
	Write(dgrams [][]byte) (int, error)
}

// oneByOne sends a batch one Write per datagram.
type oneByOne struct{ w io.Writer }

func (o oneByOne) Write(dgrams [][]byte) (int, error) {
	for i, d := range dgrams {
		if _, err := o.w.Write(d); err != nil {
			return i, err
		}
	}
	return len(dgrams), nil
}

// wireMTU is the largest datagram on the wire, sealed or not.
func (p *packer) wireMTU() int {
	if p.sealer != nil {
		return p.mtu + seal.Overhead
	}
	return p.mtu
}

// newOutbox makes an encoder's outbox.
func (p *packer) newOutbox() *outbox {
	room := min(outboxDatagrams*p.wireMTU(), udp.MaxBatchBytes+p.wireMTU())
	return &outbox{p: p, ws: make([]batchWriter, len(p.conns)), buf: make([]byte, 0, room),
		dgrams: make([][]byte, 0, outboxDatagrams), payload: make([]int32, 0, outboxDatagrams), scratch: make([]byte, p.mtu)}
}

// packTile sends tile j's payload as the fragments of frame fj, on conns[spread%n].
func (p *packer) packTile(o *outbox, fj *frameJob, j tileJob, payload []byte, spread int) {
	defer o.flush()
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
	c := spread % len(p.conns)
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
		dgram := o.next(c, &fj.sent)
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
		o.add(wire.HeaderSize+n, kindData)
	}
	p.count.tilesSent.Add(1)
}

// finish sends what follows a frame's last tile: the parity of a protected frame,
// sized for datagram loss rate loss (a fraction), then the end marker. Only the
// goroutine that sent the frame's last tile calls it, with its outbox.
func (p *packer) finish(o *outbox, fj *frameJob, loss float64) {
	if fj.parity != nil {
		err := fj.parity.Parity(fj.hdr, loss, func(d []byte, n int) {
			copy(o.next((n/parityRun)%len(p.conns), &fj.sent), d)
			o.add(len(d), kindParity)
		})
		if err != nil {
			p.count.encErrs.Add(1)
		}
	}
	p.sendEnd(o, fj)
}

// sendEnd sends the frame's end marker after all its datagrams (docs/PROTOCOL.md
// §3.5), so the receiver releases a frame that lost datagrams at once instead of
// when the next frame arrives, and its acknowledgement, and so the repair, come a
// frame sooner.
func (p *packer) sendEnd(o *outbox, fj *frameJob) {
	defer o.flush()
	n := fj.sent.dataDatagrams()
	if n == 0 {
		return // nothing was sent
	}
	h := fj.hdr
	h.SetEnd(n - 1)
	o.flush() // everything before goes first, whichever socket it took
	d := o.next(int(h.Frame)%len(p.conns), &fj.sent)
	if _, err := h.MarshalTo(d); err != nil {
		p.count.encErrs.Add(1)
		return
	}
	o.add(wire.HeaderSize, kindEnd)
}

// next returns where the next datagram's clear bytes go, p.mtu of them, for
// socket conn and frame t: sending the batch first when it is for another socket
// or frame, or has no room for one more.
func (o *outbox) next(conn int, t *tally) []byte {
	wmtu := o.p.wireMTU()
	if len(o.dgrams) > 0 && (conn != o.conn || t != o.t || len(o.dgrams) == cap(o.dgrams) ||
		len(o.buf)+wmtu > min(o.limit, cap(o.buf))) {
		o.flush()
	}
	if len(o.dgrams) == 0 {
		o.conn, o.t = conn, t
		o.limit = min(max(o.p.pace.budget(), wmtu), udp.MaxBatchBytes)
	}
	if o.p.sealer != nil {
		return o.scratch[:o.p.mtu]
	}
	return o.buf[len(o.buf) : len(o.buf)+o.p.mtu]
}

// add appends the datagram of n clear bytes that next's buffer holds, sealing it
// into the batch when the stream is keyed.
func (o *outbox) add(n int, k kind) {
	at := len(o.buf)
	slot := o.buf[at : at+o.p.wireMTU()]
	d := slot[:n]
	if o.p.sealer != nil {
		clear := o.scratch[:n]
		wire.SetSealed(clear)
		sealed, err := o.p.sealer.SealDatagram(slot[:0], clear, wire.HeaderSize)
		if err != nil || len(sealed) > len(slot) {
			o.p.count.encErrs.Add(1)
			return
		}
		d = sealed
	}
	o.buf = o.buf[:at+len(d)]
	o.dgrams = append(o.dgrams, d)
	pl := int32(0)
	if k == kindData {
		pl = int32(n - wire.HeaderSize) // the ack's byte count measures data datagrams' payload alone
	}
	o.payload = append(o.payload, pl)
}

// flush paces the batch as one burst and sends it on its socket, tallying what
// went. A datagram the kernel refuses (ECONNREFUSED while no receiver listens, say)
// is counted and skipped; the rest still go.
func (o *outbox) flush() {
	if len(o.dgrams) == 0 {
		return
	}
	p, t := o.p, o.t
	t.paced.Add(int64(p.pace.wait(len(o.buf))))
	us := time.Now().UnixMicro()
	t.firstSendUS.CompareAndSwap(0, us)
	t.lastSendUS.Store(us)
	w := o.writer(o.conn)
	for rest := 0; rest < len(o.dgrams); {
		n, err := w.Write(o.dgrams[rest:])
		for i := rest; i < rest+n; i++ {
			p.count.datagrams.Add(1)
			p.count.bytes.Add(uint64(len(o.dgrams[i])))
			t.bytes.Add(int64(len(o.dgrams[i])))
			t.payload.Add(int64(o.payload[i]))
			t.datagrams.Add(1)
		}
		rest += n
		if err != nil || n == 0 {
			p.count.sendErrs.Add(1)
			rest++
		}
	}
	if uw, ok := w.(*udp.Writer); ok && uw.Refused() != nil && p.log != nil && !p.warned.Swap(true) {
		p.log.Info("udp: sending without GSO", "path", uw.Path().String(), "reason", uw.Refused())
	}
	o.buf, o.dgrams, o.payload, o.t = o.buf[:0], o.dgrams[:0], o.payload[:0], nil
}

// writer is the outbox's writer for socket i: a udp.Writer for a UDP socket.
func (o *outbox) writer(i int) batchWriter {
	if w := o.ws[i]; w != nil {
		return w
	}
	var w batchWriter = oneByOne{o.p.conns[i]}
	if c, ok := o.p.conns[i].(*net.UDPConn); ok {
		if uw, err := udp.NewWriter(c, o.p.path, outboxDatagrams); err == nil {
			w = uw
		}
	}
	o.ws[i] = w
	return w
}
