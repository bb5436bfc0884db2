package udp

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"golang.org/x/sys/unix"
)

// mmsg is a raw system call, which the Go scheduler cannot take a thread back
// from: it is only correct because it never waits. A read of an empty socket
// must find it empty at once and wait in the netpoller, where a deadline ends it,
// even when the socket itself blocks; with no messages mmsg must not reach the
// kernel at all.
func TestMmsgNeverWaits(t *testing.T) {
	reads := map[string]func(c *net.UDPConn) (func() error, error){
		"GRO reader": func(c *net.UDPConn) (func() error, error) {
			r, err := NewReader(c, RecvGRO, 4)
			if err != nil {
				return nil, err
			}
			buf := make([]byte, 4*r.MinBuf())
			return func() error { _, _, err := r.Read(buf); return err }, nil
		},
		"recvmmsg batch": func(c *net.UDPConn) (func() error, error) {
			b, err := NewBatch(c, 4)
			if err != nil {
				return nil, err
			}
			bufs := [][]byte{make([]byte, 2048), make([]byte, 2048)}
			return func() error { _, err := b.Read(bufs, make([]int, 2), nil); return err }, nil
		},
	}
	for name, newRead := range reads {
		t.Run("the "+name+" waits for a blocking empty socket in the netpoller, which its deadline ends", func(t *testing.T) {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			read, err := newRead(c)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := c.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var serr error
			if err := raw.Control(func(fd uintptr) { serr = unix.SetNonblock(int(fd), false) }); err != nil || serr != nil {
				t.Fatal(err, serr)
			}
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			done := make(chan error, 1)
			go func() { done <- read() }()
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("a read of an empty socket past its deadline: %v, want %v", err, os.ErrDeadlineExceeded)
				}
			case <-time.After(testrig.Patience):
				t.Errorf("a read of an empty socket still waiting %v after its deadline", testrig.Patience)
				// A datagram wakes it, so the goroutine ends.
				if w, err := net.DialUDP("udp", nil, c.LocalAddr().(*net.UDPAddr)); err == nil {
					w.Write([]byte{1})
					w.Close()
					<-done
				}
			}
		})
	}
	t.Run("no messages make no system call", func(t *testing.T) {
		// fd -1 would be EBADF had it reached the kernel.
		if n, errno := mmsg(unix.SYS_SENDMMSG, ^uintptr(0), nil, unix.MSG_DONTWAIT); n != 0 || errno != 0 {
			t.Fatalf("no messages: n %d, errno %v; want 0, 0", n, errno)
		}
	})
}
