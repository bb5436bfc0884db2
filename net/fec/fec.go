// Package fec protects a frame's datagrams with Reed-Solomon parity
// (docs/PROTOCOL.md §3.4): the sender cuts the frame's data datagrams into
// blocks, codes each block's shards, and sends parity shards after the data; the
// receiver rebuilds a block's lost data shards from any K of its K+M shards. The arithmetic is github.com/klauspost/reedsolomon's; this package
// adds what the protocol fixes on top of it: block layout, code sizes with zero
// shards, the parity count for a loss rate, and a bounded cache of codes.
package fec

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/hrvs/hrvs/net/wire"
	"github.com/klauspost/reedsolomon"
)

// Codes builds and caches the codes blocks use. Building one inverts a matrix
// (milliseconds for 128 shards), so codes are kept, keyed by code size and parity
// count; at most maxCodes, so a hostile peer naming many cannot grow memory.
type Codes struct {
	mu    sync.Mutex
	codes map[[2]int]reedsolomon.Encoder
	zero  []byte
	pad   [][]byte
}

const maxCodes = 32

// NewCodes returns an empty cache.
func NewCodes() *Codes { return &Codes{codes: make(map[[2]int]reedsolomon.Encoder)} }

// ErrBlock reports a block the code cannot describe.
var ErrBlock = errors.New("fec: block out of range")

func (c *Codes) code(n, m int) (reedsolomon.Encoder, error) {
	key := [2]int{n, m}
	if e := c.codes[key]; e != nil {
		return e, nil
	}
	// The default matrix is the systematic Vandermonde one PROTOCOL.md §3.4
	// specifies; the inversion cache is off because every block loses differently.
	e, err := reedsolomon.New(n, m, reedsolomon.WithInversionCache(false))
	if err != nil {
		return nil, fmt.Errorf("fec: code of %d+%d shards: %w", n, m, err)
	}
	if len(c.codes) >= maxCodes {
		clear(c.codes)
	}
	c.codes[key] = e
	return e, nil
}

// shards lays out data, zero shards up to the code size, and parity, all of length l.
func (c *Codes) shards(data, parity [][]byte, l int) ([][]byte, int, error) {
	k, m := len(data), len(parity)
	if k == 0 || k > wire.MaxBlockData || m == 0 || wire.CodeSize(k)+m > wire.MaxCodeShards || l <= 0 {
		return nil, 0, fmt.Errorf("%w: %d data, %d parity shards of %d bytes", ErrBlock, k, m, l)
	}
	n := wire.CodeSize(k)
	if len(c.zero) < l {
		c.zero = make([]byte, l)
	}
	all := append(c.pad[:0], data...)
	for range n - k {
		all = append(all, c.zero[:l])
	}
	all = append(all, parity...)
	c.pad = all
	return all, n, nil
}

// Encode computes parity: every data shard and every parity shard must be l bytes
// long (data zero-padded); the parity shards are overwritten.
func (c *Codes) Encode(data, parity [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := 0
	if len(data) > 0 {
		l = len(data[0])
	}
	all, n, err := c.shards(data, parity, l)
	if err != nil {
		return err
	}
	e, err := c.code(n, len(parity))
	if err != nil {
		return err
	}
	if err := e.Encode(all); err != nil {
		return fmt.Errorf("fec: encode %d+%d shards of %d bytes: %w", len(data), len(parity), l, err)
	}
	return nil
}

// Reconstruct rebuilds the nil entries of data from the others and the non-nil
// parity shards, all l bytes long. It needs at least len(data) shards in all.
func (c *Codes) Reconstruct(data, parity [][]byte, l int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	all, n, err := c.shards(data, parity, l)
	if err != nil {
		return err
	}
	for _, s := range all {
		if s != nil && len(s) != l {
			return fmt.Errorf("%w: a shard of %d bytes among shards of %d", ErrBlock, len(s), l)
		}
	}
	e, err := c.code(n, len(parity))
	if err != nil {
		return err
	}
	if err := e.ReconstructData(all); err != nil {
		return fmt.Errorf("fec: rebuild %d+%d shards: %w", len(data), len(parity), err)
	}
	copy(data, all[:len(data)])
	return nil
}

// Layout cuts d data datagrams into blocks of at most MaxBlockData consecutive
// indices, as even as they come (M left zero for the caller).
func Layout(d int) []wire.Block {
	if d <= 0 {
		return nil
	}
	nb := (d + wire.MaxBlockData - 1) / wire.MaxBlockData
	blocks := make([]wire.Block, nb)
	start := 0
	for i := range blocks {
		k := (d - start) / (nb - i)
		blocks[i] = wire.Block{Start: start, K: k}
		start += k
	}
	return blocks
}

// ParityFor is the fewest parity shards that leave a block of k data datagrams
// unrecoverable with probability at most miss when each datagram is lost
// independently with probability p: the smallest m with P(Binomial(k+m, p) > m)
// <= miss. At least one, and never more than the code allows.
func ParityFor(k int, p, miss float64) int {
	limit := min(k, wire.MaxCodeShards-wire.CodeSize(k))
	if p <= 0 {
		return 1
	}
	p = min(p, 0.5)
	for m := 1; m < limit; m++ {
		if binomialTail(k+m, m, p) <= miss {
			return m
		}
	}
	return max(1, limit)
}

// binomialTail is P(X > m) for X ~ Binomial(n, p), summed in logs so large n
// cannot underflow the first terms.
func binomialTail(n, m int, p float64) float64 {
	lp, lq := math.Log(p), math.Log1p(-p)
	cdf := 0.0
	for x := 0; x <= m; x++ {
		lc, _ := math.Lgamma(float64(n + 1))
		a, _ := math.Lgamma(float64(x + 1))
		b, _ := math.Lgamma(float64(n - x + 1))
		cdf += math.Exp(lc - a - b + float64(x)*lp + float64(n-x)*lq)
	}
	return max(0, 1-cdf)
}
