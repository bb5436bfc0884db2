package sender

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// recorder is a socket that keeps what is written to it.
type recorder struct {
	mu     sync.Mutex
	dgrams [][]byte
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.dgrams = append(r.dgrams, append([]byte(nil), b...))
	r.mu.Unlock()
	return len(b), nil
}

// The packer cuts tiles into numbered fragments, and a protected frame's parity
// and the end marker follow the data.
func TestPackerFramesDatagrams(t *testing.T) {
	hdr := wire.Header{Stream: 9, Frame: 3, Width: 512, Height: 128, FrameTiles: 2, TileW: 256, TileH: 128, Quality: 50,
		Format: wire.CodecJPEGScan<<4 | wire.Sub420}
	for _, protected := range []bool{false, true} {
		name := map[bool]string{false: "an unprotected frame is data then the end marker",
			true: "a protected frame is data, parity, then the end marker"}[protected]
		t.Run(name, func(t *testing.T) {
			const mtu = 300
			rec := &recorder{}
			p := &packer{conns: []io.Writer{rec}, pace: &pacer{}, mtu: mtu, count: &counters{}}
			p.pace.setRate(1e9)
			fj := &frameJob{hdr: hdr}
			if protected {
				e, err := fec.NewEncoder(50, mtu)
				if err != nil {
					t.Fatal(err)
				}
				fj.parity = e.Start()
			}
			o := p.newOutbox()
			payloads := [][]byte{bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 200)}
			for i, pl := range payloads {
				p.packTile(o, fj, tileJob{fj: fj, tile: i}, pl, i)
			}
			p.finish(o, fj, 0)
			var data, parity, ends int
			var got [2][]byte
			for i, d := range rec.dgrams {
				var h wire.Header
				pl, err := h.Unmarshal(d, wire.DefaultLimits)
				if err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				if h.Format != hdr.Format || h.Frame != hdr.Frame || h.Stream != hdr.Stream {
					t.Fatalf("datagram %d does not carry the frame's header: %+v", i, h)
				}
				switch {
				case h.IsEnd():
					ends++
					if i != len(rec.dgrams)-1 || int(h.Seq) != data-1 {
						t.Fatalf("end marker at %d naming datagram %d; want last, naming %d", i, h.Seq, data-1)
					}
				case h.Flags&wire.FlagParity != 0:
					parity++
				default:
					if parity > 0 || int(h.Seq) != data || (h.Flags&wire.FlagProtected != 0) != protected {
						t.Fatalf("data datagram %d: seq %d, flags %x after %d parity", i, h.Seq, h.Flags, parity)
					}
					data++
					got[h.Tile] = append(got[h.Tile], pl...)
				}
			}
			for i := range payloads {
				if !bytes.Equal(got[i], payloads[i]) {
					t.Fatalf("tile %d reassembled to %d bytes, want its %d", i, len(got[i]), len(payloads[i]))
				}
			}
			if ends != 1 || (parity > 0) != protected {
				t.Fatalf("%d end markers, %d parity datagrams", ends, parity)
			}
			if n := fj.sent.payload.Load(); n != 1200 {
				t.Fatalf("tallied %d payload bytes, want the tiles' 1200 (parity and end marker excluded)", n)
			}
			if n := p.count.datagrams.Load(); n != uint64(len(rec.dgrams)) || fj.sent.datagrams.Load() != int64(n) {
				t.Fatalf("counted %d datagrams, sent %d", n, len(rec.dgrams))
			}
		})
	}
}

// frames is an unpaced source of one picture, without end: Run stops it after the
// frames it was asked for, however many rate control skips on the way.
type frames struct {
	img *image.YCbCr
}

func (s *frames) Info() capture.Info {
	return capture.Info{Width: s.img.Rect.Dx(), Height: s.img.Rect.Dy(), Subsample: s.img.SubsampleRatio}
}
func (s *frames) Close() error { return nil }
func (s *frames) Next(context.Context) (*capture.Frame, error) {
	return &capture.Frame{Image: s.img, Time: time.Now()}, nil
}

// Issue 17: with image/jpeg and a 4:2:2 source, data datagrams said 4:2:0 while
// parity and end markers said 4:2:2, and the receiver dropped all parity. Every
// datagram of a frame must carry the format its scans are in.
func TestEveryDatagramOfAFrameCarriesOneFormat(t *testing.T) {
	cases := []struct {
		name string
		enc  func() tile.Encoder
		sub  image.YCbCrSubsampleRatio
		want uint8
	}{
		{"image/jpeg from 4:2:2 is 4:2:0 in every datagram", func() tile.Encoder { return &tile.StdEncoder{} },
			image.YCbCrSubsampleRatio422, wire.Sub420},
		{"the fast encoder from 4:2:2 is 4:2:2 in every datagram", func() tile.Encoder { return &tile.FastEncoder{} },
			image.YCbCrSubsampleRatio422, wire.Sub422},
		{"image/jpeg from 4:2:0 is 4:2:0 in every datagram", func() tile.Encoder { return &tile.StdEncoder{} },
			image.YCbCrSubsampleRatio420, wire.Sub420},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const n = 3
			ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ln.SetReadBuffer(4 << 20)
			s, err := New(Config{To: ln.LocalAddr().String(), FEC: 50, NewEncoder: c.enc, Sockets: 2, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			done := make(chan error, 1)
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }() // a failed test still stops the sender
			ln.SetReadDeadline(time.Now().Add(time.Minute))
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.Run(ctx, &frames{img: textured(512, 256, c.sub)}, n)
				// Every datagram has been written: what has not arrived soon will not.
				ln.SetReadDeadline(time.Now().Add(5 * time.Second))
				done <- err
			}()
			formats := map[uint8]int{}
			kinds := map[kind]int{}
			buf := make([]byte, wire.MaxDatagram)
			for kinds[kindEnd] < n {
				m, err := ln.Read(buf)
				if err != nil {
					t.Fatalf("after %v datagrams: %v", kinds, err)
				}
				var h wire.Header
				if _, err := h.Unmarshal(buf[:m], wire.DefaultLimits); err != nil {
					t.Fatalf("datagram: %v", err)
				}
				switch {
				case h.IsEnd():
					kinds[kindEnd]++
				case h.Flags&wire.FlagParity != 0:
					kinds[kindParity]++
				default:
					kinds[kindData]++
				}
				formats[h.Format]++
			}
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			want := wire.CodecJPEGScan<<4 | c.want
			if len(formats) != 1 || formats[want] == 0 {
				t.Fatalf("formats %v over %v datagrams, want all %#x", formats, kinds, want)
			}
			if kinds[kindData] == 0 || kinds[kindParity] == 0 {
				t.Fatalf("datagrams %v: want data and parity", kinds)
			}
			if st := s.Stats(); st.EncodeErrors != 0 {
				t.Fatalf("%d encode errors", st.EncodeErrors)
			}
		})
	}
}
