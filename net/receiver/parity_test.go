package receiver_test

import (
	"context"
	"image"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// TestParityRebuildsOneMissingFragment sends one tile in fragments by hand, leaves one
// out, and sends XOR parity over the group: the receiver must rebuild the fragment and
// decode the tile to the same pixels as when nothing was lost.
func TestParityRebuildsOneMissingFragment(t *testing.T) {
	pat, err := capture.NewPattern(256, 128, 0)
	if err != nil {
		t.Fatal(err)
	}
	src := image.NewYCbCr(image.Rect(0, 0, 256, 128), image.YCbCrSubsampleRatio420)
	pat.Draw(src, 5)
	var enc tile.StdEncoder
	payload, sub, err := enc.AppendTile(nil, src, src.Rect, 90)
	if err != nil {
		t.Fatal(err)
	}
	const frags = 5
	cases := []struct {
		name    string
		drop    int // fragment left out
		group   int
		rebuilt uint64
	}{
		{"a middle fragment comes back from one group over all", 2, frags, 1},
		{"the short last fragment comes back", frags - 1, frags, 1},
		{"the first fragment comes back from a group of two", 0, 2, 1},
		{"with every fragment there, parity changes nothing", -1, 2, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 1, Deadline: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); rx.Run(ctx) }()
			defer func() { cancel(); wg.Wait() }()
			conn, err := net.Dial("udp", rx.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			h := wire.Header{Stream: uint32(100 + i), Frame: 1, Width: 256, Height: 128, Tile: 0, GridTiles: 1, FrameTiles: 1,
				TileW: 256, TileH: 128, Fragments: frags, PayloadSize: uint32(len(payload)), Quality: 90, Format: sub}
			buf := make([]byte, wire.MaxDatagram)
			_, e := wire.FragmentSpan(h.PayloadSize, frags, 0)
			parity := make([][]byte, wire.ParityGroups(frags, c.group))
			for g := range parity {
				parity[g] = make([]byte, e)
			}
			for f := 0; f < frags; f++ {
				off, n := wire.FragmentSpan(h.PayloadSize, frags, uint16(f))
				for k, b := range payload[off : off+n] {
					parity[f/c.group][k] ^= b
				}
				if f == c.drop {
					continue
				}
				h.Fragment = uint16(f)
				h.MarshalTo(buf)
				conn.Write(append(buf[:wire.HeaderSize:wire.HeaderSize], payload[off:off+n]...))
			}
			h.Flags = wire.ParityFlags(c.group)
			for g, p := range parity {
				h.Fragment = uint16(g)
				h.MarshalTo(buf)
				conn.Write(append(buf[:wire.HeaderSize:wire.HeaderSize], p...))
			}
			fctx, fcancel := context.WithTimeout(ctx, 3*time.Second)
			defer fcancel()
			f, err := rx.Next(fctx)
			if err != nil {
				t.Fatalf("no frame: %v (stats %+v)", err, rx.Stats())
			}
			defer f.Release()
			st := rx.Stats()
			if !f.Complete() || st.DatagramsRecovered != c.rebuilt {
				t.Fatalf("complete %v, %d datagrams rebuilt (want %d); stats %+v", f.Complete(), st.DatagramsRecovered, c.rebuilt, st)
			}
			if p := tile.PSNR(src, f.Image); p < 35 {
				t.Fatalf("PSNR %.1f dB against the source: the rebuilt fragment is wrong", p)
			}
		})
	}
}
