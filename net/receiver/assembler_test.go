package receiver

import (
	"context"
	"image"
	"log/slog"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/ycbcr"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// The assembler is driven step by step here, on the test's goroutine, through the
// interfaces it declares: no Receiver, no sockets, and a clock the test sets.

type ackRecorder struct{ acks []wire.Ack }

func (r *ackRecorder) SendAck(a *wire.Ack) { r.acks = append(r.acks, *a) }

type fixedOffset time.Duration

func (o fixedOffset) Offset() (time.Duration, bool) { return time.Duration(o), true }

// nopDecoder "decodes" at once; the assembler learns of it only when the test hands
// it the result, so decoding takes as long as the test says.
type nopDecoder struct{}

func (nopDecoder) DecodeTile(*image.YCbCr, image.Rectangle, int, uint8, []byte) error { return nil }

type rig struct {
	a         *assembler
	acks      ackRecorder
	published []*Frame
	clock     time.Time
}

func newRig(t *testing.T) *rig {
	r := &rig{clock: time.Unix(1000, 0)}
	r.a = newAssembler(assemblerConfig{
		decoders: 1, newDecoder: func(*tile.Headers) tile.Decoder { return nopDecoder{} },
		deadline: 100 * time.Millisecond, limits: wire.DefaultLimits, log: slog.New(slog.DiscardHandler),
		acks: &r.acks, clock: fixedOffset(0), publish: func(f *Frame) { r.published = append(r.published, f) },
		now: func() time.Time { return r.clock },
	})
	r.a.startDecoders()
	t.Cleanup(func() {
		r.a.stop()
		for _, f := range r.published {
			f.Release()
		}
	})
	return r
}

// tileDatagram is tile i (of the two in a 64x32 frame) in one fragment, as read
// from the network at the rig's clock.
func (r *rig) tileDatagram(t *testing.T, frame uint32, i int) *packet {
	h := wire.Header{Stream: 7, Frame: frame, Width: 64, Height: 32, Tile: uint16(i), Seq: uint16(i), FrameTiles: 2,
		TileW: 32, TileH: 32, Fragments: 1, PayloadSize: 20, Quality: 75, CaptureUS: uint32(time.Unix(1000, 0).UnixMicro())} // the rig's start
	return r.parsed(t, &h, make([]byte, 20))
}

func (r *rig) parsed(t *testing.T, h *wire.Header, payload []byte) *packet {
	t.Helper()
	b := make([]byte, wire.HeaderSize+len(payload))
	h.MarshalTo(b)
	copy(b[wire.HeaderSize:], payload)
	p := &packet{at: r.clock}
	pl, err := p.h.Unmarshal(b, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	p.payload, p.kind = pl, kindOf(&p.h)
	return p
}

// decodeAll hands the assembler the results of n decodes, as its loop would.
func (r *rig) decodeAll(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case res := <-r.a.results:
			r.a.finishDecode(res)
		case <-time.After(10 * time.Second):
			t.Fatal("no decode result")
		}
	}
	r.a.release()
}

