package control

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hrvs/hrvs/internal/testrig"
)

// tcpPair returns both ends of a loopback TCP connection, each wrapped by
// nowait, closed when the test ends.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		d.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { d.Close(); s.Close() })
	a, b = nowait(d), nowait(s)
	if _, ok := a.(*nowaitConn); !ok {
		t.Fatalf("nowait of a TCP connection is a %T, want *nowaitConn", a)
	}
	return a, b
}

func TestNowaitConnCarriesAStreamAsTheConnDoes(t *testing.T) {
	t.Run("8 MB written at once (far past the socket buffers) arrive whole and in order", func(t *testing.T) {
		a, b := tcpPair(t)
		want := make([]byte, 8<<20)
		for i := range want {
			want[i] = byte(i*7 + i>>11)
		}
		wrote := make(chan error, 1)
		go func() {
			n, err := a.Write(want)
			if err == nil && n != len(want) {
				err = io.ErrShortWrite
			}
			wrote <- err
		}()
		got := make([]byte, len(want))
		// Small reads, so the writer meets full buffers (EAGAIN) many times.
		for off := 0; off < len(got); {
			n, err := b.Read(got[off:min(off+1000, len(got))])
			if err != nil {
				t.Fatalf("read at %d: %v", off, err)
			}
			off += n
		}
		if err := <-wrote; err != nil {
			t.Fatalf("write: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("the bytes read differ from the bytes written")
		}
	})
	t.Run("a read after the peer closed is io.EOF", func(t *testing.T) {
		a, b := tcpPair(t)
		a.Write([]byte("last"))
		a.Close()
		got, err := io.ReadAll(b)
		if err != nil || string(got) != "last" {
			t.Fatalf("ReadAll = %q, %v; want \"last\", nil (io.EOF ends it)", got, err)
		}
	})
	t.Run("a read waiting when its own side closes ends with net.ErrClosed", func(t *testing.T) {
		_, b := tcpPair(t)
		done := make(chan error, 1)
		go func() { _, err := b.Read(make([]byte, 10)); done <- err }()
		b.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read: %v, want net.ErrClosed", err)
			}
		case <-time.After(testrig.Patience):
			t.Fatalf("read still waiting %v after Close", testrig.Patience)
		}
	})
	t.Run("writes to a peer that reset the connection fail with an error, not a signal", func(t *testing.T) {
		a, b := tcpPair(t)
		// Linger 0: the close sends a reset.
		b.(*nowaitConn).Conn.(*net.TCPConn).SetLinger(0)
		b.Close()
		var err error
		testrig.Eventually(t, testrig.Patience, func() error {
			if _, err = a.Write(make([]byte, 64<<10)); err == nil {
				return errors.New("writes to a reset connection still succeed")
			}
			return nil
		})
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "write" || !(errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("write: %v, want a write *net.OpError wrapping EPIPE or ECONNRESET", err)
		}
	})
}

func TestNowaitConnNeverWaitsInTheKernel(t *testing.T) {
	// A blocking socket: a recv without MSG_DONTWAIT would wait there, past
	// the deadline and outside the netpoller.
	a, _ := tcpPair(t)
	raw, err := a.(*nowaitConn).Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetNonblock(int(fd), false) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	done := make(chan error, 1)
	go func() { _, err := a.Read(make([]byte, 10)); done <- err }()
	select {
	case err := <-done:
		var oe *net.OpError
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &oe) || oe.Op != "read" || !oe.Timeout() {
			t.Errorf("a read of an empty socket past its deadline: %v, want a read *net.OpError wrapping %v", err, os.ErrDeadlineExceeded)
		}
	case <-time.After(testrig.Patience):
		t.Errorf("a read of an empty socket still waiting %v after its deadline", testrig.Patience)
		a.Close() // ends the goroutine
	}
}

func TestNowaitLeavesOtherConnsAlone(t *testing.T) {
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if c := nowait(p); c != p {
		t.Fatalf("nowait(net.Pipe end) = %T, want the conn itself", c)
	}
}
