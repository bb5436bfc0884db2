package receiver

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// fragments is a frame's data datagrams for tiles of the given payload sizes, cut at
// room bytes: runs of equal datagrams, each ending in an odd one.
func fragments(sizes []int, room int) (dgrams, payloads [][]byte) {
	h := wire.Header{Stream: 5, Frame: 1, Width: 2048, Height: 128, FrameTiles: uint16(len(sizes)), TileW: 256, TileH: 128,
		Quality: 60, Format: wire.CodecJPEGScan<<4 | wire.Sub420}
	seq := 0
	for t, n := range sizes {
		pl := make([]byte, n)
		for i := range pl {
			pl[i] = byte(t*13 + i*5 + i>>8)
		}
		payloads = append(payloads, pl)
		count := wire.Fragments(n, room)
		h.Tile, h.Fragments, h.PayloadSize = uint16(t), uint16(count), uint32(n)
		for i := 0; i < count; i++ {
			h.Seq, h.Fragment = uint16(seq), uint16(i)
			seq++
			off, m := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
			d := make([]byte, wire.HeaderSize+m)
			if _, err := h.MarshalTo(d); err != nil {
				panic(err)
			}
			copy(d[wire.HeaderSize:], pl[off:off+m])
			dgrams = append(dgrams, d)
		}
	}
	return dgrams, payloads
}

// Every receive path queues every datagram a sender's paths send, byte-exact, as
// slices of the reader's chunks, and nothing stays counted as queued once they are freed.
func TestEveryReadPathQueuesEveryDatagram(t *testing.T) {
	dgrams, payloads := fragments([]int{300, 9001, 20000, 4000, 1}, 1400-wire.HeaderSize)
	for _, sp := range []udp.SendPath{udp.SendGSO, udp.SendMmsg, udp.SendPlain} {
		for _, rp := range []udp.RecvPath{udp.RecvGRO, udp.RecvMmsg, udp.RecvPlain} {
			t.Run(fmt.Sprintf("%s to %s queues every fragment whole", sp, rp), func(t *testing.T) {
				r, err := New(Config{Listen: "127.0.0.1:0", Sockets: 1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.conns[0].Close(); r.ctl.Close() })
				rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				tx, err := net.DialUDP("udp", nil, rx.LocalAddr().(*net.UDPAddr))
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Close()
				for _, c := range []*net.UDPConn{rx, tx} {
					udp.RaiseBuffers(c, udp.BufferBytes)
				}
				done := make(chan struct{})
				go func() { defer close(done); r.readBy(rx, rp) }()
				defer func() {
					rx.Close()
					select {
					case <-done:
					case <-time.After(testrig.Patience):
						t.Error("the reader did not end when its socket closed")
					}
				}()
				w, err := udp.NewWriter(tx, sp, 64)
				if err != nil {
					t.Fatal(err)
				}
				if n, err := w.Write(dgrams); err != nil || n != len(dgrams) {
					t.Fatalf("sent %d of %d: %v", n, len(dgrams), err)
				}
				got := make([][]byte, len(payloads))
				deadline := time.After(testrig.Patience)
				for i := 0; i < len(dgrams); i++ {
					select {
					case p := <-r.packets:
						if got[p.h.Tile] == nil {
							got[p.h.Tile] = make([]byte, p.h.PayloadSize)
						}
						off, _ := wire.FragmentSpan(p.h.PayloadSize, p.h.Fragments, p.h.Fragment)
						copy(got[p.h.Tile][off:], p.payload)
						if p.chunk == nil || p.kind != kindData {
							t.Fatalf("packet %d: chunk %v, kind %d", i, p.chunk, p.kind)
						}
						p.free()
					case <-deadline:
						t.Fatalf("%d of %d datagrams queued; counters: %d read, %d invalid", i, len(dgrams), r.c.dgrams.Load(), r.c.invalid.Load())
					}
					if r.c.invalid.Load() != 0 {
						t.Fatalf("%d of %d datagrams queued; counters: %d read, %d invalid", i, len(dgrams), r.c.dgrams.Load(), r.c.invalid.Load())
					}
				}
				for i := range payloads {
					if !bytes.Equal(got[i], payloads[i]) {
						t.Fatalf("tile %d differs", i)
					}
				}
				if q := r.queued.Load(); q != 0 {
					t.Fatalf("%d bytes still counted as queued after every packet was freed", q)
				}
			})
		}
	}
}

// The reader never waits for the assembler: with nobody taking packets it drops
// what the queue cannot hold, counts it, and keeps reading.
func TestReaderDropsWhatAFullQueueCannotTake(t *testing.T) {
	r, err := New(Config{Listen: "127.0.0.1:0", Sockets: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.ctl.Close()
	c := r.conns[0]
	done := make(chan struct{})
	go func() { defer close(done); r.readBy(c, udp.RecvGRO) }()
	defer func() { c.Close(); <-done }()
	tx, err := net.DialUDP("udp", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	dgrams, _ := fragments([]int{60000}, 1400-wire.HeaderSize)
	w, _ := udp.NewWriter(tx, udp.SendGSO, 64)
	testrig.Eventually(t, testrig.Patience, func() error {
		if _, err := w.Write(dgrams); err != nil {
			return err
		}
		if n := r.c.overflow.Load(); n == 0 {
			return fmt.Errorf("no overflow yet with %d packets queued", len(r.packets))
		}
		return nil
	})
	if len(r.packets) != cap(r.packets) && r.queued.Load() == 0 {
		t.Fatalf("overflow counted with %d of %d queued", len(r.packets), cap(r.packets))
	}
}

// Reading, validating and queueing a datagram allocates nothing (issue 15): the
// payload is a slice of the reader's chunk.
func TestReadingAllocatesNothingPerDatagram(t *testing.T) {
	r, err := New(Config{Listen: "127.0.0.1:0", Sockets: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.ctl.Close()
	c := r.conns[0]
	done := make(chan struct{})
	go func() { defer close(done); r.readBy(c, udp.RecvGRO) }()
	defer func() { c.Close(); <-done }()
	tx, err := net.DialUDP("udp", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	dgrams, _ := fragments([]int{20000}, 1400-wire.HeaderSize)
	w, _ := udp.NewWriter(tx, udp.SendGSO, 64)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := w.Write(dgrams); err != nil {
			t.Fatal(err)
		}
		for range dgrams {
			p := <-r.packets
			p.free()
		}
	})
	if allocs >= 1 {
		t.Fatalf("%.1f allocations per %d datagrams sent and queued, want none", allocs, len(dgrams))
	}
}
