package sender

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// loopbackPacker is a packer on sockets connected to one loopback listener, sending
// by path, sealing when key is set.
func loopbackPacker(t *testing.T, path udp.SendPath, sockets, mtu int, key []byte) (*packer, *net.UDPConn) {
	t.Helper()
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if _, _, err := udp.RaiseBuffers(ln, udp.BufferBytes); err != nil {
		t.Fatal(err)
	}
	p := &packer{pace: &pacer{}, mtu: mtu, count: &counters{}, path: path}
	if key != nil {
		p.mtu -= seal.Overhead
		if p.sealer, err = seal.NewSealer(seal.ChaCha20Poly1305, key); err != nil {
			t.Fatal(err)
		}
	}
	for range sockets {
		c, err := net.DialUDP("udp", nil, ln.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		p.conns = append(p.conns, c)
	}
	p.pace.setRate(8e9)
	return p, ln
}

// Every path delivers a protected frame's tiles byte-exact, sealed or not, with its
// parity and one end marker, and tallies every datagram.
func TestOutboxDeliversEveryDatagramOnEveryPath(t *testing.T) {
	hdr := wire.Header{Stream: 9, Frame: 3, Width: 1024, Height: 256, FrameTiles: 4, TileW: 256, TileH: 128, Quality: 50,
		Format: wire.CodecJPEGScan<<4 | wire.Sub420}
	// Tile sizes: one fragment, several equal ones with an odd last, exactly two,
	// and a large tile whose fragments outrun one batch.
	sizes := []int{300, 9001, 2 * (1400 - wire.HeaderSize - 16), 120000}
	key := bytes.Repeat([]byte{7}, 32)
	for _, path := range []udp.SendPath{udp.SendGSO, udp.SendMmsg, udp.SendPlain} {
		for _, sealed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, sealed %v, delivers every tile whole", path, sealed), func(t *testing.T) {
				var k []byte
				if sealed {
					k = key
				}
				p, ln := loopbackPacker(t, path, 2, 1400, k)
				e, err := fec.NewEncoder(20, p.mtu)
				if err != nil {
					t.Fatal(err)
				}
				fj := &frameJob{hdr: hdr, parity: e.Start()}
				o := p.newOutbox()
				payloads := make([][]byte, len(sizes))
				for i, n := range sizes {
					payloads[i] = filled(i, n)
					p.packTile(o, fj, tileJob{fj: fj, tile: i}, payloads[i], i)
				}
				p.finish(o, fj, 0.05)
				if path != udp.SendPlain {
					if w, ok := o.ws[0].(*udp.Writer); !ok || w.Path() != path {
						t.Fatalf("outbox writer %T on %v, want a udp.Writer on %s", o.ws[0], o.ws[0], path)
					}
				}
				var opener *seal.Opener
				if sealed {
					if opener, err = seal.NewOpener(seal.ChaCha20Poly1305, key); err != nil {
						t.Fatal(err)
					}
				}
				got := make([][]byte, len(sizes))
				var parity, ends int
				buf := make([]byte, wire.MaxDatagram)
				ln.SetReadDeadline(time.Now().Add(testrig.Patience))
				for total := 0; total < int(p.count.datagrams.Load()) || total == 0; total++ {
					n, err := ln.Read(buf)
					if err != nil {
						t.Fatalf("after %d datagrams: %v", total, err)
					}
					d := buf[:n]
					if opener != nil {
						if d, err = opener.OpenDatagram(d, wire.HeaderSize); err != nil {
							t.Fatalf("datagram %d does not open: %v", total, err)
						}
						wire.ClearSealed(d)
					}
					var h wire.Header
					pl, err := h.Unmarshal(d, wire.DefaultLimits)
					if err != nil {
						t.Fatalf("datagram %d: %v", total, err)
					}
					switch {
					case h.IsEnd():
						ends++
					case h.Flags&wire.FlagParity != 0:
						parity++
					default:
						if got[h.Tile] == nil {
							got[h.Tile] = make([]byte, h.PayloadSize)
						}
						off, m := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
						if m != len(pl) {
							t.Fatalf("tile %d fragment %d: %d bytes, want %d", h.Tile, h.Fragment, len(pl), m)
						}
						copy(got[h.Tile][off:], pl)
					}
				}
				for i := range payloads {
					if !bytes.Equal(got[i], payloads[i]) {
						t.Fatalf("tile %d arrived as %d bytes unlike the %d sent", i, len(got[i]), len(payloads[i]))
					}
				}
				if ends != 1 || parity == 0 {
					t.Fatalf("%d end markers and %d parity datagrams, want 1 and some", ends, parity)
				}
				if fj.sent.datagrams.Load() != int64(p.count.datagrams.Load()) || p.count.sendErrs.Load() != 0 {
					t.Fatalf("tallied %d datagrams, counted %d, %d send errors", fj.sent.datagrams.Load(), p.count.datagrams.Load(), p.count.sendErrs.Load())
				}
			})
		}
	}
}

