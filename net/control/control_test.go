package control

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/wire"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testrig.Eventually(t, testrig.Patience, func() error {
		if !cond() {
			return fmt.Errorf("waiting for %s", what)
		}
		return nil
	})
}

func TestAcksReachTheSender(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	var got atomic.Uint32
	var hello atomic.Uint32
	srv.OnHello = func(stream uint32, _ string) { hello.Store(stream) }
	cl := &Client{Addr: srv.Addr().String(), Stream: 99, OnAck: func(a *wire.Ack, _ time.Time) {
		if a.Has(2) && !a.Has(1) {
			got.Store(a.Frame)
		}
	}}
	go func() { defer wg.Done(); cl.Run(ctx) }()
	waitFor(t, "connection", func() bool { return cl.Connected() && srv.Connected() })
	waitFor(t, "hello", func() bool { return hello.Load() == 99 })
	a := wire.Ack{Stream: 99, Frame: 42, Received: 1, FrameTiles: 2, GridTiles: 10, Got: []byte{0x20, 0}}
	srv.SendAck(&a)
	waitFor(t, "ack", func() bool { return got.Load() == 42 })
	waitFor(t, "clock offset", func() bool { _, ok := srv.Offset(); return ok && cl.RTT() > 0 })
	if off, _ := srv.Offset(); off > 50*time.Millisecond || off < -50*time.Millisecond {
		t.Fatalf("offset on one machine is %v", off)
	}
	cancel()
	wg.Wait()
	waitFor(t, "goroutines to stop", func() bool { return runtime.NumGoroutine() <= before })
}

func TestSenderOutlivesItsReceiver(t *testing.T) {
	// A receiver that is not up yet, comes up, goes away and comes back. The port is
	// taken on an address of its own in 127/8, so another test on this busy machine
	// does not take it while it is free between rounds.
	srv, err := Listen("127.31.41.59:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	srv.ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := &Client{Addr: addr, Retry: 20 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); cl.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	if cl.Connected() {
		t.Fatal("connected to nothing")
	}
	for round := 0; round < 2; round++ {
		var srv *Server
		testrig.Eventually(t, testrig.Patience, func() (err error) {
			srv, err = Listen(addr, nil)
			return err
		})
		sctx, scancel := context.WithCancel(ctx)
		sdone := make(chan struct{})
		go func() { defer close(sdone); srv.Run(sctx) }()
		waitFor(t, "connection", cl.Connected)
		scancel()
		<-sdone
		waitFor(t, "the client to notice", func() bool { return !cl.Connected() })
	}
	if cl.Reconnects() != 1 {
		t.Fatalf("reconnects = %d, want 1", cl.Reconnects())
	}
	cancel()
	<-done
}

func TestServerRejectsAStranger(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	buf := make([]byte, 10)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Fatal("server answered a stranger")
	}
	c.Close()
	if srv.Connected() {
		// the stranger never becomes the current sender for acks
		waitFor(t, "stranger dropped", func() bool { return !srv.Connected() })
	}
}
