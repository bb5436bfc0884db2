package receiver_test

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

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
	// 640x384 in 256x128 tiles is 9 tiles: 36 ms of decoding a frame, 27 fps at best
	// with nothing else running; the source runs at 60 fps.
	pat, _ := capture.NewPattern(640, 384, 60)
	r := loopback.Start(t, pat, loopback.Config{
		Receiver: receiver.Config{Sockets: 1, Decoders: 1, Deadline: time.Second,
			NewDecoder: func(h *tile.Headers) tile.Decoder { return slowDecoder{&tile.StdDecoder{Headers: h}} }},
		Sender: sender.Config{Window: 2, NewEncoder: fast},
	})
	// However slowly a busy machine runs both ends, the receiver's decoding is the
	// slower: send until the sender has held back and a few frames got through.
	r.SendUntil(t, func() error {
		if rs, ss := r.RX.Stats(), r.TX.Stats(); ss.FramesDroppedAck == 0 || rs.FramesReceived < 5 {
			return fmt.Errorf("%d frames held back for the slow receiver, %d received", ss.FramesDroppedAck, rs.FramesReceived)
		}
		return nil
	})
	r.Stop()
	rs, ss := r.RX.Stats(), r.TX.Stats()
	t.Logf("receiver %+v\nsender %+v", rs, ss)
	// Without the window the sender would have sent every frame it captured and the
	// receiver would still be decoding them: frames in flight stay within the window.
	if ss.FramesSent > rs.FramesReceived+uint64(2)+ss.FramesDroppedAck/4 && rs.LatencyP99 > 1500 {
		t.Fatalf("sent %d frames, %d received, latency p99 %.0f ms: frames are queueing", ss.FramesSent, rs.FramesReceived, rs.LatencyP99)
	}
}

// TestGarbageFloodIsCountedWhileTheStreamPlays sends every kind of bad datagram at
// the receiver while a real stream runs: all of them are counted, none disturbs the picture.
func TestGarbageFloodIsCountedWhileTheStreamPlays(t *testing.T) {
	frames := 20
	if testrig.Race {
		frames = 6
	}
	pat, _ := capture.NewPattern(640, 384, 20)
	r := loopback.Start(t, pat, loopback.Config{
		Receiver: receiver.Config{Sockets: 2, Deadline: time.Second},
		Sender:   sender.Config{Quality: 85, NewEncoder: fast},
	})
	garbage := badDatagrams()
	var sent int
	flood, stopFlood := context.WithCancel(context.Background())
	defer stopFlood()
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		c, err := net.Dial("udp", r.RX.Addr())
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
	if err := r.Send(context.Background(), frames); err != nil {
		t.Fatal(err)
	}
	r.Settle()
	stopFlood()
	<-floodDone
	// Loopback does not lose datagrams unless the socket buffer overflows; allow that.
	testrig.Eventually(t, testrig.Patience, func() error {
		if rs := r.RX.Stats(); rs.DatagramsInvalid+rs.DatagramsOverflow < uint64(sent)*9/10 {
			return fmt.Errorf("%d garbage datagrams sent, %d counted invalid, %d overflowed", sent, rs.DatagramsInvalid, rs.DatagramsOverflow)
		}
		return nil
	})
	r.Stop()
	rs := r.RX.Stats()
	t.Logf("%d garbage datagrams sent; receiver %+v", sent, rs)
	if rs.FramesComplete < uint64(frames)-1 {
		t.Fatalf("%d of %d frames complete under the flood", rs.FramesComplete, frames)
	}
	shown := r.Shown()
	if len(shown) == 0 {
		t.Fatal("no frame shown")
	}
	if last := shown[len(shown)-1]; !last.Complete || last.Stream != r.TX.Stream() {
		t.Fatalf("last frame shown: stream %d complete %v, want stream %d complete", last.Stream, last.Complete, r.TX.Stream())
	}
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
