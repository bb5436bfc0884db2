package receiver

import (
	"errors"
	"image"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/wire"
)

// pendingTile is one tile's payload being reassembled from its fragments.
type pendingTile struct {
	buf      []byte
	have     []byte // bitmap of fragments
	frags    int
	received int
	done     bool // handed to a decoder
}

// size is what the tile holds against the memory budget.
func (t *pendingTile) size() int { return len(t.buf) }

type decodeJob struct {
	pf   *pendingFrame
	tile uint16
	rect image.Rectangle
	buf  []byte
	ts   *fastjpeg.TableSet // codecs 1 and 2: the table set the tile names; nil for codec 0
	// restart is the set's restart interval (codec 2's DRI), 0 for a codec 1 set.
	restart int
}

type decodeResult struct {
	pf   *pendingFrame
	tile uint16
	rect image.Rectangle
	ok   bool
}

// errSetCodec is a codec 1 tile naming a codec 2 set (or the reverse).
var errSetCodec = errors.New("receiver: the tile's table set is of the other codec")

// startDecoders starts the decode workers; stop ends them.
func (a *assembler) startDecoders() {
	for range a.cfg.decoders {
		a.workers.Add(1)
		go a.decoder()
	}
}

func (a *assembler) decoder() {
	defer a.workers.Done()
	dec := a.cfg.newDecoder(&a.heads)
	var tables fastjpeg.Decoder // codec 1 and 2 tiles: any baseline tables, never image/jpeg
	for j := range a.jobs {
		pf := j.pf
		if a.stopping.Load() { // nobody will see this frame: hand the job back undone
			a.results <- decodeResult{pf: pf, tile: j.tile, rect: j.rect}
			continue
		}
		var err error
		// The frame's image has the frame's subsampling, which the tile shares.
		switch {
		case j.ts == nil:
			err = dec.DecodeTile(pf.f.Image, j.rect, pf.quality, pf.sub, j.buf)
		case (j.restart > 0) != (pf.codec == wire.CodecRestartScan):
			// A set of the other codec under this id: the sender's mistake, never
			// decoded as what it is not (counted as a decode error, concealed).
			err = errSetCodec
		case j.restart > 0:
			// Cut at its RST markers, each interval decoded as a scan of its own;
			// a wrong count or order of markers is an error, never a panic.
			err = tables.DecodeRestartTile(pf.f.Image, j.rect, j.ts, fastjpeg.Subsampling(pf.sub), j.restart, j.buf)
		default:
			err = tables.DecodeTile(pf.f.Image, j.rect, j.ts, fastjpeg.Subsampling(pf.sub), j.buf)
		}
		a.results <- decodeResult{pf: pf, tile: j.tile, rect: j.rect, ok: err == nil}
	}
}

// fileData copies a data datagram's fragment into its tile and hands the tile to a
// decoder once whole. rebuilt says it came from parity, not from the network.
func (a *assembler) fileData(pf *pendingFrame, h *wire.Header, payload []byte, rebuilt bool) {
	t := pf.tiles[h.Tile]
	if t == nil {
		if wire.Bit(pf.got, int(h.Tile)) {
			if !rebuilt {
				a.c.dup.Add(1)
			}
			return
		}
		if pf.started >= pf.frameTiles {
			// More distinct tiles than the frame declared: a broken or lying sender,
			// whose ack would otherwise report more tiles than the frame has.
			a.c.invalid.Add(1)
			return
		}
		if !a.budget.Take(int(h.PayloadSize)) {
			a.c.overflow.Add(1)
			return
		}
		t = a.newTile(int(h.PayloadSize), int(h.Fragments))
		pf.tiles[h.Tile] = t
		pf.started++
	}
	if t.done || wire.Bit(t.have, int(h.Fragment)) {
		if !rebuilt {
			a.c.dup.Add(1)
		}
		return
	}
	if len(t.buf) != int(h.PayloadSize) || t.frags != int(h.Fragments) {
		a.c.invalid.Add(1) // the same tile described two ways: not ours to trust
		return
	}
	if rebuilt {
		a.c.recovered.Add(1)
	} else {
		// Only fragments that arrived count, not what parity rebuilt: the sender
		// compares this with what it sent to measure the path's loss.
		pf.bytes += len(payload)
	}
	wire.SetBit(t.have, int(h.Fragment))
	off, _ := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
	copy(t.buf[off:], payload)
	t.received++
	if t.received < t.frags {
		return
	}
	var ts *fastjpeg.TableSet
	restart := 0
	if pf.codec != wire.CodecJPEGScan {
		if ts, restart = a.sets.lookup(uint8(pf.quality)); ts == nil {
			// Its table set has not come (lost, or the stream joined late): the tile
			// waits for it until the frame is released (defineTables, finish).
			t.done = true
			pf.waiting = append(pf.waiting, h.Tile)
			return
		}
	}
	a.dispatch(pf, h.Tile, t, ts, restart)
}

