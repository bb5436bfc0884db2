package receiver

import (
	"context"
	"image"
	"sort"
	"sync"
	"time"

	"github.com/hrvs/hrvs/net/fec"
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
	// codes rebuilds lost datagrams from parity; rebuilt is scratch for one
	// rebuilt datagram.
	codes   *fec.Codes
	rebuilt []byte
	// spareShards holds shard buffers of blocks that are done, for reuse: under
	// loss every protected datagram is copied, so the copies should not be garbage.
	spareShards [][]byte
	// endLate is the latest a datagram has lately arrived after its frame's end
	// marker (reordering on the path), decaying frame by frame; a frame closes
	// twice that after its marker (endGrace).
	endLate time.Duration

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
	endAt                       time.Time // the sender's end marker arrived
	tiles                       map[uint16]*pendingTile
	got                         []byte // bitmap of tiles decoded into f
	covered                     []bool // 16x8 blocks written by decoded tiles
	decoded, failed, decoding   int
	bytes                       int
	closing                     bool
	arrived                     []byte // bitmap of data datagram indices that came from the network
	datagrams                   int    // data datagram indices known: highest seen + 1, or a block's end
	fec                         *frameFEC
}

// frameFEC holds what a protected frame needs to rebuild lost datagrams: copies of
// the data shards that arrived (until their block is whole) and the blocks that
// parity datagrams described.
type frameFEC struct {
	shards map[uint16][]byte // prefix and payload of data datagrams, by index
	blocks []*fecBlock
}

type fecBlock struct {
	b      wire.Block  // Index unused
	l      int         // shard length
	hdr    wire.Header // a parity datagram's header: the frame fields of rebuilt datagrams
	parity [][]byte    // by parity index; nil until it arrives
	have   int         // parity shards that arrived
	done   bool        // rebuilt, or nothing was missing: its memory is released
}

// maxBlocks bounds the blocks one frame may describe (each datagram looks its block
// up): a sender cutting 65536 datagrams into blocks of 128, as hrvs does, needs 512.
const maxBlocks = 1024

// markArrived records that data datagram seq came from the network.
func (pf *pendingFrame) markArrived(seq uint16) {
	i := int(seq)
	for len(pf.arrived) <= i/8 {
		pf.arrived = append(pf.arrived, 0)
	}
	wire.SetBit(pf.arrived, i)
	pf.datagrams = max(pf.datagrams, i+1)
}

type pendingTile struct {
	buf      []byte
	have     []byte // bitmap of fragments
	frags    int
	received int
	done     bool // handed to a decoder
}

// size is what the tile holds against the memory budget.
func (t *pendingTile) size() int { return len(t.buf) }

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
	return &assembler{r: r, jobs: make(chan decodeJob, 4096), results: make(chan decodeResult, 4096),
		codes: fec.NewCodes(), rebuilt: make([]byte, wire.MaxDatagram)}
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
		switch {
		case h.IsEnd(): // the end of a frame released whole: as expected
		case h.Flags&wire.FlagParity != 0:
			a.r.c.dup.Add(1) // parity of a frame released whole: not needed, not late
		default:
			a.r.c.late.Add(1)
		}
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
	if !pf.endAt.IsZero() {
		a.endLate = max(a.endLate, p.at.Sub(pf.endAt))
	}
	if h.IsEnd() {
		// The sender has sent all of this frame: what has not come within the
		// reordering grace is lost, and the frame need not wait for the next one.
		if pf.endAt.IsZero() {
			pf.endAt = p.at
		}
		pf.datagrams = max(pf.datagrams, int(h.Seq)+1)
		return
	}
	if h.Flags&wire.FlagParity != 0 {
		a.addParity(pf, h, p.payload)
		return
	}
	pf.markArrived(h.Seq)
	if h.Flags&wire.FlagProtected != 0 {
		a.keepShard(pf, h, p.payload)
	}
	a.fileData(pf, h, p.payload, false)
	if pf.fec != nil {
		if blk := pf.fec.block(int(h.Seq)); blk != nil {
			a.rebuild(pf, blk)
		}
	}
}