// TestReleasedIsStampedBeforeDecoding: the ack's "frame released" is the instant
// the frame was complete (or given up) and handed to decoding, not when decoding
// ended (docs/PROTOCOL.md §5), while the frame's Ready is when it was ready to show.
func TestReleasedIsStampedBeforeDecoding(t *testing.T) {
	const decodeTime = 300 * time.Millisecond
	cases := []struct {
		name string
		// feed delivers the frame's datagrams and returns the instant the frame
		// was complete or given up, and how many tiles went to the decoders.
		feed     func(t *testing.T, r *rig) (time.Time, int)
		complete bool
	}{
		{"a whole frame at the hand-off of its last tile", func(t *testing.T, r *rig) (time.Time, int) {
			r.a.handle(r.tileDatagram(t, 1, 0))
			r.clock = r.clock.Add(3 * time.Millisecond)
			r.a.handle(r.tileDatagram(t, 1, 1))
			return r.clock, 2
		}, true},
		{"a frame that lost a tile when it is given up", func(t *testing.T, r *rig) (time.Time, int) {
			r.a.handle(r.tileDatagram(t, 1, 0))
			r.clock = r.clock.Add(150 * time.Millisecond) // past the 100 ms deadline
			r.a.expire(r.clock)
			return r.clock, 1
		}, false},
		{"a frame that lost a tile when its end marker's grace ends", func(t *testing.T, r *rig) (time.Time, int) {
			first := r.clock
			r.a.handle(r.tileDatagram(t, 1, 0))
			end := r.tileDatagram(t, 1, 0).h
			end.SetEnd(1)
			r.a.handle(r.parsed(t, &end, nil))
			r.clock = r.clock.Add(2 * reorderGrace) // past the grace, well before the deadline
			r.a.expire(r.clock)
			if r.clock.Sub(first) >= r.a.cfg.deadline {
				t.Fatal("the test's end grace reaches the deadline")
			}
			return r.clock, 1
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			first := r.clock
			released, tiles := c.feed(t, r)
			r.clock = r.clock.Add(decodeTime) // decoding is slow
			r.decodeAll(t, tiles)
			if len(r.acks.acks) != 1 || len(r.published) != 1 {
				t.Fatalf("%d acks and %d frames published, want 1 and 1", len(r.acks.acks), len(r.published))
			}
			ack, f := r.acks.acks[0], r.published[0]
			if ack.FirstUS != first.UnixMicro() || ack.ReadyUS != released.UnixMicro() {
				t.Fatalf("ack says first %d released %d µs; want %d and %d (decoding took until %d)",
					ack.FirstUS, ack.ReadyUS, first.UnixMicro(), released.UnixMicro(), r.clock.UnixMicro())
			}
			if !f.Ready.Equal(r.clock) || f.Complete() != c.complete {
				t.Fatalf("frame ready %v complete %v; want %v and %v", f.Ready, f.Complete(), r.clock, c.complete)
			}
		})
	}
}

// TestAssemblerCountsWhatItDrops: the assembler's own counters, which it alone
// writes, say what became of each datagram.
func TestAssemblerCountsWhatItDrops(t *testing.T) {
	r := newRig(t)
	r.a.handle(r.tileDatagram(t, 1, 0))
	r.a.handle(r.tileDatagram(t, 1, 0)) // a repeat of a tile in decoding
	r.a.handle(r.tileDatagram(t, 1, 1))
	r.decodeAll(t, 2)
	r.a.handle(r.tileDatagram(t, 1, 1)) // its frame is gone
	other := r.tileDatagram(t, 2, 0)
	other.h.Stream = 8 // another stream while this one plays
	r.a.handle(other)
	c := &r.a.c
	got := []uint64{c.frames.Load(), c.complete.Load(), c.dup.Load(), c.late.Load(), c.otherStream.Load(), c.streams.Load()}
	want := []uint64{1, 1, 1, 1, 1, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames, complete, duplicate, late, other stream, streams = %v, want %v", got, want)
		}
	}
	if s := c.sender.Load(); s == nil {
		t.Fatal("the stream's sender was not published")
	}
}

// TestATileDescribedTwoWaysIsInvalid: a fragment that gives its tile more fragments
// than the tile's first fragment did is refused and counted, without reading past
// the tile's fragment bitmap.
func TestATileDescribedTwoWaysIsInvalid(t *testing.T) {
	r := newRig(t)
	h := r.tileDatagram(t, 1, 0).h
	h.Fragments, h.Fragment, h.PayloadSize = 2, 0, 40
	r.a.handle(r.parsed(t, &h, make([]byte, 20)))
	h.Fragments, h.Fragment, h.PayloadSize = 100, 60, 1000
	r.a.handle(r.parsed(t, &h, make([]byte, 10)))
	if got := r.a.c.invalid.Load(); got != 1 {
		t.Fatalf("%d datagrams counted invalid, want 1", got)
	}
}

// A long stream carries its frame-number window along: every frame of a stream several
// windows long is released, none dropped as outside the window. (A window left at the
// stream's first frame dropped every datagram maxAhead frames in, and the stream stalled
// for the 1 s resync every maxAhead frames: ten seconds at 30 fps.)
func TestTheFrameWindowFollowsALongStream(t *testing.T) {
	r := newRig(t)
	const frames = 3*maxAhead + 10
	shown := 0
	for no := uint32(1); no <= frames; no++ {
		r.clock = r.clock.Add(33 * time.Millisecond)
		r.a.handle(r.tileDatagram(t, no, 0))
		r.a.handle(r.tileDatagram(t, no, 1))
		r.decodeAll(t, 2)
		for _, f := range r.published {
			if f.Seq != no {
				t.Fatalf("frame %d released while frame %d was being sent", f.Seq, no)
			}
			f.Release()
			shown++
		}
		r.published = r.published[:0]
		if shown != int(no) {
			t.Fatalf("frame %d was not released (%d of %d shown): the window stayed behind", no, shown, no)
		}
	}
}

