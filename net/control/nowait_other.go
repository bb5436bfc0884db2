//go:build !linux

package control

import "net"

// nowait returns nc: only Linux has the raw-call conn (nowait_linux.go).
func nowait(nc net.Conn) net.Conn { return nc }
