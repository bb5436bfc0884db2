package attack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// live is the shared loopback rig (internal/testrig/loopback) with a relay that taps
// every datagram for the eavesdropper.
type live struct {
	*loopback.Rig
	rx  *receiver.Receiver
	tx  *sender.Sender
	ctx context.Context // ends with the test

	mu       sync.Mutex
	captured [][]byte // datagrams the eavesdropper saw, in order
}

type opts struct {
	rxKey, txKey *seal.Key
	frames       int // frames the sender sends (0: until the test ends)
	maxMemory    int64
	w, h         int
	sendErr      string // the sender's run must end with an error saying this ("": none)
}

func key(b byte) *seal.Key {
	var k seal.Key
	for i := range k {
		k[i] = b * byte(i+1)
	}
	return &k
}

// start runs the rig, and its sender, until the test ends.
func start(t *testing.T, o opts) *live {
	t.Helper()
	if o.w == 0 {
		o.w, o.h = 320, 192
	}
	pat, err := capture.NewPattern(o.w, o.h, 30)
	if err != nil {
		t.Fatal(err)
	}
	l := &live{}
	tap := relay.Config{Tap: func(d []byte) {
		l.mu.Lock()
		if len(l.captured) < 20000 {
			l.captured = append(l.captured, append([]byte(nil), d...))
		}
		l.mu.Unlock()
	}}
	l.Rig = loopback.Start(t, pat, loopback.Config{
		Receiver: receiver.Config{Sockets: 2, Key: o.rxKey, MaxMemory: o.maxMemory, Deadline: time.Second},
		Sender: sender.Config{Key: o.txKey, Quality: 80, MinQuality: 80, FrameSpan: -1,
			NewEncoder: func() tile.Encoder { return &tile.FastEncoder{} }},
		Relay: &tap,
	})
	l.rx, l.tx = l.RX, l.TX
	ctx, cancel := context.WithCancel(context.Background())
	l.ctx = ctx
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := l.Send(ctx, o.frames)
		switch {
		case o.sendErr == "" && err != nil:
			t.Error(err)
		case o.sendErr != "" && (err == nil || !strings.Contains(err.Error(), o.sendErr)):
			t.Errorf("the sender's run ended with %v, want an error saying %q", err, o.sendErr)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// realShown is how many complete frames of the real sender's stream were shown.
func (l *live) realShown() int {
	return l.count(func(s loopback.Shown) bool { return s.Complete && s.Stream == l.tx.Stream() })
}

// foreignShown is how many complete frames of any other stream were shown.
func (l *live) foreignShown() int {
	return l.count(func(s loopback.Shown) bool { return s.Complete && s.Stream != l.tx.Stream() })
}

// shownAll is how many frames were shown at all.
func (l *live) shownAll() int { return l.count(func(loopback.Shown) bool { return true }) }

func (l *live) count(match func(loopback.Shown) bool) int {
	n := 0
	for _, s := range l.Shown() {
		if match(s) {
			n++
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
