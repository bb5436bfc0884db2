package attack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// live is a receiver playing a sender's pattern through a tapping relay, and a display
// that counts what it shows by stream.
type live struct {
	rx    *receiver.Receiver
	tx    *sender.Sender
	relay *relay.Relay
	ctx   context.Context

	mu       sync.Mutex
	captured [][]byte       // datagrams the eavesdropper saw, in order
	shown    map[uint32]int // complete frames shown, by stream
	shownAll atomic.Int64   // every frame shown
	sent     chan struct{}  // closed when the sender has sent all its frames
	txErr    chan error
}

type opts struct {
	rxKey, txKey *seal.Key
	frames       int // frames the sender sends (0: until the test ends)
	maxMemory    int64
	w, h         int
}

func key(b byte) *seal.Key {
	var k seal.Key
	for i := range k {
		k[i] = b * byte(i+1)
	}
	return &k
}

// start runs the rig until the test ends.
func start(t *testing.T, o opts) *live {
	t.Helper()
	if o.w == 0 {
		o.w, o.h = 320, 192
	}
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 2, Key: o.rxKey, MaxMemory: o.maxMemory, Deadline: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := &live{rx: rx, shown: map[uint32]int{}, sent: make(chan struct{}), txErr: make(chan error, 1)}
	l.relay, err = relay.Start(relay.Config{Listen: "127.0.0.1:0", Forward: rx.Addr(), Tap: func(d []byte) {
		l.mu.Lock()
		if len(l.captured) < 20000 {
			l.captured = append(l.captured, append([]byte(nil), d...))
		}
		l.mu.Unlock()
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.ctx = ctx
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		l.relay.Close()
	})
	wg.Go(func() { rx.Run(ctx) })
	wg.Go(func() {
		for {
			f, err := rx.Next(ctx)
			if err != nil {
				return
			}
			l.shownAll.Add(1)
			if f.Complete() {
				l.mu.Lock()
				l.shown[f.Stream]++
				l.mu.Unlock()
			}
			f.Release()
		}
	})
	pat, err := capture.NewPattern(o.w, o.h, 30)
	if err != nil {
		t.Fatal(err)
	}
	l.tx, err = sender.New(sender.Config{To: l.relay.Addr().String(), Key: o.txKey, Quality: 80, MinQuality: 80,
		FrameSpan: -1, NewEncoder: func() tile.Encoder { return &tile.FastEncoder{} }})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		l.txErr <- l.tx.Run(ctx, pat, o.frames)
		close(l.sent)
	})
	return l
}

// realShown is how many complete frames of the real sender's stream were shown.
func (l *live) realShown() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shown[l.tx.Stream()]
}

// foreignShown is how many complete frames of any other stream were shown.
func (l *live) foreignShown() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for s, c := range l.shown {
		if s != l.tx.Stream() {
			n += c
		}
	}
	return n
}

func (l *live) capturedCopy() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.captured...)
}

// eventually waits for cond, failing the test after testrig.Patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testrig.Eventually(t, testrig.Patience, func() error {
		if !cond() {
			return fmt.Errorf("waiting for %s", what)
		}
		return nil
	})
}