// A batch is one burst for the pacer: never more bytes than its budget, so GSO
// keeps the pacing.
func TestOutboxBatchesStayWithinThePacersBudget(t *testing.T) {
	for _, rate := range []int64{2e6, 50e6, 8e9} {
		t.Run(fmt.Sprintf("at %d bit/s no batch exceeds the burst", rate), func(t *testing.T) {
			rec := &batchRecorder{}
			p := &packer{conns: []io.Writer{io.Discard}, pace: &pacer{}, mtu: 1400, count: &counters{}}
			p.pace.setRate(rate)
			o := p.newOutbox()
			o.ws[0] = rec
			fj := &frameJob{hdr: wire.Header{Stream: 1, Frame: 1, Width: 256, Height: 128, FrameTiles: 1, TileW: 256, TileH: 128, Quality: 50}}
			p.packTile(o, fj, tileJob{fj: fj}, filled(0, 200000), 0)
			limit := max(p.pace.budget(), 1400)
			if len(rec.batches) < 2 {
				t.Fatalf("%d batches for 200 KB", len(rec.batches))
			}
			for i, b := range rec.batches {
				if b > limit || b > udp.MaxBatchBytes {
					t.Fatalf("batch %d of %d bytes, over the budget %d", i, b, limit)
				}
			}
		})
	}
}

// Batching keeps the pacing rate: a tile far larger than the burst leaves no
// faster than the rate allows (the lower bound alone: a busy machine may be slower).
func TestOutboxBatchesKeepThePacingRate(t *testing.T) {
	for _, c := range []struct {
		name string
		path udp.SendPath
	}{{"GSO batches keep the rate", udp.SendGSO}, {"sendmmsg batches keep the rate", udp.SendMmsg}, {"plain writes keep the rate", udp.SendPlain}} {
		t.Run(c.name, func(t *testing.T) {
			const rate, size = 40e6, 400_000 // bits/s, bytes: 80 ms at the rate
			p, _ := loopbackPacker(t, c.path, 1, 1400, nil)
			p.pace = &pacer{}
			p.pace.setRate(rate)
			o := p.newOutbox()
			fj := &frameJob{hdr: wire.Header{Stream: 1, Frame: 1, Width: 256, Height: 128, FrameTiles: 1, TileW: 256, TileH: 128, Quality: 50}}
			start := time.Now()
			p.packTile(o, fj, tileJob{fj: fj}, filled(0, size), 0)
			took := time.Since(start)
			burst := float64(p.pace.budget())
			want := time.Duration((float64(fj.sent.bytes.Load()) - 2*burst) / (rate / 8) * float64(time.Second))
			if took < want {
				t.Fatalf("%d bytes left in %v, the rate allows no less than %v", fj.sent.bytes.Load(), took, want)
			}
		})
	}
}

// batchRecorder keeps the byte size of each batch.
type batchRecorder struct{ batches []int }

func (r *batchRecorder) Write(dgrams [][]byte) (int, error) {
	n := 0
	for _, d := range dgrams {
		n += len(d)
	}
	r.batches = append(r.batches, n)
	return len(dgrams), nil
}

// Packing and sending a tile allocates nothing per datagram (issue 15).
func TestPackTileAllocatesNothing(t *testing.T) {
	for _, path := range []udp.SendPath{udp.SendGSO, udp.SendMmsg} {
		t.Run(path.String()+" allocates nothing per tile", func(t *testing.T) {
			// The listener's 8 MB buffer holds the 1.2 MB sent, so nothing need read it.
			// Clear datagrams: seal keeps nonces in a sync.Pool, which -race empties at random.
			p, _ := loopbackPacker(t, path, 1, 1400, nil)
			o := p.newOutbox()
			fj := &frameJob{hdr: wire.Header{Stream: 1, Frame: 1, Width: 256, Height: 128, FrameTiles: 1, TileW: 256, TileH: 128, Quality: 50}}
			payload := filled(0, 12000)
			allocs := testing.AllocsPerRun(100, func() {
				fj.sent.seq.Store(0)
				p.packTile(o, fj, tileJob{fj: fj}, payload, 0)
			})
			if allocs != 0 {
				t.Fatalf("%.1f allocations per 9-datagram tile, want 0", allocs)
			}
		})
	}
}

func filled(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i>>8)
	}
	return b
}
