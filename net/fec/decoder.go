package fec

import (
	"github.com/hrvs/hrvs/net/wire"
)

// Decoder rebuilds the data datagrams a protected frame lost, from the frame's parity
// datagrams (docs/PROTOCOL.md §3.4). It keeps a copy of every protected data datagram
// as its block's shard until the block is whole (nothing lost, or rebuilt), files each
// parity datagram under the block it names, and rebuilds a block the moment any K of
// its K+M shards are in, so with parity that overtook the data a datagram may be
// rebuilt just before it arrives. Everything it holds is taken from a Budget shared
// with the caller's own buffers. One Decoder serves every frame of a receiver, from
// one goroutine; each frame's state is an Incoming the caller keeps with the frame.
type Decoder struct {
	codes   *Codes
	budget  Budget
	limits  wire.Limits
	spare   [][]byte // shard buffers of finished blocks, for reuse
	data    [][]byte // one block's data shards while it is rebuilt
	missing []bool
	dst     []byte // one rebuilt datagram
}

// Budget is the memory a Decoder may hold, in bytes, shared with its caller.
type Budget interface {
	Take(n int) bool // reserves n bytes; false (and nothing reserved) when they do not fit
	Give(n int)      // returns n bytes taken before
}

// Incoming is the parity state of one frame: the data shards that arrived, until their
// block is whole, and the blocks its parity datagrams described. The zero value is a
// frame with neither; Decoder.Release gives back what it holds.
type Incoming struct {
	shards map[uint16][]byte // prefix and payload of data datagrams, by datagram index
	blocks []*block
}

type block struct {
	b      wire.Block  // Index unused
	l      int         // shard length
	hdr    wire.Header // a parity datagram's header: the frame fields of rebuilt datagrams
	parity [][]byte    // by parity index; nil until it arrives
	have   int         // parity shards that arrived
	done   bool        // rebuilt, or nothing was missing: its memory is given back
}

// Counts say what a call to the Decoder refused, for the caller's drop counters.
type Counts struct {
	Invalid   int // inconsistent with what the frame's parity said before, or rebuilt into garbage
	Duplicate int // parity of a block already whole, or a repeat
	Overflow  int // did not fit the Budget
}

// Rebuilt receives a data datagram rebuilt from parity and validated like one that
// arrived; h and payload are valid only during the call.
type Rebuilt func(h *wire.Header, payload []byte)

// maxBlocks bounds the blocks one frame may describe (each datagram looks its block
// up): a sender cutting 65536 datagrams into blocks of 128, as hrvs does, needs 512.
const maxBlocks = 1024

// maxSpareShards bounds the shard buffers kept for reuse (a few blocks' worth);
// shardCap is their usual size, a full default-MTU datagram's shard.
const (
	maxSpareShards = 1024
	shardCap       = 1500
)

// NewDecoder returns a decoder that holds its shards against budget and validates
// rebuilt datagrams against lim, as the receiver validates datagrams that arrive.
func NewDecoder(budget Budget, lim wire.Limits) *Decoder {
	return &Decoder{codes: NewCodes(), budget: budget, limits: lim, dst: make([]byte, wire.MaxDatagram)}
}

// blockCost is what a block's bookkeeping holds against the budget before any parity
// arrives, so a flood of parity datagrams each naming a new block of many shards is
// bounded like everything else.
func blockCost(m int) int { return 256 + 24*m }

// Data files protected data datagram h (flag FlagProtected) as its block's shard and
// rebuilds the block if that completes what it needs, handing each rebuilt datagram
// to rebuilt. The caller files h itself.
func (d *Decoder) Data(f *Incoming, h *wire.Header, payload []byte, rebuilt Rebuilt) Counts {
	var c Counts
	blk := f.block(int(h.Seq))
	if blk != nil && blk.done {
		return c
	}
	if _, ok := f.shards[h.Seq]; ok {
		return c
	}
	n := wire.ShardPrefix + len(payload)
	if !d.budget.Take(n) {
		c.Overflow++
		return c
	}
	shard := d.newShard(n)
	wire.PutShardPrefix(shard, h)
	copy(shard[wire.ShardPrefix:], payload)
	if f.shards == nil {
		f.shards = make(map[uint16][]byte)
	}
	f.shards[h.Seq] = shard
	if blk != nil {
		d.rebuild(f, blk, &c, rebuilt)
	}
	return c
}

