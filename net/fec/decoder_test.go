package fec

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hrvs/hrvs/net/wire"
)

// datagram is one parsed datagram of a test frame.
type datagram struct {
	h       wire.Header
	payload []byte
}

// testBudget counts what a Decoder holds and refuses past max.
type testBudget struct{ used, max, peak int }

func (b *testBudget) Take(n int) bool {
	if b.used+n > b.max {
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

func (b *testBudget) Give(n int) { b.used -= n }

// protectedFrame makes the k data datagrams of one frame (one fragment per tile, of
// varied lengths) and m parity datagrams over them in one block, coded the way
// docs/PROTOCOL.md §3.4 says, each parsed as a receiver would parse it.
func protectedFrame(t testing.TB, r *rand.Rand, k, m int) (data, parity []datagram) {
	t.Helper()
	frame := wire.Header{Stream: 9, Frame: 3, Width: 1024, Height: 512, FrameTiles: uint16(k), TileW: 64, TileH: 64, Quality: 80}
	var shards [][]byte
	l := 0
	for i := range k {
		h := frame
		h.Flags, h.Tile, h.Seq, h.Fragments, h.PayloadSize = wire.FlagProtected, uint16(i), uint16(i), 1, uint32(50+r.IntN(400))
		payload := make([]byte, h.PayloadSize)
		for j := range payload {
			payload[j] = byte(r.Uint32())
		}
		data = append(data, parse(t, &h, payload))
		sh := make([]byte, wire.ShardPrefix+len(payload))
		wire.PutShardPrefix(sh, &h)
		copy(sh[wire.ShardPrefix:], payload)
		shards = append(shards, sh)
		l = max(l, len(sh))
	}
	for i, sh := range shards {
		shards[i] = append(sh, make([]byte, l-len(sh))...)
	}
	par := make([][]byte, m)
	for j := range par {
		par[j] = make([]byte, l)
	}
	if err := NewCodes().Encode(shards, par); err != nil {
		t.Fatal(err)
	}
	for j, p := range par {
		h := frame
		h.SetBlock(wire.Block{Start: 0, K: k, M: m, Index: j}, l)
		parity = append(parity, parse(t, &h, p))
	}
	return data, parity
}

// parse marshals a datagram and parses it back, so the test feeds the decoder only
// what Unmarshal accepts.
func parse(t testing.TB, h *wire.Header, payload []byte) datagram {
	t.Helper()
	b := make([]byte, wire.HeaderSize+len(payload))
	if _, err := h.MarshalTo(b); err != nil {
		t.Fatal(err)
	}
	copy(b[wire.HeaderSize:], payload)
	var d datagram
	p, err := d.h.Unmarshal(b, wire.DefaultLimits)
	if err != nil {
		t.Fatalf("test datagram refused: %v", err)
	}
	d.payload = p
	return d
}

func TestDecoderRebuildsWhatTheBlockLost(t *testing.T) {
	const k, m = 20, 4
	cases := []struct {
		name        string
		lostData    []int
		lostParity  []int
		parityFirst bool
		want        []int // data indices rebuilt
	}{
		{name: "nothing lost: nothing rebuilt", lostParity: []int{}, want: nil},
		{name: "as many data datagrams lost as there is parity", lostData: []int{0, 7, 8, 19}, want: []int{0, 7, 8, 19}},
		{name: "data and parity lost, M in all", lostData: []int{3, 11}, lostParity: []int{0, 2}, want: []int{3, 11}},
		{name: "one more lost than parity can rebuild: nothing", lostData: []int{1, 2, 3, 4, 5}, want: nil},
		// Parity first: the block is rebuilt once any K shards are in, so the last
		// K+M-K data datagrams are rebuilt before they arrive.
		{name: "parity before the data", lostData: []int{5}, parityFirst: true, want: []int{5, 17, 18, 19}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			data, parity := protectedFrame(t, r, k, m)
			budget := &testBudget{max: 1 << 20}
			d := NewDecoder(budget, wire.DefaultLimits)
			var f Incoming
			var got []int
			rebuilt := func(h *wire.Header, payload []byte) {
				want := data[h.Seq]
				if *h != want.h || !bytes.Equal(payload, want.payload) {
					t.Fatalf("datagram %d rebuilt as %+v (%d bytes), sent as %+v (%d bytes)", h.Seq, *h, len(payload), want.h, len(want.payload))
				}
				got = append(got, int(h.Seq))
			}
			var total Counts
			add := func(c Counts) {
				total.Invalid += c.Invalid
				total.Duplicate += c.Duplicate
				total.Overflow += c.Overflow
			}
			sendParity := func() {
				for j := range parity {
					if !slices.Contains(c.lostParity, j) {
						add(d.Parity(&f, &parity[j].h, parity[j].payload, rebuilt))
					}
				}
			}
			if c.parityFirst {
				sendParity()
			}
			for j := range data {
				if !slices.Contains(c.lostData, j) && !slices.Contains(got, j) {
					add(d.Data(&f, &data[j].h, data[j].payload, rebuilt))
				}
			}
			if !c.parityFirst {
				sendParity()
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("rebuilt %v, want %v", got, c.want)
			}
			if total.Invalid != 0 || total.Overflow != 0 {
				t.Fatalf("honest datagrams counted as refused: %+v", total)
			}
			if e := f.Extent(); e != k {
				t.Fatalf("extent %d, want %d", e, k)
			}
			d.Release(&f)
			if budget.used != 0 || budget.peak == 0 {
				t.Fatalf("after release the decoder holds %d bytes (peak %d)", budget.used, budget.peak)
			}
		})
	}
}

func TestDecoderRefusesWhatDoesNotFit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	data, parity := protectedFrame(t, r, 10, 3)
	overlap := parity[0].h
	overlap.SetBlock(wire.Block{Start: 4, K: 10, M: 2}, len(parity[0].payload))
	otherLen := parity[1].h
	otherLen.PayloadSize--
	end := data[0].h
	end.SetEnd(9)
	cases := []struct {
		name   string
		budget int
		feed   func(d *Decoder, f *Incoming) Counts
		want   Counts
	}{
		{"a repeated parity datagram is a duplicate", 1 << 20, func(d *Decoder, f *Incoming) Counts {
			d.Parity(f, &parity[0].h, parity[0].payload, nil)
			return d.Parity(f, &parity[0].h, parity[0].payload, nil)
		}, Counts{Duplicate: 1}},
		{"a block overlapping one described before is invalid", 1 << 20, func(d *Decoder, f *Incoming) Counts {
			d.Parity(f, &parity[0].h, parity[0].payload, nil)
			return d.Parity(f, &overlap, parity[0].payload, nil)
		}, Counts{Invalid: 1}},
		{"the same block with another shard length is invalid", 1 << 20, func(d *Decoder, f *Incoming) Counts {
			d.Parity(f, &parity[0].h, parity[0].payload, nil)
			return d.Parity(f, &otherLen, parity[1].payload[1:], nil)
		}, Counts{Invalid: 1}},
		{"an end marker is not parity", 1 << 20, func(d *Decoder, f *Incoming) Counts {
			return d.Parity(f, &end, nil, nil)
		}, Counts{Invalid: 1}},
		{"a shard over the budget is refused", 100, func(d *Decoder, f *Incoming) Counts {
			return d.Data(f, &data[0].h, data[0].payload, nil)
		}, Counts{Overflow: 1}},
		{"a block over the budget is refused", 100, func(d *Decoder, f *Incoming) Counts {
			return d.Parity(f, &parity[0].h, parity[0].payload, nil)
		}, Counts{Overflow: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			budget := &testBudget{max: c.budget}
			d := NewDecoder(budget, wire.DefaultLimits)
			var f Incoming
			if got := c.feed(d, &f); got != c.want {
				t.Fatalf("counts %+v, want %+v", got, c.want)
			}
			d.Release(&f)
			if budget.used != 0 {
				t.Fatalf("after release the decoder holds %d bytes", budget.used)
			}
		})
	}
}

