package fec

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/hrvs/hrvs/net/wire"
)

// This file is the sending end of parity (docs/PROTOCOL.md §3.4, docs/CONTROL.md
// "Parity FEC"): whether a frame is protected, the shards its data datagrams leave
// behind, the blocks they are cut into, how many parity datagrams each block gets,
// and the parity datagrams themselves. The byte layouts are net/wire's.

// Adaptive parity turns on when the measured loss reaches parityOnLoss and off only
// when it falls below parityOffLoss: at 1% loss a run of lossless frames takes the
// smoothed loss under 0.5% now and then, and switching parity off there leaves the
// next loss to an unprotected frame.
const parityOnLoss, parityOffLoss = 0.005, 0.001

// blockMiss is the share of blocks adaptive parity lets fail at the measured loss:
// rare enough that frames stay whole, while repair by acknowledgement covers the
// rest.
const blockMiss = 0.001

// ErrUnnumbered reports a protected frame with a data datagram that was never
// filed (one that could not be numbered): its blocks cannot be coded reliably.
var ErrUnnumbered = errors.New("fec: a data datagram of the frame is missing")

// Encoder decides which frames carry parity and codes it. One Encoder serves one
// stream; its methods are safe for concurrent use.
type Encoder struct {
	fixed     int // parity datagrams per 100 data datagrams; 0 adapts, -1 never
	codes     *Codes
	shardSize int       // bytes of a shard buffer: the largest datagram less its header
	shards    sync.Pool // *[]byte of shardSize bytes

	protecting atomic.Bool   // adaptive parity is on
	share      atomic.Uint64 // float64 bits: parity per 100 data datagrams in the last protected frame
}

// NewEncoder returns an encoder for datagrams of at most datagram bytes (header
// included). per100 is the sender's --fec: 0 adapts the parity to the measured loss,
// -1 never sends parity, 1..100 sends that many parity datagrams per hundred data
// datagrams of every block.
func NewEncoder(per100, datagram int) (*Encoder, error) {
	if per100 < -1 || per100 > 100 {
		return nil, fmt.Errorf("fec: %d parity datagrams per 100: must be -1 (off), 0 (adaptive) or 1..100", per100)
	}
	if datagram <= wire.HeaderSize+wire.ShardPrefix {
		return nil, fmt.Errorf("fec: datagrams of %d bytes leave no room for a shard", datagram)
	}
	e := &Encoder{fixed: per100, codes: NewCodes(), shardSize: datagram - wire.HeaderSize}
	e.shards.New = func() any { b := make([]byte, e.shardSize); return &b }
	return e, nil
}

// Protect says whether the next frame carries parity: always or never when the
// share is fixed; adaptively, when the measured datagram loss (a fraction) has
// reached 0.5%, until it falls under 0.1%, and only while random says the losses
// look random. Losses that may be an overflowing queue's get no parity, which
// would only feed the queue: rate control removes those and repair by
// acknowledgement covers the rest. Call it once per frame.
func (e *Encoder) Protect(loss float64, random bool) bool {
	if e.fixed != 0 {
		return e.fixed > 0
	}
	switch {
	case !random:
		e.protecting.Store(false)
	case loss >= parityOnLoss:
		e.protecting.Store(true)
	case loss < parityOffLoss:
		e.protecting.Store(false)
	}
	return e.protecting.Load()
}

// Share is the parity datagrams per 100 data datagrams of the last protected
// frame while frames are protected, 0 while they are not.
func (e *Encoder) Share() float64 {
	if e.fixed > 0 || (e.fixed == 0 && e.protecting.Load()) {
		return math.Float64frombits(e.share.Load())
	}
	return 0
}

// ParityCount is how many parity datagrams protect a block of k data datagrams: a
// fixed share, or enough that at datagram loss rate loss the block fails to rebuild
// about once in 1/blockMiss. The estimate is raised a little, since the loss is
// measured over a few frames and may be rising.
func (e *Encoder) ParityCount(k int, loss float64) int {
	if e.fixed > 0 {
		return max(1, min((k*e.fixed+99)/100, wire.MaxCodeShards-wire.CodeSize(k)))
	}
	return ParityFor(k, 1.25*loss+0.002, blockMiss)
}

