package fec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hrvs/hrvs/net/wire"
)

func TestAdaptiveParityHysteresis(t *testing.T) {
	e, err := NewEncoder(0, 1400)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		loss   float64
		random bool
		want   bool
	}{
		{0.002, true, false},  // below the threshold: no parity yet
		{0.006, true, true},   // on
		{0.003, true, true},   // a lull at 1% loss: stays on
		{0.0005, true, false}, // the path is clean again: off
		{0.003, true, false},  // and not back on below the threshold
		{0.02, true, true},
		{0.02, false, false}, // a queue's tail drops: parity would feed the queue
	}
	for i, st := range steps {
		if got := e.Protect(st.loss, st.random); got != st.want {
			t.Fatalf("step %d (loss %.4f, random %v): parity %v, want %v", i, st.loss, st.random, got, st.want)
		}
	}
	off, err := NewEncoder(-1, 1400)
	if err != nil {
		t.Fatal(err)
	}
	if off.Protect(0.05, true) {
		t.Fatal("--fec -1 sent parity")
	}
	fixed, err := NewEncoder(10, 1400)
	if err != nil {
		t.Fatal(err)
	}
	if !fixed.Protect(0, false) {
		t.Fatal("--fec 10 sent a frame without parity")
	}
}

func TestNewEncoderRefusesWhatItCannotDo(t *testing.T) {
	cases := []struct {
		name             string
		per100, datagram int
	}{
		{"a share below -1 is refused", -2, 1400},
		{"a share above 100 is refused", 101, 1400},
		{"a datagram with no room for a shard is refused", 0, wire.HeaderSize + wire.ShardPrefix},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewEncoder(c.per100, c.datagram); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestParityCount(t *testing.T) {
	cases := []struct {
		name   string
		per100 int
		k      int
		loss   float64
		want   int
	}{
		{"a fixed share rounds up", 10, 128, 0, 13},
		{"a fixed share gives a small block at least one", 1, 5, 0, 1},
		{"a fixed share stops at the code's limit", 100, 128, 0, 128},
		{"adaptive parity grows with the loss", 0, 100, 0.05, ParityFor(100, 1.25*0.05+0.002, blockMiss)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewEncoder(c.per100, 1400)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.ParityCount(c.k, c.loss); got != c.want {
				t.Fatalf("%d parity datagrams for %d data, want %d", got, c.k, c.want)
			}
		})
	}
}

// frameOf sends d data datagrams of a protected frame through Keep and returns
// the datagrams as they would go on the wire.
func frameOf(t *testing.T, f *Outgoing, hdr wire.Header, d int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range d {
		h := hdr
		h.Flags = wire.FlagProtected
		payload := bytes.Repeat([]byte{byte(i), byte(i * 7)}, 50+i%9) // lengths differ: shards are padded
		h.Tile, h.Seq, h.Fragment, h.Fragments, h.PayloadSize = uint16(i%3), uint16(i), 0, 1, uint32(len(payload))
		if err := f.Keep(&h, payload); err != nil {
			t.Fatal(err)
		}
		dg := make([]byte, wire.HeaderSize+len(payload))
		if _, err := h.MarshalTo(dg); err != nil {
			t.Fatal(err)
		}
		copy(dg[wire.HeaderSize:], payload)
		out = append(out, dg)
	}
	return out
}

// The encoder's parity datagrams carry the frame's header fields, name their
// blocks, and rebuild lost data datagrams byte for byte through the arithmetic
// the receiver uses.
func TestParityRebuildsTheFramesDatagrams(t *testing.T) {
	hdr := wire.Header{Stream: 7, Frame: 42, CaptureUS: 1234, Width: 768, Height: 128, FrameTiles: 3,
		TileW: 256, TileH: 128, Quality: 60, Format: wire.CodecJPEGScan<<4 | wire.Sub422}
	e, err := NewEncoder(20, 1400)
	if err != nil {
		t.Fatal(err)
	}
	const d = 200 // two blocks
	f := e.Start()
	data := frameOf(t, f, hdr, d)
	var parity []wire.Header
	var shards [][]byte
	n := 0
	err = f.Parity(hdr, 0, func(dg []byte, i int) {
		if i != n {
			t.Errorf("parity datagram %d numbered %d", n, i)
		}
		n++
		var h wire.Header
		p, err := h.Unmarshal(dg, wire.DefaultLimits)
		if err != nil {
			t.Fatalf("parity datagram %d: %v", i, err)
		}
		parity = append(parity, h)
		shards = append(shards, append([]byte(nil), p...))
	})
	if err != nil {
		t.Fatal(err)
	}
	blocks := Layout(d)
	want := 0
	for _, b := range blocks {
		want += e.ParityCount(b.K, 0)
	}
	if len(parity) != want {
		t.Fatalf("%d parity datagrams, want %d", len(parity), want)
	}
	if got, w := e.Share(), 100*float64(want)/d; got != w {
		t.Fatalf("share %.2f, want %.2f", got, w)
	}
	for i, h := range parity {
		if h.Flags != wire.FlagParity || h.IsEnd() || h.Stream != hdr.Stream || h.Frame != hdr.Frame ||
			h.Format != hdr.Format || h.Quality != hdr.Quality || h.FrameTiles != hdr.FrameTiles {
			t.Fatalf("parity datagram %d header %+v does not carry the frame's %+v", i, h, hdr)
		}
	}
	// Lose the first M data datagrams of the first block and rebuild them.
	b := parity[0].Block()
	var blockParity [][]byte
	for i, h := range parity {
		if h.Block().Start == b.Start {
			blockParity = append(blockParity, shards[i])
		}
	}
	l := len(blockParity[0])
	in := make([][]byte, b.K)
	for i := range in {
		if i >= b.M {
			in[i] = make([]byte, l)
			var h wire.Header
			p, err := h.Unmarshal(data[b.Start+i], wire.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			wire.PutShardPrefix(in[i], &h)
			copy(in[i][wire.ShardPrefix:], p)
		}
	}
	if err := NewCodes().Reconstruct(in, blockParity, l); err != nil {
		t.Fatal(err)
	}
	for i := range b.M {
		dst := make([]byte, 1400)
		h, p, err := wire.Rebuilt(dst, &parity[0], b.Start+i, in[i], wire.DefaultLimits)
		if err != nil {
			t.Fatalf("rebuild datagram %d: %v", i, err)
		}
		if got := dst[:wire.HeaderSize+len(p)]; !bytes.Equal(got, data[b.Start+i]) || h.Seq != uint16(b.Start+i) {
			t.Fatalf("datagram %d rebuilt as\n%x\nwant\n%x", i, got, data[b.Start+i])
		}
	}
}

func TestParityRefusesAFrameWithAGap(t *testing.T) {
	e, err := NewEncoder(10, 1400)
	if err != nil {
		t.Fatal(err)
	}
	f := e.Start()
	h := wire.Header{Fragments: 1, PayloadSize: 10, Seq: 3} // 0..2 never filed
	if err := f.Keep(&h, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	err = f.Parity(wire.Header{}, 0, func([]byte, int) { t.Fatal("sent parity over a gap") })
	if !errors.Is(err, ErrUnnumbered) {
		t.Fatalf("error %v, want ErrUnnumbered", err)
	}
}

func TestKeepRefusesAFragmentLargerThanAShard(t *testing.T) {
	e, err := NewEncoder(10, 256)
	if err != nil {
		t.Fatal(err)
	}
	h := wire.Header{Fragments: 1, PayloadSize: 300}
	if err := e.Start().Keep(&h, make([]byte, 300)); err == nil {
		t.Fatal("filed a 300-byte fragment for 256-byte datagrams")
	}
}
