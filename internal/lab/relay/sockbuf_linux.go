//go:build linux

package relay

import (
	"log/slog"
	"net"
	"syscall"
)

// growBuffers asks for large socket buffers so bursts (a whole video frame's datagrams) are
// not dropped by the kernel before the relay reads them. SO_RCVBUFFORCE passes
// net.core.rmem_max when running as root; otherwise the plain option is capped by it.
func growBuffers(client, forward *net.UDPConn, log *slog.Logger) {
	const size = 8 << 20
	set := func(c *net.UDPConn, opt, fallback int, name string) {
		rc, err := c.SyscallConn()
		if err == nil {
			var serr error
			err = rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, size)
			})
			if err == nil {
				err = serr
			}
		}
		if err == nil {
			return
		}
		log.Debug("relay: forced socket buffer unavailable, using the capped one", "opt", name, "err", err)
		if fallback == syscall.SO_RCVBUF {
			c.SetReadBuffer(size)
		} else {
			c.SetWriteBuffer(size)
		}
	}
	set(client, syscall.SO_RCVBUFFORCE, syscall.SO_RCVBUF, "SO_RCVBUFFORCE")
	set(client, syscall.SO_SNDBUFFORCE, syscall.SO_SNDBUF, "SO_SNDBUFFORCE")
	set(forward, syscall.SO_RCVBUFFORCE, syscall.SO_RCVBUF, "SO_RCVBUFFORCE")
	set(forward, syscall.SO_SNDBUFFORCE, syscall.SO_SNDBUF, "SO_SNDBUFFORCE")
}
