package receiver_test

import (
	"context"
	"encoding/binary"
	"image"
	"net"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

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