// Outgoing collects one protected frame's data datagrams as shards. Keep is safe
// for concurrent use by the goroutines sending the frame's tiles; Parity is called
// once, after the last of them.
type Outgoing struct {
	e      *Encoder
	mu     sync.Mutex
	shards [][]byte // by data datagram index: shard prefix and fragment payload
}

// Start starts a protected frame.
func (e *Encoder) Start() *Outgoing { return &Outgoing{e: e} }

// Room is the fragment payload a data datagram of datagram bytes can carry in a
// protected frame: a parity datagram carries a whole shard, the prefix naming the
// datagram as well as its payload, so data payloads leave room for the prefix.
func Room(datagram int) int { return datagram - wire.HeaderSize - wire.ShardPrefix }

// Keep files data datagram h (its Seq, tile and fragment fields) with its fragment
// payload as the shard of its index.
func (f *Outgoing) Keep(h *wire.Header, payload []byte) error {
	if wire.ShardPrefix+len(payload) > f.e.shardSize {
		return fmt.Errorf("fec: a fragment of %d bytes does not fit a shard of %d", len(payload), f.e.shardSize)
	}
	b := f.e.shards.Get().(*[]byte)
	shard := (*b)[:wire.ShardPrefix+len(payload)]
	wire.PutShardPrefix(shard, h)
	copy(shard[wire.ShardPrefix:], payload)
	seq := int(h.Seq)
	f.mu.Lock()
	for len(f.shards) <= seq {
		f.shards = append(f.shards, nil)
	}
	f.shards[seq] = shard
	f.mu.Unlock()
	return nil
}

// Parity codes the frame's data datagrams in blocks (Layout) and hands each parity
// datagram to emit, block by block: hdr holds the frame's fields (every datagram of
// a frame shares them), loss is the measured datagram loss that sizes adaptive
// parity, and n counts the parity datagrams handed out so far (so a caller can
// spread them over sockets). The datagram is only valid during the call. Parity
// returns the frame's shards to the encoder's pool, so a Frame is coded once.
func (f *Outgoing) Parity(hdr wire.Header, loss float64, emit func(d []byte, n int)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.release()
	var dgram []byte
	data, parityN := 0, 0
	for _, b := range Layout(len(f.shards)) {
		shards := f.shards[b.Start : b.Start+b.K]
		l := 0
		for _, sh := range shards {
			if sh == nil {
				return fmt.Errorf("%w: block of %d from %d", ErrUnnumbered, b.K, b.Start)
			}
			l = max(l, len(sh))
		}
		for i, sh := range shards { // zero-pad every shard to the block's longest
			n := len(sh)
			shards[i] = sh[:l]
			clear(shards[i][n:])
		}
		b.M = f.e.ParityCount(b.K, loss)
		parity := make([][]byte, b.M)
		for j := range parity {
			parity[j] = make([]byte, l)
		}
		if err := f.e.codes.Encode(shards, parity); err != nil {
			return err
		}
		if dgram == nil {
			dgram = make([]byte, wire.HeaderSize+f.e.shardSize)
		}
		h := hdr
		for j, p := range parity {
			b.Index = j
			h.SetBlock(b, l)
			if _, err := h.MarshalTo(dgram); err != nil {
				return fmt.Errorf("fec: parity datagram: %w", err)
			}
			copy(dgram[wire.HeaderSize:], p)
			emit(dgram[:wire.HeaderSize+l], parityN+j)
		}
		data, parityN = data+b.K, parityN+b.M
	}
	if data > 0 {
		f.e.share.Store(math.Float64bits(100 * float64(parityN) / float64(data)))
	}
	return nil
}

// release returns the shards to the pool. Called with mu held.
func (f *Outgoing) release() {
	for i, sh := range f.shards {
		if sh != nil {
			sh = sh[:cap(sh)]
			f.e.shards.Put(&sh)
		}
		f.shards[i] = nil
	}
	f.shards = f.shards[:0]
}
