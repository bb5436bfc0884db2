package control

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// In multicast the receiver dials the sender (docs/PROTOCOL.md §10.2): the sender
// listens and serves each accepted connection with a Client of its own; the link is
// then the same as a dialled one, keyed or not.
func TestReceiverDialsItsMulticastSender(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		name := "an unkeyed receiver gets acks through and a notice back"
		if keyed {
			name = "a keyed receiver proves the key on the link it dialled and gets the datagram key"
		}
		t.Run(name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var key *seal.Key
			if keyed {
				k, err := seal.NewKey()
				if err != nil {
					t.Fatal(err)
				}
				key = &k
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var acked atomic.Uint32
			cl := &Client{Stream: 7, OnAck: func(a *wire.Ack, _ time.Time) { acked.Store(a.Frame) }}
			if keyed {
				cl.Key, cl.Suite = key, seal.ChaCha20Poly1305
				if cl.Random, err = seal.Random(); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				cl.Serve(ctx, nc)
			})
			srv := NewDialing(nil)
			srv.Key = key
			var notice atomic.Pointer[wire.Notice]
			srv.OnNotice = func(n wire.Notice, _ string) { notice.Store(&n) }
			wg.Go(func() { srv.Run(ctx) })
			wg.Go(func() {
				srv.Dial(ctx, func() (string, bool) { return ln.Addr().String(), true }, nil)
			})
			waitFor(t, "the link", func() bool { return cl.Connected() && srv.Linked(7) })
			if keyed && srv.Opener(7) == nil {
				t.Fatal("no datagram opener after the handshake")
			}
			srv.SendAck(&wire.Ack{Stream: 7, Frame: 5, GridTiles: 8, Got: []byte{0}})
			waitFor(t, "the ack", func() bool { return acked.Load() == 5 })
			waitFor(t, "a round trip", func() bool { _, ok := cl.Offset(); return ok })
			if err := cl.Notify(wire.Notice{State: wire.NoticeLeftBehind, Reason: wire.ReasonLoss, LossBP: 3000}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the notice", func() bool { n := notice.Load(); return n != nil && n.LossBP == 3000 })
			cancel()
			ln.Close()
			wg.Wait()
			if err := cl.Notify(wire.Notice{}); err == nil {
				t.Fatal("a notice with no link up was sent")
			}
			waitFor(t, "goroutines to stop", func() bool { return runtime.NumGoroutine() <= before })
		})
	}
}

func TestDialingReceiverRetriesUntilTheSenderListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := NewDialing(nil)
	var tries atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Dial(ctx, func() (string, bool) { return addr, true }, func(ctx context.Context, a string) (net.Conn, error) {
			tries.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", a)
		})
	}()
	waitFor(t, "two attempts", func() bool { return tries.Load() >= 2 })
	var ln2 net.Listener
	waitFor(t, "the port again", func() bool { ln2, err = net.Listen("tcp", addr); return err == nil })
	defer ln2.Close()
	cl := &Client{Stream: 3}
	go func() {
		nc, err := ln2.Accept()
		if err == nil {
			cl.Serve(ctx, nc)
		}
	}()
	waitFor(t, "the link", func() bool { return srv.Linked(3) })
	cancel()
	<-done
	if errors.Is(ctx.Err(), context.Canceled) && srv.Linked(3) {
		waitFor(t, "the link to close", func() bool { return !srv.Linked(3) })
	}
}
