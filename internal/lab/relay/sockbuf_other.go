//go:build !linux

package relay

import (
	"log/slog"
	"net"
)

// growBuffers asks for large socket buffers; the kernel may cap them.
func growBuffers(client, forward *net.UDPConn, _ *slog.Logger) {
	const size = 8 << 20
	for _, c := range []*net.UDPConn{client, forward} {
		c.SetReadBuffer(size)
		c.SetWriteBuffer(size)
	}
}
