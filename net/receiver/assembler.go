package receiver

import (
	"context"
	"image"
	"sort"
	"sync"
	"time"

	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// assembler owns all reassembly state; only its goroutine touches it. Decoding runs
// on a pool of workers that write straight into the frame's pixels (each tile its
// own rectangle) and report back through results.
type assembler struct {
	r       *Receiver
	stream  uint32
	haveStr bool
	lastAt  time.Time // last datagram of the current stream
	sender  string

	pending  []*pendingFrame // sorted by frame number, oldest first
	lastNo   uint32          // newest released frame number
	released bool            // whether lastNo is meaningful
	last     *Frame          // newest released frame, kept for concealment
	pool     *framePool
	reserved int // bytes held by reassembly buffers
	// spare holds reassembly tiles whose decode finished, for reuse, so the
	// steady state allocates no per-tile buffers; at most maxSpareTiles holding
	// at most maxSpareBytes, so hostile giant tiles cannot pin memory.
	spare      []*pendingTile
	spareBytes int

	// results has room for every outstanding job, so decoders never block on it
	// while the assembler blocks on jobs.
	jobs        chan decodeJob
	results     chan decodeResult
	outstanding int
	workers     sync.WaitGroup
}

type pendingFrame struct {
	no                          uint32
	f                           *Frame
	w, h, gridTiles, frameTiles int
	quality                     int
	sub                         uint8
	captureLow                  uint32 // as stamped: low 32 bits of the sender's µs clock
	tileW, tileH                uint16
	first, lastAt, newerAt      time.Time
	tiles                       map[uint16]*pendingTile
	got                         []byte // bitmap of tiles decoded into f
	covered                     []bool // 16x8 blocks written by decoded tiles
	decoded, failed, decoding   int
	bytes                       int
	closing                     bool
}

type pendingTile struct {
	buf      []byte
	have     []byte // bitmap of fragments
	frags    int
	received int
	done     bool     // handed to a decoder
	group    int      // fragments per parity group, 0 before a parity datagram arrived
	parity   [][]byte // per group, the XOR of its fragments; nil until it arrives
	extra    int      // bytes held by parity
}

// size is what the tile holds against the memory budget.
func (t *pendingTile) size() int { return len(t.buf) + t.extra }

func (t *pendingTile) has(i int) bool { return t.have[i/8]&(0x80>>(i%8)) != 0 }

type decodeJob struct {
	pf   *pendingFrame
	tile uint16
	rect image.Rectangle
	buf  []byte
}

type decodeResult struct {
	pf   *pendingFrame
	tile uint16
	rect image.Rectangle
	ok   bool
}

func newAssembler(r *Receiver) *assembler {
	return &assembler{r: r, jobs: make(chan decodeJob, 4096), results: make(chan decodeResult, 4096)}
}

// before reports whether frame number a comes before b, allowing for wraparound.
func before(a, b uint32) bool { return int32(a-b) < 0 }

func (a *assembler) run(ctx context.Context) {
	for i := 0; i < a.r.cfg.Decoders; i++ {
		a.workers.Add(1)
		go a.decoder()
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	packets := a.r.packets
	for packets != nil || a.decodingAny() {
		select {
		case p, ok := <-packets:
			if !ok {
				packets = nil
				continue
			}
			a.handle(p)
			p.free()
		case res := <-a.results:
			a.finishDecode(res)
		case now := <-tick.C:
			a.expire(now)
		}
		a.release()
	}
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

func (a *assembler) decoder() {
	defer a.workers.Done()
	dec := a.r.cfg.NewDecoder(&a.r.heads)
	for j := range a.jobs {
		pf := j.pf
		err := dec.DecodeTile(pf.f.Image, j.rect, pf.quality, pf.sub, j.buf)
		a.results <- decodeResult{pf: pf, tile: j.tile, rect: j.rect, ok: err == nil}
	}
}

// handle files one datagram into its frame and tile.
func (a *assembler) handle(p packet) {
	h := &p.h
	if !a.acceptStream(h.Stream, p) {
		a.r.c.invalid.Add(1)
		return
	}
	a.lastAt = p.at
	if a.released && !before(a.lastNo, h.Frame) {
		a.r.c.late.Add(1)
		return
	}
	pf := a.frame(h, p.at)
	if pf == nil {
		return
	}
	if pf.closing {
		a.r.c.late.Add(1)
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
	t := pf.tiles[h.Tile]
	if t == nil {
		if pf.got[h.Tile/8]&(0x80>>(h.Tile%8)) != 0 {
			a.r.c.dup.Add(1)
			return
		}
		if a.reserved+int(h.PayloadSize) > maxReserved {
			a.r.c.overflow.Add(1)
			return
		}
		t = a.newTile(int(h.PayloadSize), int(h.Fragments))
		a.reserved += int(h.PayloadSize)
		pf.tiles[h.Tile] = t
	}
	if t.done {
		a.r.c.dup.Add(1)
		return
	}
	if len(t.buf) != int(h.PayloadSize) || t.frags != int(h.Fragments) {
		a.r.c.invalid.Add(1) // the same tile described two ways: not ours to trust
		return
	}
	var group int
	if h.Flags&wire.FlagParity != 0 {
		if !a.addParity(t, h, p.payload) {
			return
		}
		group = int(h.Fragment)
	} else {
		if t.has(int(h.Fragment)) {
			a.r.c.dup.Add(1)
			return
		}
		// Only fragments that arrived count, not parity nor what parity rebuilt: the
		// sender compares this with what it sent to measure the path's loss.
		pf.bytes += len(p.payload)
		t.have[h.Fragment/8] |= 0x80 >> (h.Fragment % 8)
		off, _ := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
		copy(t.buf[off:], p.payload)
		t.received++
		if t.group > 0 {
			group = int(h.Fragment) / t.group
		}
	}
	if t.group > 0 && t.received < t.frags {
		a.recover(t, h, group)
	}
	if t.received == t.frags {
		if a.outstanding >= cap(a.jobs) { // decoders hopelessly behind: shed the tile
			a.r.c.overflow.Add(1)
			a.reserved -= t.size()
			delete(pf.tiles, h.Tile)
			return
		}
		t.done = true
		pf.decoding++
		a.outstanding++
		x, y, w, hh := h.Rect()
		a.jobs <- decodeJob{pf: pf, tile: h.Tile, rect: image.Rect(x, y, x+w, y+hh), buf: t.buf}
	}
}

// addParity files a parity datagram; false means it was dropped (and counted).
func (a *assembler) addParity(t *pendingTile, h *wire.Header, payload []byte) bool {
	g := h.ParityGroup()
	if t.group == 0 {
		t.group = g
		t.parity = make([][]byte, wire.ParityGroups(t.frags, g))
	}
	if t.group != g {
		a.r.c.invalid.Add(1) // the same tile protected two ways
		return false
	}
	if t.parity[h.Fragment] != nil {
		a.r.c.dup.Add(1)
		return false
	}
	if a.reserved+len(payload) > maxReserved {
		a.r.c.overflow.Add(1)
		return false
	}
	t.parity[h.Fragment] = append([]byte(nil), payload...)
	t.extra += len(payload)
	a.reserved += len(payload)
	return true
}

// recover rebuilds the one missing fragment of a parity group, when exactly one is
// missing and the group's parity arrived: XOR parity is the sum of the group's
// fragments (each zero-padded to the first one's length), so the missing one is the
// parity minus the others (docs/PROTOCOL.md §3.4).
func (a *assembler) recover(t *pendingTile, h *wire.Header, group int) {
	if group >= len(t.parity) || t.parity[group] == nil {
		return
	}
	first, last := group*t.group, min((group+1)*t.group, t.frags)
	missing := -1
	for i := first; i < last; i++ {
		if !t.has(i) {
			if missing >= 0 {
				return // two or more gone: parity cannot help
			}
			missing = i
		}
	}
	if missing < 0 {
		return
	}
	acc := t.parity[group] // consumed: the group will be whole after this
	for i := first; i < last; i++ {
		if i == missing {
			continue
		}
		off, n := wire.FragmentSpan(h.PayloadSize, h.Fragments, uint16(i))
		for k, b := range t.buf[off : off+n] {
			acc[k] ^= b
		}
	}
	off, n := wire.FragmentSpan(h.PayloadSize, h.Fragments, uint16(missing))
	copy(t.buf[off:off+n], acc[:n])
	t.have[missing/8] |= 0x80 >> (missing % 8)
	t.received++
	a.r.c.recovered.Add(1)
}

// acceptStream decides whether a datagram's stream is the one being played. A new
// stream takes over when the control link announced it or when the current one
// has gone quiet, so a restarted sender is picked up at once while stray datagrams
// with a foreign id cannot keep resetting the picture.
func (a *assembler) acceptStream(stream uint32, p packet) bool {
	if a.haveStr && stream == a.stream {
		return true
	}
	if a.haveStr && stream != a.r.announced.Load() && p.at.Sub(a.lastAt) < silentSwitchTo {
		return false
	}
	if a.haveStr {
		a.r.cfg.Log.Info("new stream: sender restarted or replaced", "old", a.stream, "new", stream, "from", p.from)
		for _, pf := range a.pending {
			pf.closing = true
		}
	}
	a.stream, a.haveStr, a.released = stream, true, false
	a.sender = p.from.String()
	a.r.c.streams.Add(1)
	a.r.mu.Lock()
	a.r.sender = a.sender
	a.r.mu.Unlock()
	return true
}

// frame finds or starts the pending frame a datagram belongs to; nil means drop.
func (a *assembler) frame(h *wire.Header, at time.Time) *pendingFrame {
	i := sort.Search(len(a.pending), func(i int) bool { return !before(a.pending[i].no, h.Frame) })
	if i < len(a.pending) && a.pending[i].no == h.Frame {
		pf := a.pending[i]
		if pf.w != int(h.Width) || pf.h != int(h.Height) || pf.gridTiles != int(h.GridTiles) ||
			pf.frameTiles != int(h.FrameTiles) || pf.quality != int(h.Quality) || pf.sub != h.Format&0xf ||
			pf.tileW != h.TileW || pf.tileH != h.TileH || pf.captureLow != h.CaptureUS {
			a.r.c.invalid.Add(1)
			return nil
		}
		return pf
	}
	if len(a.pending) >= maxPending {
		a.pending[0].closing = true // the oldest gives way; it is released as soon as it can be
		if i == 0 {
			a.r.c.late.Add(1)
			return nil
		}
	}
	sub := tile.SubsampleRatio(h.Format & 0xf)
	if a.pool == nil || a.pool.w != int(h.Width) || a.pool.h != int(h.Height) || a.pool.sub != sub {
		a.pool = newFramePool(int(h.Width), int(h.Height), sub)
	}
	f := a.pool.get()
	f.Stream, f.Seq, f.Sender = a.stream, h.Frame, a.sender
	f.Tiles, f.TilesMissing, f.Quality, f.Bytes = int(h.FrameTiles), 0, int(h.Quality), 0
	pf := &pendingFrame{
		no: h.Frame, f: f, w: int(h.Width), h: int(h.Height), gridTiles: int(h.GridTiles), frameTiles: int(h.FrameTiles),
		quality: int(h.Quality), sub: h.Format & 0xf, captureLow: h.CaptureUS, tileW: h.TileW, tileH: h.TileH,
		first: at, lastAt: at,
		tiles: make(map[uint16]*pendingTile), got: make([]byte, (int(h.GridTiles)+7)/8),
		covered: make([]bool, ((int(h.Width)+blockW-1)/blockW)*((int(h.Height)+blockH-1)/blockH)),
	}
	a.pending = append(a.pending, nil)
	copy(a.pending[i+1:], a.pending[i:])
	a.pending[i] = pf
	return pf
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
		a.reserved -= t.size()
		delete(pf.tiles, res.tile)
		// The decoder is done with t.buf: keep it for a later frame's tile.
		if len(a.spare) < maxSpareTiles && a.spareBytes+cap(t.buf) <= maxSpareBytes {
			a.spare = append(a.spare, t)
			a.spareBytes += cap(t.buf)
		}
	}
	if res.ok {
		pf.decoded++
		pf.got[res.tile/8] |= 0x80 >> (res.tile % 8)
		pf.cover(res.rect)
	} else {
		pf.failed++
		a.r.c.decErr.Add(1)
	}
}

// expire closes frames that can no longer complete. The sender sends frames one
// after another, so once a newer frame's datagrams have been arriving for longer
// than reordering explains, an older frame's missing datagrams are lost. A frame
// that hears nothing for Deadline is closed too (the last frame before a pause),
// and none waits longer than maxAssembly deadlines in all.
func (a *assembler) expire(now time.Time) {
	for _, pf := range a.pending {
		if pf.closing {
			continue
		}
		if (!pf.newerAt.IsZero() && now.Sub(pf.newerAt) > reorderGrace) ||
			now.Sub(pf.lastAt) > a.r.cfg.Deadline || now.Sub(pf.first) > maxAssembly*a.r.cfg.Deadline {
			pf.closing = true
		}
	}
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
			pf.closing = true
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
		a.reserved -= t.size()
	}
	f := pf.f
	if f.Stream != a.stream { // a frame of a stream that has since been replaced
		f.Release()
		return
	}
	a.conceal(pf)
	now := time.Now()
	f.TilesMissing = pf.frameTiles - pf.decoded
	f.Bytes = pf.bytes
	// The sender's clock reads our clock plus the measured offset.
	off, _ := a.r.ctl.Offset()
	f.CaptureUS = wire.UnwrapTime(pf.captureLow, now.Add(off).UnixMicro())
	f.Captured = time.UnixMicro(f.CaptureUS).Add(-off)
	f.Ready = now

	c := &a.r.c
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
	a.r.latency.Add(f.Latency())
	a.r.recent.Add(f.Latency())
	a.r.mu.Lock()
	if a.r.first.IsZero() {
		a.r.first = now
	}
	a.r.lastFrame = now
	a.r.info.w, a.r.info.h, a.r.info.q = pf.w, pf.h, pf.quality
	a.r.mu.Unlock()
	a.lastNo, a.released = pf.no, true

	ack := wire.Ack{Stream: a.stream, Frame: pf.no, FirstUS: pf.first.UnixMicro(), ReadyUS: now.UnixMicro(),
		Bytes: uint32(pf.bytes), Received: uint16(pf.decoded), FrameTiles: uint16(pf.frameTiles),
		GridTiles: uint16(pf.gridTiles), Got: pf.got}
	a.r.ctl.SendAck(&ack)

	if a.last != nil {
		a.last.Release()
	}
	f.Retain()
	a.last = f
	a.r.latest.put(f)
}

// Concealment works on a coverage map of 16x8 blocks, the smallest unit every tile
// rectangle is aligned to, because the rectangles of tiles that never arrived are
// unknown: whatever no decoded tile covered takes the previous frame's pixels (or
// black before the first frame). Tiles a frame did not carry are covered the same way.
const blockW, blockH = 16, 8

func (pf *pendingFrame) cover(r image.Rectangle) {
	bw := (pf.w + blockW - 1) / blockW
	for by := r.Min.Y / blockH; by < (r.Max.Y+blockH-1)/blockH; by++ {
		for bx := r.Min.X / blockW; bx < (r.Max.X+blockW-1)/blockW; bx++ {
			pf.covered[by*bw+bx] = true
		}
	}
}

func (a *assembler) conceal(pf *pendingFrame) {
	img := pf.f.Image
	var prev *image.YCbCr
	if a.last != nil && a.last.Image.Rect == img.Rect && a.last.Image.SubsampleRatio == img.SubsampleRatio {
		prev = a.last.Image
	}
	bw, bh := (pf.w+blockW-1)/blockW, (pf.h+blockH-1)/blockH
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; {
			if pf.covered[by*bw+bx] {
				bx++
				continue
			}
			run := bx
			for run < bw && !pf.covered[by*bw+run] {
				run++
			}
			r := image.Rect(bx*blockW, by*blockH, run*blockW, (by+1)*blockH).Intersect(img.Rect)
			if prev != nil {
				tile.CopyRect(img, prev, r)
			} else {
				fillBlack(img, r)
			}
			bx = run
		}
	}
}

func fillBlack(img *image.YCbCr, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Y[y*img.YStride+r.Min.X : y*img.YStride+r.Max.X]
		for i := range row {
			row[i] = 16
		}
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i := img.COffset(x, y)
			img.Cb[i], img.Cr[i] = 128, 128
		}
	}
}