// TestAFrameRefusedForWantOfAnImageStaysRefused: a frame whose first datagram found
// every frame image in use (a slow sink holds them) is not started by its later
// datagrams once an image is free again: it would lack the datagrams refused before
// and could only be shown partial, old tiles in its holes.
func TestAFrameRefusedForWantOfAnImageStaysRefused(t *testing.T) {
	r := newRig(t)
	r.a.frameMem.max = 2 * int64(ycbcr.Bytes(64, 32, image.YCbCrSubsampleRatio420))
	r.a.handle(r.tileDatagram(t, 1, 0))
	r.a.handle(r.tileDatagram(t, 1, 1))
	r.decodeAll(t, 2)                   // frame 1 shown: the test and the concealment reference hold its image
	r.a.handle(r.tileDatagram(t, 2, 0)) // the second image
	r.a.handle(r.tileDatagram(t, 3, 0)) // none left: refused
	if n := r.a.c.overflow.Load(); n != 1 {
		t.Fatalf("%d datagrams refused for want of an image, want 1", n)
	}
	r.a.handle(r.tileDatagram(t, 2, 1))
	r.decodeAll(t, 2) // frame 2 shown: it becomes the concealment reference
	if len(r.published) != 2 {
		t.Fatalf("%d frames published, want 2", len(r.published))
	}
	r.published[0].Release() // the sink is done with frame 1: its image is free
	r.published = r.published[1:]
	r.a.handle(r.tileDatagram(t, 3, 1))
	for _, pf := range r.a.pending {
		if pf.no == 3 {
			t.Fatal("frame 3 started from its second datagram: it could only be partial")
		}
	}
	if n := r.a.c.overflow.Load(); n != 2 {
		t.Fatalf("%d datagrams refused for want of an image, want 2", n)
	}
	// The next frame takes the free image.
	r.a.handle(r.tileDatagram(t, 4, 0))
	r.a.handle(r.tileDatagram(t, 4, 1))
	r.decodeAll(t, 2)
	if len(r.published) != 2 || r.published[1].Seq != 4 || r.published[1].TilesMissing != 0 {
		t.Fatalf("after the refused frame: %d frames published, want frame 4 whole", len(r.published))
	}
}

// TestAnIncompleteFrameIsGivenUpByTheTimerAlone: the run loop sleeps until the
// instant a pending frame can expire (its deadline here) instead of ticking: a
// frame that lost a tile is still given up, after a handful of timer wake-ups,
// where a 2 ms ticker would have woken about 50 times over the 100 ms deadline.
func TestAnIncompleteFrameIsGivenUpByTheTimerAlone(t *testing.T) {
	published := make(chan *Frame, 1)
	a := newAssembler(assemblerConfig{
		decoders: 1, newDecoder: func(*tile.Headers) tile.Decoder { return nopDecoder{} },
		deadline: 100 * time.Millisecond, limits: wire.DefaultLimits, log: slog.New(slog.DiscardHandler),
		acks: &ackRecorder{}, clock: fixedOffset(0), publish: func(f *Frame) { published <- f },
	})
	packets := make(chan packet)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.run(context.Background(), packets)
	}()
	h := wire.Header{Stream: 7, Frame: 1, Width: 64, Height: 32, Tile: 0, Seq: 0, FrameTiles: 2,
		TileW: 32, TileH: 32, Fragments: 1, PayloadSize: 20, Quality: 75, CaptureUS: uint32(time.Now().UnixMicro())}
	b := make([]byte, wire.HeaderSize+20)
	h.MarshalTo(b)
	p := packet{at: time.Now()}
	pl, err := p.h.Unmarshal(b, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	p.payload, p.kind = pl, kindOf(&p.h)
	sent := time.Now()
	packets <- p // tile 1 never comes

	var f *Frame
	select {
	case f = <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("the frame missing a tile was never given up")
	}
	defer f.Release()
	if waited := time.Since(sent); waited < 100*time.Millisecond {
		t.Errorf("given up after %v, before its 100 ms deadline", waited)
	}
	close(packets)
	<-done
	if n := a.timerWakes.Load(); n == 0 || n > 5 {
		t.Errorf("the expiry timer woke %d times for one frame's deadline, want 1 to 5", n)
	}
}