// fileData copies a data datagram's fragment into its tile and hands the tile to a
// decoder once whole. rebuilt says it came from parity, not from the network.
func (a *assembler) fileData(pf *pendingFrame, h *wire.Header, payload []byte, rebuilt bool) {
	t := pf.tiles[h.Tile]
	if t == nil {
		if pf.got[h.Tile/8]&(0x80>>(h.Tile%8)) != 0 {
			if !rebuilt {
				a.r.c.dup.Add(1)
			}
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
	if t.done || t.has(int(h.Fragment)) {
		if !rebuilt {
			a.r.c.dup.Add(1)
		}
		return
	}
	if len(t.buf) != int(h.PayloadSize) || t.frags != int(h.Fragments) {
		a.r.c.invalid.Add(1) // the same tile described two ways: not ours to trust
		return
	}
	if rebuilt {
		a.r.c.recovered.Add(1)
	} else {
		// Only fragments that arrived count, not what parity rebuilt: the sender
		// compares this with what it sent to measure the path's loss.
		pf.bytes += len(payload)
	}
	t.have[h.Fragment/8] |= 0x80 >> (h.Fragment % 8)
	off, _ := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
	copy(t.buf[off:], payload)
	t.received++
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

// keepShard keeps a copy of a protected data datagram as its block's shard, until
// the block is whole or the frame is released.
func (a *assembler) keepShard(pf *pendingFrame, h *wire.Header, payload []byte) {
	if pf.fec == nil {
		pf.fec = &frameFEC{shards: make(map[uint16][]byte)}
	}
	if blk := pf.fec.block(int(h.Seq)); blk != nil && blk.done {
		return
	}
	if _, ok := pf.fec.shards[h.Seq]; ok {
		return
	}
	n := wire.ShardPrefix + len(payload)
	if a.reserved+n > maxReserved {
		a.r.c.overflow.Add(1)
		return
	}
	shard := a.newShard(n)
	wire.PutShardPrefix(shard, h)
	copy(shard[wire.ShardPrefix:], payload)
	pf.fec.shards[h.Seq] = shard
	a.reserved += n
}

// maxSpareShards bounds the shard buffers kept for reuse (a few blocks' worth);
// shardCap is their usual size, a full default-MTU datagram's shard.
const (
	maxSpareShards = 1024
	shardCap       = 1500
)

// newShard returns a shard buffer of n bytes, reusing a spare one when it fits.
func (a *assembler) newShard(n int) []byte {
	if k := len(a.spareShards); k > 0 && cap(a.spareShards[k-1]) >= n {
		sh := a.spareShards[k-1][:n]
		a.spareShards = a.spareShards[:k-1]
		return sh
	}
	return make([]byte, n, max(n, shardCap))
}

// putShard keeps a shard buffer nothing refers to any more.
func (a *assembler) putShard(sh []byte) {
	if len(a.spareShards) < maxSpareShards && cap(sh) <= 2*shardCap {
		a.spareShards = append(a.spareShards, sh)
	}
}

// block returns the block holding data index seq, if a parity datagram named it.
func (f *frameFEC) block(seq int) *fecBlock {
	for _, blk := range f.blocks {
		if seq >= blk.b.Start && seq < blk.b.Start+blk.b.K {
			return blk
		}
	}
	return nil
}

// addParity files a parity datagram under its block and rebuilds what the block
// lost once enough of it is there.
func (a *assembler) addParity(pf *pendingFrame, h *wire.Header, payload []byte) {
	if pf.fec == nil {
		pf.fec = &frameFEC{shards: make(map[uint16][]byte)}
	}
	b := h.Block()
	blk := pf.fec.block(b.Start)
	switch {
	case blk == nil:
		for _, o := range pf.fec.blocks {
			if b.Start < o.b.Start+o.b.K && o.b.Start < b.Start+b.K {
				a.r.c.invalid.Add(1) // overlaps a block described otherwise
				return
			}
		}
		if len(pf.fec.blocks) >= maxBlocks {
			a.r.c.invalid.Add(1)
			return
		}
		if a.reserved+blockCost(b.M) > maxReserved {
			a.r.c.overflow.Add(1)
			return
		}
		a.reserved += blockCost(b.M)
		blk = &fecBlock{b: wire.Block{Start: b.Start, K: b.K, M: b.M}, l: len(payload), hdr: *h, parity: make([][]byte, b.M)}
		pf.fec.blocks = append(pf.fec.blocks, blk)
		pf.datagrams = max(pf.datagrams, b.Start+b.K)
	case blk.b.Start != b.Start || blk.b.K != b.K || blk.b.M != b.M || blk.l != len(payload):
		a.r.c.invalid.Add(1) // the same block described two ways
		return
	}
	if blk.done || blk.parity[b.Index] != nil {
		a.r.c.dup.Add(1) // whole already, or a repeat
		return
	}
	if a.reserved+len(payload) > maxReserved {
		a.r.c.overflow.Add(1)
		return
	}
	blk.parity[b.Index] = append([]byte(nil), payload...)
	blk.have++
	a.reserved += len(payload)
	a.rebuild(pf, blk)
}

// rebuild restores a block's lost data datagrams when at least K of its K+M shards
// are in (docs/PROTOCOL.md §3.4), and files them like datagrams that arrived.
func (a *assembler) rebuild(pf *pendingFrame, blk *fecBlock) {
	if blk.done {
		return
	}
	data := make([][]byte, blk.b.K)
	have := 0
	for i := range data {
		if sh, ok := pf.fec.shards[uint16(blk.b.Start+i)]; ok {
			if len(sh) > blk.l {
				a.r.c.invalid.Add(1) // a shard longer than the block's: not this block's
				a.dropBlock(pf, blk)
				return
			}
			data[i] = sh
			have++
		}
	}
	if have == blk.b.K {
		a.dropBlock(pf, blk) // nothing lost
		return
	}
	if have+blk.have < blk.b.K {
		return
	}
	for i, sh := range data { // zero-pad to the block's shard length, in place when there is room
		if sh == nil {
			continue
		}
		if cap(sh) >= blk.l {
			data[i] = sh[:blk.l]
			clear(data[i][len(sh):])
		} else {
			p := make([]byte, blk.l)
			copy(p, sh)
			data[i] = p
		}
	}
	missing := make([]bool, len(data))
	for i := range data {
		missing[i] = data[i] == nil
	}
	if err := a.codes.Reconstruct(data, blk.parity, blk.l); err != nil {
		a.r.c.invalid.Add(1)
		a.dropBlock(pf, blk)
		return
	}
	a.dropBlock(pf, blk)
	for i, sh := range data {
		if !missing[i] {
			continue
		}
		h, payload, err := wire.Rebuilt(a.rebuilt, &blk.hdr, blk.b.Start+i, sh, a.r.cfg.Limits)
		if err != nil || h.Flags&wire.FlagProtected == 0 {
			a.r.c.invalid.Add(1) // what a hostile parity datagram rebuilds: garbage
			continue
		}
		a.fileData(pf, &h, payload, true)
	}
}

// dropBlock marks a block done and releases its shards and parity.
func (a *assembler) dropBlock(pf *pendingFrame, blk *fecBlock) {
	blk.done = true
	for j, p := range blk.parity {
		a.reserved -= len(p)
		blk.parity[j] = nil
	}
	for i := range blk.b.K {
		k := uint16(blk.b.Start + i)
		if sh, ok := pf.fec.shards[k]; ok {
			a.reserved -= len(sh)
			delete(pf.fec.shards, k)
			a.putShard(sh)
		}
	}
}

// blockCost is what a block's bookkeeping holds against the memory budget before
// any parity arrives, so a flood of parity datagrams each naming a new block of
// many shards is bounded like everything else.
func blockCost(m int) int { return 256 + 24*m }

// releaseFEC gives back everything a frame still holds for parity.
func (a *assembler) releaseFEC(pf *pendingFrame) {
	if pf.fec == nil {
		return
	}
	for _, blk := range pf.fec.blocks {
		for _, p := range blk.parity {
			a.reserved -= len(p)
		}
		a.reserved -= blockCost(blk.b.M)
	}
	for _, sh := range pf.fec.shards {
		a.reserved -= len(sh)
		a.putShard(sh)
	}
	pf.fec = nil
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
// after another and ends each with an end marker, so once the marker or a newer
// frame's datagrams have been there for longer than reordering explains, the
// frame's missing datagrams are lost. A frame that hears nothing for Deadline is
// closed too (its marker lost, before a pause), and none waits longer than
// maxAssembly deadlines in all.
func (a *assembler) expire(now time.Time) {
	for _, pf := range a.pending {
		if pf.closing {
			continue
		}
		if (!pf.newerAt.IsZero() && now.Sub(pf.newerAt) > reorderGrace) ||
			(!pf.endAt.IsZero() && now.Sub(pf.endAt) > a.endGrace()) ||
			now.Sub(pf.lastAt) > a.r.cfg.Deadline || now.Sub(pf.first) > maxAssembly*a.r.cfg.Deadline {
			pf.closing = true
		}
	}
}

// maxEndGrace bounds how long a frame waits after its end marker, however much the
// path reorders: beyond it, waiting costs more latency than the repair does.
const maxEndGrace = 50 * time.Millisecond

// endGrace is how long after its end marker a frame waits for stragglers: twice
// the lateness seen lately, at least reorderGrace. Datagrams later than the grace
// are lost to it, but the ones just inside it push it up, so it follows the path.
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
	a.releaseFEC(pf)
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
	a.endLate -= a.endLate / 64 // forget a burst of reordering over a few seconds

	ack := wire.Ack{Stream: a.stream, Frame: pf.no, FirstUS: pf.first.UnixMicro(), ReadyUS: now.UnixMicro(),
		Bytes: uint32(pf.bytes), Received: uint16(pf.decoded), FrameTiles: uint16(pf.frameTiles),
		GridTiles: uint16(pf.gridTiles), Got: pf.got, Datagrams: uint16(min(pf.datagrams, 0xffff)), Arrived: pf.arrived}
	if need := (int(ack.Datagrams) + 7) / 8; len(ack.Arrived) < need {
		ack.Arrived = append(ack.Arrived, make([]byte, need-len(ack.Arrived))...)
	}
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
