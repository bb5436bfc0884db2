package control

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// A receiver that counts its own drops tells its sender, plain or sealed, and the
// sender hears the count grow.
func TestTheReceiversDropsReachTheSender(t *testing.T) {
	for _, k := range []*seal.Key{nil, key(3)} {
		name := "on a clear link"
		if k != nil {
			name = "sealed on a keyed link"
		}
		t.Run("the count arrives "+name, func(t *testing.T) {
			srv, err := Listen("127.0.0.1:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			var count atomic.Uint64
			srv.Key, srv.DropCount = k, count.Load
			var heard, atAck atomic.Uint64
			var wrong atomic.Bool
			cl := &Client{OnAck: func(*wire.Ack, time.Time) { atAck.Store(heard.Load()) },
				Addr: srv.Addr().String(), Stream: 5, Retry: 10 * time.Millisecond, Key: k, Suite: seal.PreferredSuite(),
				OnDrops: func(d wire.Drops, _ time.Time) {
					if d.Stream != 5 || d.ClockUS == 0 {
						wrong.Store(true)
					}
					heard.Store(d.Count + 1) // +1: a count of 0 heard is not nothing heard
				}}
			cl.Random, _ = seal.Random()
			if k != nil {
				tx, _ := seal.NewSealer(cl.Suite, seal.DatagramKey(*k, cl.Suite, 5, cl.Random[:]))
				cl.NextCounter = tx.Next
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			wg.Go(func() { srv.Run(ctx) })
			wg.Go(func() { cl.Run(ctx) })
			waitFor(t, "the first count, 0", func() bool { return heard.Load() == 1 })
			count.Store(1000)
			waitFor(t, "the count grown to 1000", func() bool { return heard.Load() == 1001 })
			// A growth too small to send at once still goes before the next ack,
			// which may show the datagrams it counts as lost.
			count.Store(1005)
			a := wire.Ack{Stream: 5, Frame: 1, FrameTiles: 1, GridTiles: 1, Got: []byte{0x80}}
			srv.SendAck(&a)
			waitFor(t, "the ack", func() bool { return atAck.Load() != 0 })
			if got := atAck.Load(); got != 1006 {
				t.Fatalf("the sender had heard a count of %d when the ack came, want 1005", got-1)
			}
			if wrong.Load() {
				t.Fatal("a drops message named another stream or no clock")
			}
			if !cl.Connected() {
				t.Fatal("the link broke")
			}
		})
	}
}
