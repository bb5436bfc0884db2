package attack

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// rewrite parses a captured clear datagram, lets mod change its header, and returns
// it marshalled again with its payload.
func rewrite(t *testing.T, d []byte, mod func(h *wire.Header)) []byte {
	t.Helper()
	var h wire.Header
	p, err := h.Unmarshal(d, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	mod(&h)
	out := make([]byte, wire.HeaderSize+len(p))
	if _, err := h.MarshalTo(out); err != nil {
		t.Fatal(err)
	}
	copy(out[wire.HeaderSize:], p)
	return out
}

func TestOneFarAheadDatagramDoesNotFreezeThePicture(t *testing.T) {
	l := start(t, opts{})
	eventually(t, "10 frames shown", func() bool { return l.realShown() >= 10 })
	caught := l.capturedCopy()
	d := rewrite(t, caught[len(caught)-1], func(h *wire.Header) { h.Frame += 1 << 31 })
	send(t, l.rx.Addr(), d)
	eventually(t, "the far-ahead datagram counted", func() bool { return l.rx.Stats().DatagramsOutOfWindow >= 1 })
	n := l.realShown()
	eventually(t, "30 more frames shown after it", func() bool { return l.realShown() >= n+30 })
}

// A second, real sender with its own stream and its own control link (a hello, pings,
// and valid datagrams) cannot take the display from a live, linked sender.
func TestAnotherLinkedSenderCannotHijack(t *testing.T) {
	l := start(t, opts{})
	eventually(t, "10 frames shown", func() bool { return l.realShown() >= 10 })
	pat, _ := capture.NewPattern(320, 192, 30)
	rogue, err := sender.New(sender.Config{To: l.rx.Addr(), Quality: 50, NewEncoder: func() tile.Encoder { return &tile.FastEncoder{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(l.ctx)
	done := make(chan struct{})
	go func() { defer close(done); rogue.Run(ctx, pat, 0) }()
	defer func() { cancel(); <-done }()
	eventually(t, "the rogue sender linked and 60 frames sent", func() bool {
		st := rogue.Stats()
		return st.ControlConnected && st.FramesSent >= 60
	})
	n := l.realShown()
	eventually(t, "20 more real frames", func() bool { return l.realShown() >= n+20 })
	if f := l.foreignShown(); f != 0 {
		t.Fatalf("%d frames of the rogue stream shown", f)
	}
	if s := l.rx.Stats(); s.DatagramsOtherStream == 0 {
		t.Fatalf("the rogue's datagrams were not counted as another stream's: %+v", s)
	}
}

// A flood of large datagrams with random stream ids neither switches the display nor
// stops the real stream.
func TestAForeignFloodNeitherSwitchesNorSilences(t *testing.T) {
	l := start(t, opts{})
	eventually(t, "10 frames shown", func() bool { return l.realShown() >= 10 })
	r := rand.New(rand.NewPCG(3, 4))
	payload := bytes.Repeat([]byte{0x55}, 60000)
	ctx, cancel := context.WithTimeout(l.ctx, 1500*time.Millisecond)
	defer cancel()
	flooded := make(chan int)
	go func() {
		n := 0
		for ctx.Err() == nil {
			h := wire.Header{Stream: r.Uint32(), Frame: r.Uint32(), Width: 7680, Height: 4320, FrameTiles: 1,
				TileW: 256, TileH: 128, Fragments: 1, PayloadSize: uint32(len(payload)), Quality: 80, CaptureUS: uint32(time.Now().UnixMicro())}
			d := make([]byte, wire.HeaderSize+len(payload))
			h.MarshalTo(d)
			copy(d[wire.HeaderSize:], payload)
			send(t, l.rx.Addr(), d)
			n++
		}
		flooded <- n
	}()
	n := l.realShown()
	sent := <-flooded
	eventually(t, "20 more real frames after the flood", func() bool { return l.realShown() >= n+20 })
	if f := l.foreignShown(); f != 0 {
		t.Fatalf("%d flood frames shown", f)
	}
	if s := l.rx.Stats(); s.Streams != 1 {
		t.Fatalf("the display switched streams %d times during a flood of %d datagrams", s.Streams-1, sent)
	}
}

// Datagrams that know the stream id announce 8K frames at every frame number inside the
// window: the receiver's memory stays inside its budget and the real stream plays on.
func TestAnnouncedGiantFramesStayInsideTheMemoryBudget(t *testing.T) {
	const budget = 96 << 20
	l := start(t, opts{maxMemory: budget})
	eventually(t, "10 frames shown", func() bool { return l.realShown() >= 10 })
	caught := l.capturedCopy()
	var base wire.Header
	if _, err := base.Unmarshal(caught[len(caught)-1], wire.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	var peak uint64
	var mu sync.Mutex
	// The live heap, after a collection: what the receiver holds. Heap in use
	// without one also counts garbage the collector has not reached yet, up to
	// twice the live heap at the default GOGC, and more on a loaded machine.
	sample := func() {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak = max(peak, m.HeapAlloc)
		mu.Unlock()
	}
	runtime.GC()
	sample()
	for i := range 600 {
		h := base
		h.Frame += uint32(1 + i%250)
		h.Width, h.Height, h.TileW, h.TileH, h.Tile, h.Seq = 7680, 4320, 256, 128, uint16(i%100), uint16(i)
		h.FrameTiles, h.Fragments, h.Fragment, h.PayloadSize, h.Flags = 100, 1000, 0, 1_000_000, 0
		d := make([]byte, wire.HeaderSize+1000)
		h.MarshalTo(d)
		send(t, l.rx.Addr(), d)
		if i%50 == 0 {
			sample()
		}
	}
	n := l.realShown()
	eventually(t, "20 more real frames", func() bool { sample(); return l.realShown() >= n+20 })
	// The test process holds the sender and the relay too: allow them 64 MB.
	if limit := uint64(budget + 64<<20); peak > limit {
		t.Fatalf("live heap peaked at %d MB, over the %d MB budget plus the test's own 64 MB", peak>>20, budget>>20)
	}
}

// A receiver stops within a second whatever is queued.
func TestStoppingUnderAFloodIsPrompt(t *testing.T) {
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rx.Run(ctx) }()
	h := wire.Header{Stream: 9, Frame: 1, Width: 1920, Height: 1080, FrameTiles: 135, TileW: 128, TileH: 128,
		Fragments: 1, PayloadSize: 1300, Quality: 80, CaptureUS: uint32(time.Now().UnixMicro())}
	var ds [][]byte
	for i := range 4000 {
		h.Tile, h.Frame = uint16(i%135), uint32(1+i/135)
		d := make([]byte, wire.HeaderSize+1300)
		h.MarshalTo(d)
		ds = append(ds, d)
	}
	send(t, rx.Addr(), ds...)
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not stop")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("stopping took %v, want under 1 s", took)
	}
}
