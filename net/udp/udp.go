// Package udp opens the UDP sockets both ends use (a pool of receive sockets sharing
// one port through SO_REUSEPORT, send sockets with raised buffers) and moves
// datagrams through them many per system call: Writer by GSO and sendmmsg, Reader by
// GRO and recvmmsg. Kernel features that are missing or refused are reported once
// and worked around.
package udp

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// BufferBytes is the socket buffer size both ends ask for: a few 4K frames' worth,
// enough to absorb a frame's burst while the reader is descheduled.
const BufferBytes = 8 << 20

// ListenPool binds n UDP sockets to addr with SO_REUSEPORT. The kernel spreads
// datagrams over them by a hash of the source address and port, so a sender that
// uses several source ports (ours does) lands on several sockets and readers.
func ListenPool(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conns := make([]*net.UDPConn, 0, n)
	first := addr
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", first)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		c := pc.(*net.UDPConn)
		conns = append(conns, c)
		first = c.LocalAddr().String() // port 0 resolves on the first socket; the rest join it
	}
	return conns, nil
}

// RaiseBuffers asks for size-byte kernel buffers on c. As root SO_*BUFFORCE passes
// the net.core.[rw]mem_max cap; otherwise the kernel clamps silently, so the sizes it
// granted are returned for the caller to report.
func RaiseBuffers(c *net.UDPConn, size int) (rcv, snd int, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	cerr := raw.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], size) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], size)
			}
		}
		rcv, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		snd, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	if cerr != nil {
		return 0, 0, cerr
	}
	return rcv, snd, nil
}