// Parity files parity datagram h (flag FlagParity, naming a block: not an end marker)
// under its block and rebuilds the block once enough of it is in, handing each
// rebuilt datagram to rebuilt.
func (d *Decoder) Parity(f *Incoming, h *wire.Header, payload []byte, rebuilt Rebuilt) Counts {
	var c Counts
	if h.Flags&wire.FlagParity == 0 || h.IsEnd() {
		c.Invalid++
		return c
	}
	b := h.Block()
	blk := f.block(b.Start)
	switch {
	case blk == nil:
		for _, o := range f.blocks {
			if b.Start < o.b.Start+o.b.K && o.b.Start < b.Start+b.K {
				c.Invalid++ // overlaps a block described otherwise
				return c
			}
		}
		if len(f.blocks) >= maxBlocks {
			c.Invalid++
			return c
		}
		if !d.budget.Take(blockCost(b.M)) {
			c.Overflow++
			return c
		}
		blk = &block{b: wire.Block{Start: b.Start, K: b.K, M: b.M}, l: len(payload), hdr: *h, parity: make([][]byte, b.M)}
		f.blocks = append(f.blocks, blk)
	case blk.b.Start != b.Start || blk.b.K != b.K || blk.b.M != b.M || blk.l != len(payload):
		c.Invalid++ // the same block described two ways
		return c
	}
	if blk.done || blk.parity[b.Index] != nil {
		c.Duplicate++ // whole already, or a repeat
		return c
	}
	if !d.budget.Take(len(payload)) {
		c.Overflow++
		return c
	}
	blk.parity[b.Index] = append([]byte(nil), payload...)
	blk.have++
	d.rebuild(f, blk, &c, rebuilt)
	return c
}

// Extent is one more than the highest data datagram index the frame's blocks cover
// (0 with none): what the parity says the frame has, lost datagrams included.
func (f *Incoming) Extent() int {
	n := 0
	for _, blk := range f.blocks {
		n = max(n, blk.b.Start+blk.b.K)
	}
	return n
}

// Release gives back everything f holds; f is then empty and may be reused.
func (d *Decoder) Release(f *Incoming) {
	for _, blk := range f.blocks {
		for _, p := range blk.parity {
			d.budget.Give(len(p))
		}
		d.budget.Give(blockCost(blk.b.M))
	}
	for _, sh := range f.shards {
		d.budget.Give(len(sh))
		d.putShard(sh)
	}
	*f = Incoming{}
}

// block returns the block holding data index seq, if a parity datagram named it.
func (f *Incoming) block(seq int) *block {
	for _, blk := range f.blocks {
		if seq >= blk.b.Start && seq < blk.b.Start+blk.b.K {
			return blk
		}
	}
	return nil
}

// rebuild restores a block's lost data datagrams when at least K of its K+M shards
// are in, and hands them to rebuilt.
func (d *Decoder) rebuild(f *Incoming, blk *block, c *Counts, rebuilt Rebuilt) {
	if blk.done {
		return
	}
	data := d.data[:0]
	have := 0
	for i := range blk.b.K {
		sh, ok := f.shards[uint16(blk.b.Start+i)]
		if ok && len(sh) > blk.l {
			c.Invalid++ // a shard longer than the block's: not this block's
			d.drop(f, blk)
			return
		}
		if ok {
			have++
		}
		data = append(data, sh)
	}
	d.data = data
	if have == blk.b.K {
		d.drop(f, blk) // nothing lost
		return
	}
	if have+blk.have < blk.b.K {
		return
	}
	missing := d.missing[:0]
	for i, sh := range data {
		missing = append(missing, sh == nil)
		if sh == nil {
			continue
		}
		// Zero-pad to the block's shard length, in place when there is room.
		if cap(sh) >= blk.l {
			data[i] = sh[:blk.l]
			clear(data[i][len(sh):])
		} else {
			p := make([]byte, blk.l)
			copy(p, sh)
			data[i] = p
		}
	}
	d.missing = missing
	err := d.codes.Reconstruct(data, blk.parity, blk.l)
	d.drop(f, blk)
	if err != nil {
		c.Invalid++
		return
	}
	for i, sh := range data {
		if !missing[i] {
			continue
		}
		h, payload, err := wire.Rebuilt(d.dst, &blk.hdr, blk.b.Start+i, sh, d.limits)
		if err != nil || h.Flags&wire.FlagProtected == 0 {
			c.Invalid++ // what a hostile parity datagram rebuilds: garbage
			continue
		}
		rebuilt(&h, payload)
	}
	clear(d.data) // let the shards go: the block is done
}

// drop marks a block done and gives back its shards and parity.
func (d *Decoder) drop(f *Incoming, blk *block) {
	blk.done = true
	for j, p := range blk.parity {
		d.budget.Give(len(p))
		blk.parity[j] = nil
	}
	for i := range blk.b.K {
		k := uint16(blk.b.Start + i)
		if sh, ok := f.shards[k]; ok {
			d.budget.Give(len(sh))
			delete(f.shards, k)
			d.putShard(sh)
		}
	}
}

// newShard returns a shard buffer of n bytes, reusing a spare one when it fits.
func (d *Decoder) newShard(n int) []byte {
	if k := len(d.spare); k > 0 && cap(d.spare[k-1]) >= n {
		sh := d.spare[k-1][:n]
		d.spare = d.spare[:k-1]
		return sh
	}
	return make([]byte, n, max(n, shardCap))
}

// putShard keeps a shard buffer nothing refers to any more.
func (d *Decoder) putShard(sh []byte) {
	if len(d.spare) < maxSpareShards && cap(sh) <= 2*shardCap {
		d.spare = append(d.spare, sh)
	}
}