// TestDecoderRefusesLyingParity: parity datagrams of random bytes make the block
// rebuild garbage; what the decoder hands on must still be datagrams a receiver would
// accept (or nothing), and it must give all its memory back.
func TestDecoderRefusesLyingParity(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	data, parity := protectedFrame(t, r, 30, 6)
	for trial := range 50 {
		budget := &testBudget{max: 1 << 20}
		d := NewDecoder(budget, wire.DefaultLimits)
		var f Incoming
		var counts Counts
		for j := range data[:24] {
			c := d.Data(&f, &data[j].h, data[j].payload, func(h *wire.Header, payload []byte) {
				if h.Flags&wire.FlagProtected == 0 || int(h.Tile) >= int(h.GridTiles) || len(payload) == 0 {
					t.Fatalf("trial %d: handed on a datagram no receiver would accept: %+v", trial, *h)
				}
			})
			counts.Invalid += c.Invalid
		}
		for j := range parity {
			lie := slices.Clone(parity[j].payload)
			for i := range lie {
				lie[i] = byte(r.Uint32())
			}
			c := d.Parity(&f, &parity[j].h, lie, func(h *wire.Header, payload []byte) {
				if h.Flags&wire.FlagProtected == 0 || h.Flags&wire.FlagParity != 0 || int(h.Tile) >= int(h.GridTiles) {
					t.Fatalf("trial %d: handed on a datagram no receiver would accept: %+v", trial, *h)
				}
			})
			counts.Invalid += c.Invalid
		}
		if counts.Invalid == 0 {
			t.Fatalf("trial %d: six lying parity shards rebuilt nothing refused", trial)
		}
		d.Release(&f)
		if budget.used != 0 {
			t.Fatalf("trial %d: after release the decoder holds %d bytes", trial, budget.used)
		}
	}
}

