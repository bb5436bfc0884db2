package receiver_test

import (
	"context"
	"encoding/binary"
	"image"
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

// BenchmarkLoopback streams the pattern as fast as the machine allows, both ends in
// this process, and reports delivered frames per second and capture-to-ready latency.
func BenchmarkLoopback(b *testing.B) {
	for _, s := range []struct {
		name string
		w, h int
	}{{"720p", 1280, 720}, {"1080p", 1920, 1080}, {"4K", 3840, 2160}} {
		b.Run(s.name, func(b *testing.B) {
			rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Deadline: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); rx.Run(ctx) }()
			go func() {
				defer wg.Done()
				for {
					f, err := rx.Next(ctx)
					if err != nil {
						return
					}
					f.Release()
				}
			}()
			pat, _ := capture.NewPattern(s.w, s.h, 0)
			tx, err := sender.New(sender.Config{To: rx.Addr(), NewEncoder: fast})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(s.w * s.h * 3 / 2))
			b.ResetTimer()
			start := time.Now()
			if err := tx.Run(ctx, pat, b.N); err != nil {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			wg.Wait()
			rs := rx.Stats()
			b.ReportMetric(float64(rs.FramesComplete)/elapsed.Seconds(), "frames/s")
			b.ReportMetric(rs.LatencyP50, "ms-p50")
			b.ReportMetric(float64(rs.BytesReceived)/float64(max(rs.FramesReceived, 1)), "B/frame")
		})
	}
}

// BenchmarkAssemble measures the receiving end alone: one 1080p frame's datagrams,
// encoded once, are sent again and again under new frame numbers, and each round
// waits for the receiver to rebuild the frame.
func BenchmarkAssemble(b *testing.B) {
	const w, h = 1920, 1080
	p, _ := capture.NewPattern(w, h, 0)
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	p.Draw(img, 7)
	g, _ := tile.NewGrid(w, h, tile.DefaultW, tile.DefaultH, wire.Sub420)
	var enc tile.FastEncoder
	var dgrams [][]byte
	for i := 0; i < g.Len(); i++ {
		payload, sub, err := enc.AppendTile(nil, img, g.Rect(i), 75)
		if err != nil {
			b.Fatal(err)
		}
		n := wire.Fragments(len(payload), 1400-wire.HeaderSize)
		for k := 0; k < n; k++ {
			hd := wire.Header{Stream: 5, Width: w, Height: h, Tile: uint16(i), GridTiles: uint16(g.Len()),
				FrameTiles: uint16(g.Len()), TileW: uint16(g.TW), TileH: uint16(g.TH), Fragment: uint16(k),
				Fragments: uint16(n), PayloadSize: uint32(len(payload)), Quality: 75, Format: sub}
			off, m := wire.FragmentSpan(hd.PayloadSize, hd.Fragments, hd.Fragment)
			d := make([]byte, wire.HeaderSize+m)
			hd.MarshalTo(d)
			copy(d[wire.HeaderSize:], payload[off:off+m])
			dgrams = append(dgrams, d)
		}
	}
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Deadline: time.Second,
		NewDecoder: func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rx.Run(ctx) }()
	c, err := net.Dial("udp", rx.Addr())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(w * h * 3 / 2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range dgrams {
			binary.BigEndian.PutUint32(d[8:], uint32(i+1))
			if _, err := c.Write(d); err != nil {
				b.Fatal(err)
			}
		}
		f, err := rx.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
	b.StopTimer()
	c.Close()
	cancel()
	<-done
	rs := rx.Stats()
	if rs.FramesComplete < uint64(b.N)*9/10 {
		b.Fatalf("%d of %d frames complete", rs.FramesComplete, b.N)
	}
}
