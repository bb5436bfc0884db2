package receiver

import (
	"time"

	"golang.org/x/sys/unix"
)

// Starve makes r a receiver starved of CPU, before Run: its socket readers sleep
// pause after each read, and its sockets' kernel buffers shrink to about bufBytes,
// so a frame's burst overflows them while the readers sleep.
func Starve(r *Receiver, pause time.Duration, bufBytes int) error {
	r.readPause = pause
	for _, c := range r.conns {
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, bufBytes) }); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
	}
	return nil
}
