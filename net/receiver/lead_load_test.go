package receiver_test

import (
	"context"
	"image"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

func TestLoopback1080p(t *testing.T) {
	frames := 30
	if raceEnabled {
		frames = 8
	}
	rs, ss, worst := stream(t, 1920, 1080, 30, frames, sender.Config{Quality: 85})
	// Loopback loses nothing, but a starved reader goroutine (race detector, a busy
	// machine) can hold a datagram past the reordering grace: allow one such frame.
	if rs.FramesComplete+1 < uint64(frames) || rs.DatagramsInvalid != 0 {
		t.Fatalf("receiver %+v\nsender %+v", rs, ss)
	}
	if worst < 35 {
		t.Fatalf("worst PSNR %.1f dB, want >= 35", worst)
	}
}

func fast() tile.Encoder { return &tile.FastEncoder{} }

// slowDecoder stands for a receiver too slow for the stream: every tile takes 4 ms more.
type slowDecoder struct{ tile.Decoder }

func (d slowDecoder) DecodeTile(dst *image.YCbCr, r image.Rectangle, q int, sub uint8, scan []byte) error {
	time.Sleep(4 * time.Millisecond)
	return d.Decoder.DecodeTile(dst, r, q, sub, scan)
}

// TestSlowReceiverMakesTheSenderSkipFrames: when the receiver falls behind, the ack
// window makes the sender skip capture frames instead of queueing them, so latency
// stays bounded instead of growing with every frame.
func TestSlowReceiverMakesTheSenderSkipFrames(t *testing.T) {
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 1, Decoders: 1, Deadline: time.Second,
		NewDecoder: func(h *tile.Headers) tile.Decoder { return slowDecoder{&tile.StdDecoder{Headers: h}} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rx.Run(ctx) }()
	go func() { // a display that takes what comes
		defer wg.Done()
		for {
			f, err := rx.Next(ctx)
			if err != nil {
				return
			}
			f.Release()
		}
	}()
	// 640x384 in 256x128 tiles is 9 tiles: 36 ms of decoding a frame, 27 fps at best
	// with nothing else running; the source runs at 60 fps.
	pat, _ := capture.NewPattern(640, 384, 60)
	tx, err := sender.New(sender.Config{To: rx.Addr(), Window: 2, NewEncoder: fast})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	if err := tx.Run(sctx, pat, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	rs, ss := rx.Stats(), tx.Stats()
	t.Logf("receiver %+v\nsender %+v", rs, ss)
	if ss.FramesDroppedAck == 0 {
		t.Fatal("the sender never held back for the slow receiver")
	}
	if rs.FramesReceived < 5 {
		t.Fatalf("only %d frames got through", rs.FramesReceived)
	}
	// Without the window the sender would have sent every frame it captured and the
	// receiver would still be decoding them: frames in flight stay within the window.
	if ss.FramesSent > rs.FramesReceived+uint64(2)+ss.FramesDroppedAck/4 && rs.LatencyP99 > 1500 {
		t.Fatalf("sent %d frames, %d received, latency p99 %.0f ms: frames are queueing", ss.FramesSent, rs.FramesReceived, rs.LatencyP99)
	}
}

// TestGarbageFloodIsCountedWhileTheStreamPlays sends every kind of bad datagram at
// the receiver while a real stream runs: all of them are counted, none disturbs the picture.
func TestGarbageFloodIsCountedWhileTheStreamPlays(t *testing.T) {
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 2, Deadline: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rx.Run(ctx) }()
	shown := make(chan *receiver.Frame, 1)
	go func() {
		defer wg.Done()
		for {
			f, err := rx.Next(ctx)
			if err != nil {
				return
			}
			select {
			case old := <-shown:
				old.Release()
			default:
			}
			shown <- f
		}
	}()
	garbage := badDatagrams()
	var sent int
	flood, stopFlood := context.WithCancel(ctx)
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		c, err := net.Dial("udp", rx.Addr())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for i := 0; flood.Err() == nil; i++ {
			c.Write(garbage[i%len(garbage)])
			sent++
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	frames := 20
	if raceEnabled {
		frames = 6
	}
	pat, _ := capture.NewPattern(640, 384, 20)
	tx, err := sender.New(sender.Config{To: rx.Addr(), Quality: 85, NewEncoder: fast})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Run(ctx, pat, frames); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	stopFlood()
	<-floodDone
	time.Sleep(100 * time.Millisecond)
	rs := rx.Stats()
	var last *receiver.Frame
	select {
	case last = <-shown:
	default:
	}
	cancel()
	wg.Wait()
	t.Logf("%d garbage datagrams sent; receiver %+v", sent, rs)
	if rs.FramesComplete < uint64(frames)-1 {
		t.Fatalf("%d of %d frames complete under the flood", rs.FramesComplete, frames)
	}
	// Loopback does not lose datagrams unless the socket buffer overflows; allow that.
	if rs.DatagramsInvalid+rs.DatagramsOverflow < uint64(sent)*9/10 {
		t.Fatalf("%d garbage datagrams sent, %d counted invalid", sent, rs.DatagramsInvalid)
	}
	if last == nil {
		t.Fatal("no frame shown")
	}
	if !last.Complete() || last.Stream != tx.Stream() {
		t.Fatalf("last frame shown: stream %d complete %v, want stream %d complete", last.Stream, last.Complete(), tx.Stream())
	}
	last.Release()
}

// badDatagrams is a sample of hostile input: random bytes, truncations and every
// header field out of range, built on a valid datagram of a foreign stream.
func badDatagrams() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	good := wire.Header{Stream: 1, Frame: 1, Width: 640, Height: 384, Tile: 0, GridTiles: 9, FrameTiles: 9,
		TileW: 256, TileH: 128, Fragments: 1, PayloadSize: 10, Quality: 75}
	mk := func(mod func(h *wire.Header), payload int) []byte {
		h := good
		mod(&h)
		b := make([]byte, wire.HeaderSize+payload)
		h.MarshalTo(b)
		return b
	}
	out := [][]byte{
		{}, {0x48}, []byte("HV"), make([]byte, wire.HeaderSize-1),
		mk(func(h *wire.Header) { h.Width = 9000 }, 10),
		mk(func(h *wire.Header) { h.Tile = 9 }, 10),
		mk(func(h *wire.Header) { h.GridTiles = 8 }, 10),
		mk(func(h *wire.Header) { h.Fragment = 1 }, 10),
		mk(func(h *wire.Header) { h.Quality = 0 }, 10),
		mk(func(h *wire.Header) { h.Format = 0x31 }, 10),
		mk(func(h *wire.Header) {}, 11), // length disagrees with the payload size
	}
	for i := 0; i < 16; i++ {
		b := make([]byte, 1+rng.IntN(1400))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		out = append(out, b)
	}
	return out
}
