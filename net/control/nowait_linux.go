package control

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nowaitConn is a TCP connection whose reads and writes are raw system calls
// that cannot block (MSG_DONTWAIT), waiting for the socket in the netpoller
// through its syscall.RawConn when they would (EAGAIN). Its deadlines and Close
// are the net.Conn's.
//
// The point is the Go runtime's system call accounting, which raw calls skip:
// a net.Conn's Read or Write tells the runtime it might block, and the first
// such call after the process was idle wakes the runtime's monitor thread
// (sysmon) and restarts its 20 µs polling for the next millisecond or more.
// Acks and pings cross this link about once a frame, so at 30 fps that was
// about one restart a frame on each end, ~16 monitor wake-ups a frame
// (perf probe on runtime.usleep; docs/BENCHMARKS.md, "The runtime's monitor
// thread"). net/udp does the same for the datagrams (mmsg_linux.go).
type nowaitConn struct {
	net.Conn
	rc syscall.RawConn
}

// nowait returns nc reading and writing with raw calls (nowaitConn), or nc
// itself when it is not a socket (a net.Pipe in tests, a wrapped conn).
func nowait(nc net.Conn) net.Conn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	return &nowaitConn{Conn: nc, rc: rc}
}

// Read reads up to len(p) bytes: io.EOF once the peer has closed its side,
// the net.Conn's errors (net.ErrClosed, os.ErrDeadlineExceeded) as it would
// return them, and a failed recv as *net.OpError wrapping the errno.
func (c *nowaitConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno unix.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_DONTWAIT, 0, 0)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait until the socket is readable
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("recvfrom", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, or returns how much it wrote and why not (the
// net.Conn's errors, or *net.OpError wrapping the errno: EPIPE, ECONNRESET).
// MSG_NOSIGNAL: a peer that has gone is an error, not a signal.
func (c *nowaitConn) Write(p []byte) (int, error) {
	var n int
	var errno unix.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
			switch e {
			case 0:
				n += int(r)
			case unix.EINTR:
			case unix.EAGAIN:
				return false // wait until the socket is writable
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("sendto", errno))
	}
	return n, nil
}

// opError is err as the net.Conn's Read or Write would return it: a
// *net.OpError named for op (the RawConn's own says "raw-read").
func (c *nowaitConn) opError(op string, err error) error {
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
