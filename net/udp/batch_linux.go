package udp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batch moves many datagrams per system call on one UDP socket, with sendmmsg(2)
// and recvmmsg(2). It goes through the socket's syscall.RawConn, so reads and
// writes still park in Go's netpoller instead of blocking a thread, and
// closing the net.UDPConn unblocks them. The hot path allocates nothing: headers,
// iovecs and address buffers are made once, for at most n datagrams a call.
//
// golang.org/x/net/ipv4's ReadBatch does the same but allocates a net.Addr per
// datagram received; the receiver reads tens of thousands a second.
//
// A Batch is not safe for concurrent use; use one per goroutine.
type Batch struct {
	raw   syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family

	// What the pre-bound callbacks work on; set before each RawConn call.
	count int
	done  int
	err   error
	// The callbacks, made once: a closure built per call would escape to the heap.
	readFn, writeFn func(fd uintptr) bool
}

// NewBatch prepares batched I/O of up to n datagrams a call on c.
func NewBatch(c *net.UDPConn, n int) (*Batch, error) {
	if n < 1 || n > 1024 {
		return nil, fmt.Errorf("udp batch of %d datagrams: want 1..1024", n)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp batch: %w", err)
	}
	b := &Batch{raw: raw, hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([]unix.RawSockaddrInet6, n)}
	b.readFn, b.writeFn = b.recv, b.send
	return b, nil
}

// Max is the most datagrams one call moves.
func (b *Batch) Max() int { return len(b.hdrs) }

// Write sends each of bufs as one datagram to the socket's connected peer and
// returns how many were sent. It waits while the socket buffer is full; with more
// bufs than Max it sends the first Max.
func (b *Batch) Write(bufs [][]byte) (int, error) {
	n := min(len(bufs), len(b.hdrs))
	for i := 0; i < n; i++ {
		b.point(i, bufs[i], false)
	}
	b.count, b.done, b.err = n, 0, nil
	for b.done < b.count {
		start := b.done
		if err := b.raw.Write(b.writeFn); err != nil {
			return b.done, fmt.Errorf("sendmmsg: %w", err)
		}
		if b.err != nil {
			return b.done, fmt.Errorf("sendmmsg: %w", b.err)
		}
		if b.done == start {
			break // the kernel took nothing and reported nothing: do not spin
		}
	}
	return b.done, nil
}

// Read waits for at least one datagram, then takes as many as are queued, up to
// len(bufs) and Max. sizes[i] gets datagram i's length (a datagram longer than
// bufs[i] is cut, and its size is the cut length) and, when from is not nil,
// from[i] its source. sizes and from must be at least as long as bufs.
func (b *Batch) Read(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	n := min(len(bufs), len(b.hdrs), len(sizes))
	if from != nil {
		n = min(n, len(from))
	}
	for i := 0; i < n; i++ {
		b.point(i, bufs[i], true)
	}
	b.count, b.done, b.err = n, 0, nil
	if err := b.raw.Read(b.readFn); err != nil {
		return 0, fmt.Errorf("recvmmsg: %w", err)
	}
	if b.err != nil {
		return 0, fmt.Errorf("recvmmsg: %w", b.err)
	}
	for i := 0; i < b.done; i++ {
		sizes[i] = int(b.hdrs[i].Len)
		if from != nil {
			from[i] = sockaddrToAddrPort(&b.names[i], b.hdrs[i].Hdr.Namelen)
		}
	}
	return b.done, nil
}

// point aims header i at buf (and, for reads, at its address buffer).
func (b *Batch) point(i int, buf []byte, read bool) {
	iov := &b.iovs[i]
	iov.Base = nil
	if len(buf) > 0 {
		iov.Base = &buf[0]
	}
	iov.SetLen(len(buf))
	h := &b.hdrs[i].Hdr
	*h = unix.Msghdr{Iov: iov}
	h.SetIovlen(1)
	if read {
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = uint32(unsafe.Sizeof(b.names[i]))
	}
	b.hdrs[i].Len = 0
}

// send is the RawConn.Write callback: returning false asks the netpoller to wait
// until the socket is writable and call again.
func (b *Batch) send(fd uintptr) bool {
	hs := b.hdrs[b.done:b.count]
	n, errno := mmsg(unix.SYS_SENDMMSG, fd, hs, unix.MSG_DONTWAIT)
	switch errno {
	case 0:
		b.done += n
		return true
	case unix.EAGAIN, unix.EINTR:
		return false
	}
	b.err = errno
	return true
}

func (b *Batch) recv(fd uintptr) bool {
	n, errno := mmsg(unix.SYS_RECVMMSG, fd, b.hdrs[:b.count], unix.MSG_DONTWAIT)
	switch errno {
	case 0:
		b.done = n
		return true
	case unix.EAGAIN, unix.EINTR:
		return false
	}
	b.err = errno
	return true
}

// sockaddrToAddrPort reads the source address the kernel wrote, IPv4 or IPv6.
func sockaddrToAddrPort(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		if n < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		if n < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}
		}
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port)
	}
	return netip.AddrPort{}
}