// FuzzDecoder feeds the decoder whatever datagrams the receiver would accept, in
// any order: it must never panic, never hold more than its budget, and give
// everything back on Release.
func FuzzDecoder(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	data, parity := protectedFrame(f, r, 6, 2)
	var seed []byte
	for _, d := range append(slices.Clone(data[1:]), parity...) {
		b := make([]byte, wire.HeaderSize+len(d.payload))
		d.h.MarshalTo(b)
		copy(b[wire.HeaderSize:], d.payload)
		seed = append(seed, byte(len(b)>>8), byte(len(b)))
		seed = append(seed, b...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		budget := &testBudget{max: 64 << 10}
		d := NewDecoder(budget, wire.DefaultLimits)
		var fr Incoming
		for len(in) >= 2 {
			n := int(in[0])<<8 | int(in[1])
			in = in[2:]
			if n > len(in) {
				break
			}
			var h wire.Header
			payload, err := h.Unmarshal(in[:n], wire.DefaultLimits)
			in = in[n:]
			if err != nil || h.IsEnd() {
				continue
			}
			rebuilt := func(h *wire.Header, payload []byte) {
				if h.Flags&wire.FlagParity != 0 || h.Flags&wire.FlagProtected == 0 {
					t.Fatalf("rebuilt a datagram with flags %#x", h.Flags)
				}
			}
			switch {
			case h.Flags&wire.FlagParity != 0:
				d.Parity(&fr, &h, payload, rebuilt)
			case h.Flags&wire.FlagProtected != 0:
				d.Data(&fr, &h, payload, rebuilt)
			}
			if budget.used > budget.max || budget.used < 0 {
				t.Fatalf("holding %d bytes of a budget of %d", budget.used, budget.max)
			}
		}
		d.Release(&fr)
		if budget.used != 0 {
			t.Fatalf("after release the decoder holds %d bytes", budget.used)
		}
	})
}

// BenchmarkDecoder5of100 is one protected frame at the receiver: 100 data datagrams
// of which 5 are lost, and 8 parity datagrams, the last 3 of them not needed.
func BenchmarkDecoder5of100(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	data, parity := protectedFrame(b, r, 100, 8)
	budget := &testBudget{max: 1 << 30}
	d := NewDecoder(budget, wire.DefaultLimits)
	rebuilt := 0
	count := func(*wire.Header, []byte) { rebuilt++ }
	bytes := 0
	for _, dg := range data {
		bytes += len(dg.payload)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	for b.Loop() {
		var f Incoming
		for i := range data {
			if i%20 != 7 {
				d.Data(&f, &data[i].h, data[i].payload, count)
			}
		}
		for i := range parity {
			d.Parity(&f, &parity[i].h, parity[i].payload, count)
		}
		d.Release(&f)
	}
	if rebuilt != 5*b.N {
		b.Fatalf("rebuilt %d datagrams in %d frames, want 5 each", rebuilt, b.N)
	}
}