// dispatch hands whole tile i of pf to a decoder, coded with ts (nil for codec 0)
// and restart interval restart (0 but for a codec 2 set).
func (a *assembler) dispatch(pf *pendingFrame, i uint16, t *pendingTile, ts *fastjpeg.TableSet, restart int) {
	if a.outstanding >= cap(a.jobs) { // decoders hopelessly behind: shed the tile
		a.c.overflow.Add(1)
		a.budget.Give(t.size())
		delete(pf.tiles, i)
		return
	}
	t.done = true
	pf.decoding++
	a.outstanding++
	x, y := int(i)%pf.cols()*int(pf.tileW), int(i)/pf.cols()*int(pf.tileH)
	r := image.Rect(x, y, min(x+int(pf.tileW), pf.w), min(y+int(pf.tileH), pf.h))
	a.jobs <- decodeJob{pf: pf, tile: i, rect: r, buf: t.buf, ts: ts, restart: restart}
	if pf.handed++; pf.handed >= pf.frameTiles && pf.releasedAt.IsZero() {
		pf.releasedAt = a.cfg.now() // complete: see finish
	}
}

// cols is the number of tiles across pf's grid (docs/PROTOCOL.md §2).
func (pf *pendingFrame) cols() int { return (pf.w + int(pf.tileW) - 1) / int(pf.tileW) }

// defineTables takes a table datagram of the current stream and hands the tiles
// that waited for the set to the decoders. A set that does not parse is counted
// invalid; tiles naming it keep waiting.
func (a *assembler) defineTables(id, codec uint8, payload []byte) {
	fresh, err := a.sets.define(id, codec, payload)
	if err != nil {
		a.c.invalid.Add(1)
		return
	}
	if !fresh {
		return
	}
	ts, restart := a.sets.lookup(id)
	for _, pf := range a.pending {
		if pf.codec == wire.CodecJPEGScan || pf.quality != int(id) || len(pf.waiting) == 0 {
			continue
		}
		waiting := pf.waiting
		pf.waiting = nil
		for _, i := range waiting {
			if t := pf.tiles[i]; t != nil {
				a.dispatch(pf, i, t, ts, restart)
			}
		}
	}
}

// maxSpareTiles bounds the reuse list: a 4K frame of default tiles has 255.
// maxSpareBytes bounds the memory it keeps.
const (
	maxSpareTiles = 512
	maxSpareBytes = 32 << 20
)

// newTile returns a reassembly tile for size bytes in frags fragments, reusing the
// newest spare tile's buffers when they are large enough.
func (a *assembler) newTile(size, frags int) *pendingTile {
	nh := (frags + 7) / 8
	if n := len(a.spare); n > 0 {
		t := a.spare[n-1]
		a.spare = a.spare[:n-1]
		a.spareBytes -= cap(t.buf)
		if cap(t.buf) >= size && cap(t.have) >= nh {
			*t = pendingTile{buf: t.buf[:size], have: t.have[:nh], frags: frags}
			clear(t.have)
			return t
		}
	}
	// Room to grow by a quarter, so the next frame's slightly larger tile fits.
	return &pendingTile{buf: make([]byte, size, size+size/4), have: make([]byte, nh, max(nh, 8)), frags: frags}
}

func (a *assembler) finishDecode(res decodeResult) {
	pf := res.pf
	pf.decoding--
	a.outstanding--
	if t := pf.tiles[res.tile]; t != nil {
		a.budget.Give(t.size())
		delete(pf.tiles, res.tile)
		// The decoder is done with t.buf: keep it for a later frame's tile.
		if len(a.spare) < maxSpareTiles && a.spareBytes+cap(t.buf) <= maxSpareBytes {
			a.spare = append(a.spare, t)
			a.spareBytes += cap(t.buf)
		}
	}
	if res.ok {
		pf.decoded++
		wire.SetBit(pf.got, int(res.tile))
		pf.cover(res.rect)
	} else {
		pf.failed++
		if !a.stopping.Load() { // a job handed back undone at the stop is no decode error
			a.c.decErr.Add(1)
		}
	}
}
