//go:build !linux

package udp

import (
	"fmt"
	"net"
	"net/netip"
)

// Batch is the portable twin of the Linux sendmmsg/recvmmsg batch: one system
// call per datagram, the same API, so callers need no build tags.
type Batch struct {
	c *net.UDPConn
	n int
}

// NewBatch prepares I/O of up to n datagrams a call on c.
func NewBatch(c *net.UDPConn, n int) (*Batch, error) {
	if n < 1 || n > 1024 {
		return nil, fmt.Errorf("udp batch of %d datagrams: want 1..1024", n)
	}
	return &Batch{c: c, n: n}, nil
}

// Max is the most datagrams one call moves.
func (b *Batch) Max() int { return b.n }

// Write sends each of bufs as one datagram to the connected peer.
func (b *Batch) Write(bufs [][]byte) (int, error) {
	n := min(len(bufs), b.n)
	for i := 0; i < n; i++ {
		if _, err := b.c.Write(bufs[i]); err != nil {
			return i, err
		}
	}
	return n, nil
}

// Read reads one datagram (this platform has no batch receive).
func (b *Batch) Read(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	if len(bufs) == 0 || len(sizes) == 0 {
		return 0, nil
	}
	n, addr, err := b.c.ReadFromUDPAddrPort(bufs[0])
	if err != nil {
		return 0, err
	}
	sizes[0] = n
	if len(from) > 0 {
		from[0] = addr
	}
	return 1, nil
}
