package control

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// liveLink starts a server and a client of stream 7 and returns them once acks flow.
func liveLink(t *testing.T) (*Server, *atomic.Uint32, func(frame uint32)) {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { srv.Run(ctx) })
	var last atomic.Uint32
	cl := &Client{Addr: srv.Addr().String(), Stream: 7, Retry: 10 * time.Millisecond,
		OnAck: func(a *wire.Ack, _ time.Time) { last.Store(a.Frame) }}
	wg.Go(func() { cl.Run(ctx) })
	waitFor(t, "the sender's hello", srv.Connected)
	ack := func(frame uint32) {
		t.Helper()
		// Large acks (an 8 KB tile bitmap), so a connection that never reads fills its
		// socket buffers within the test.
		a := wire.Ack{Stream: 7, Frame: frame, FrameTiles: 1, GridTiles: 65535, Got: make([]byte, 8192)}
		deadline := time.Now().Add(10 * time.Second)
		for resend := time.Now(); last.Load() != frame; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ack for frame %d never reached the sender", frame)
			}
			if !time.Now().Before(resend) { // an ack may be dropped by a full queue: send again
				srv.SendAck(&a)
				resend = time.Now().Add(200 * time.Millisecond)
			}
		}
	}
	ack(1)
	return srv, &last, ack
}

func dial(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hello(t *testing.T, c net.Conn, stream uint32) {
	t.Helper()
	var hb [wire.HelloSize]byte
	(&wire.Hello{Stream: stream}).MarshalTo(hb[:])
	if err := wire.WriteMsg(c, nil, wire.MsgHello, hb[:]); err != nil {
		t.Fatal(err)
	}
}

// received reads what c gets within d.
func received(c net.Conn, d time.Duration) int {
	c.SetReadDeadline(time.Now().Add(d))
	n, _ := io.Copy(io.Discard, c)
	return int(n)
}

func TestNoConnectionDisplacesALiveSender(t *testing.T) {
	srv, _, ack := liveLink(t)
	t.Run("a silent connection gets nothing and changes nothing", func(t *testing.T) {
		c := dial(t, srv)
		ack(2)
		if n := received(c, 300*time.Millisecond); n != 0 {
			t.Fatalf("a connection that said nothing received %d bytes", n)
		}
	})
	t.Run("junk connections one after another change nothing", func(t *testing.T) {
		for i := range 20 {
			c := dial(t, srv)
			c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
			ack(uint32(10 + i))
		}
	})
	t.Run("a hello for another stream gets none of this stream's acks", func(t *testing.T) {
		c := dial(t, srv)
		hello(t, c, 666)
		ack(40)
		ack(41)
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, wire.MaxControlBody)
		for {
			typ, _, err := wire.ReadMsg(c, buf)
			if err != nil {
				break
			}
			if typ == wire.MsgAck {
				t.Fatal("stream 666 received stream 7's ack")
			}
		}
	})
	t.Run("a hello for the same stream that never reads delays nothing", func(t *testing.T) {
		c := dial(t, srv)
		hello(t, c, 7)
		for f := uint32(100); f < 500; f++ { // 3.2 MB to a reader that never reads
			ack(f)
		}
	})
}

func TestAFloodOfSilentConnectionsLetsASenderIn(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { srv.Run(ctx) })
	for range 3 * MaxPending {
		dial(t, srv)
	}
	waitFor(t, "the oldest silent connections to be closed", func() bool { return srv.Rejected() >= 2*MaxPending })
	c := dial(t, srv)
	hello(t, c, 9)
	waitFor(t, "the sender to attach", srv.Connected)
	// The first thing it receives is a ping: it is served.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, _, err := wire.ReadMsg(c, make([]byte, wire.MaxControlBody))
	if err != nil || typ != wire.MsgPing {
		t.Fatalf("after the flood the sender got type %d, %v", typ, err)
	}
}
