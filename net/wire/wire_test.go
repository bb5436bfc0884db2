package wire

import (
	"bytes"
	"errors"
	"testing"
)

func sample() Header {
	return Header{Flags: FlagRefresh, Stream: 0xdeadbeef, Frame: 7, CaptureUS: 0xfedcba98,
		Width: 1920, Height: 1080, Tile: 3, Seq: 41, GridTiles: 135, FrameTiles: 135,
		TileW: 128, TileH: 128, Fragment: 1, Fragments: 3, PayloadSize: 2500, Quality: 75, Format: Sub420}
}

func datagram(h Header, payload []byte) []byte {
	b := make([]byte, HeaderSize+len(payload))
	if _, err := h.MarshalTo(b); err != nil {
		panic(err)
	}
	copy(b[HeaderSize:], payload)
	return b
}

func TestHeaderRoundTrip(t *testing.T) {
	h := sample()
	_, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
	payload := bytes.Repeat([]byte{0xab}, n)
	var got Header
	p, err := got.Unmarshal(datagram(h, payload), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("round trip: got %+v, want %+v", got, h)
	}
	if !bytes.Equal(p, payload) {
		t.Fatal("payload differs")
	}
}

func TestHeaderRejects(t *testing.T) {
	good := sample()
	_, n := FragmentSpan(good.PayloadSize, good.Fragments, good.Fragment)
	cases := []struct {
		name string
		mod  func(h *Header)
		raw  func(b []byte) []byte
		want error
	}{
		{name: "an empty datagram", raw: func([]byte) []byte { return nil }, want: ErrShort},
		{name: "a datagram cut inside the header", raw: func(b []byte) []byte { return b[:HeaderSize-1] }, want: ErrShort},
		{name: "wrong magic", raw: func(b []byte) []byte { b[0] = 'X'; return b }, want: ErrMagic},
		{name: "a future version", raw: func(b []byte) []byte { b[offVersion] = 9; return b }, want: ErrVersion},
		{name: "zero width", mod: func(h *Header) { h.Width = 0 }, want: ErrFrame},
		{name: "a frame wider than the limit", mod: func(h *Header) { h.Width = 7681 }, want: ErrFrame},
		{name: "a frame taller than the limit", mod: func(h *Header) { h.Height = 4321 }, want: ErrFrame},
		{name: "quality zero", mod: func(h *Header) { h.Quality = 0 }, want: ErrFormat},
		{name: "quality above 100", mod: func(h *Header) { h.Quality = 101 }, want: ErrFormat},
		{name: "an unknown codec", mod: func(h *Header) { h.Format = 0x10 }, want: ErrFormat},
		{name: "an unknown subsampling", mod: func(h *Header) { h.Format = 5 }, want: ErrFormat},
		{name: "tile index past the grid", mod: func(h *Header) { h.Tile = 135 }, want: ErrTile},
		{name: "more frame tiles than grid tiles", mod: func(h *Header) { h.FrameTiles = 136 }, want: ErrTile},
		{name: "no frame tiles", mod: func(h *Header) { h.FrameTiles = 0 }, want: ErrTile},
		{name: "a tile height off the 4:2:0 MCU grid", mod: func(h *Header) { h.TileH = 120 }, want: ErrTile},
		{name: "a zero tile width", mod: func(h *Header) { h.TileW = 0 }, want: ErrTile},
		{name: "fragment index past the count", mod: func(h *Header) { h.Fragment = 3 }, want: ErrFragment},
		{name: "zero fragments", mod: func(h *Header) { h.Fragments = 0; h.Fragment = 0 }, want: ErrFragment},
		{name: "an empty payload", mod: func(h *Header) { h.PayloadSize = 0 }, want: ErrFragment},
		{name: "more fragments than bytes", mod: func(h *Header) { h.PayloadSize = 2; h.Fragment = 0 }, want: ErrFragment},
		{name: "a fragment shorter than its span", raw: func(b []byte) []byte { return b[:len(b)-1] }, want: ErrFragment},
		{name: "a fragment longer than its span", raw: func(b []byte) []byte { return append(b, 0) }, want: ErrFragment},
		{name: "an unknown flag", mod: func(h *Header) { h.Flags = 1 << 4 }, want: ErrFlags},
		{name: "a version 1 datagram", raw: func(b []byte) []byte { b[offVersion] = 1; return b }, want: ErrVersion},
	}
	for _, c := range cases {
		t.Run("rejects "+c.name, func(t *testing.T) {
			h := good
			if c.mod != nil {
				c.mod(&h)
			}
			b := datagram(h, make([]byte, n))
			if c.raw != nil {
				b = c.raw(b)
			}
			var got Header
			if _, err := got.Unmarshal(b, DefaultLimits); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestParityDatagrams(t *testing.T) {
	base := sample()
	cases := []struct {
		name   string
		block  Block
		flags  uint8
		length int
		ok     bool
	}{
		{"a block of 100 with 14 parity is accepted", Block{Start: 0, K: 100, M: 14, Index: 13}, 0, 1373, true},
		{"a block starting at the last index is accepted", Block{Start: 65535, K: 1, M: 1}, 0, 11, true},
		{"the most parity a 128-shard code allows is accepted", Block{Start: 5, K: 100, M: 128, Index: 127}, 0, 500, true},
		{"an index past the parity count", Block{K: 10, M: 3, Index: 3}, 0, 500, false},
		{"an empty block", Block{K: 0, M: 1}, 0, 500, false},
		{"a block larger than the largest", Block{K: MaxBlockData + 1, M: 1}, 0, 500, false},
		{"more shards than GF(2^8) has", Block{K: 100, M: 129}, 0, 500, false},
		{"no parity", Block{K: 10, M: 0}, 0, 500, false},
		{"a block past index 65535", Block{Start: 65530, K: 7, M: 1}, 0, 500, false},
		{"a shard too short for its prefix", Block{K: 4, M: 1}, 0, ShardPrefix, false},
		{"a parity datagram with another flag", Block{K: 4, M: 1}, FlagRepair, 500, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			p.SetBlock(c.block, c.length)
			p.Flags |= c.flags
			b := datagram(p, make([]byte, c.length))
			var got Header
			_, err := got.Unmarshal(b, DefaultLimits)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
			if err == nil && (got.Flags != FlagParity || got.Block() != c.block) {
				t.Fatalf("parsed %#x %+v, want %+v", got.Flags, got.Block(), c.block)
			}
			if c.ok {
				if _, err := got.Unmarshal(b[:len(b)-1], DefaultLimits); err == nil {
					t.Fatal("accepted a payload shorter than the shard length")
				}
			}
		})
	}
}

func TestEndMarker(t *testing.T) {
	h := sample()
	h.SetEnd(411)
	b := datagram(h, nil)
	var got Header
	p, err := got.Unmarshal(b, DefaultLimits)
	if err != nil || !got.IsEnd() || got.Seq != 411 || len(p) != 0 {
		t.Fatalf("end marker parsed as %+v, %v", got, err)
	}
	for name, mod := range map[string]func(b []byte) []byte{
		"with a payload":        func(b []byte) []byte { return append(b, 0) },
		"with a payload size":   func(b []byte) []byte { b[offSize+2] = 1; return b },
		"with a fragment index": func(b []byte) []byte { b[offFragment+1] = 1; return b },
	} {
		t.Run("refuses an end marker "+name, func(t *testing.T) {
			if _, err := got.Unmarshal(mod(append([]byte(nil), b...)), DefaultLimits); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if d := sample(); d.IsEnd() {
		t.Fatal("a data datagram reads as an end marker")
	}
	p2 := sample()
	p2.SetBlock(Block{K: 3, M: 1}, 20)
	if p2.IsEnd() {
		t.Fatal("a parity datagram reads as an end marker")
	}
}

func TestRebuilt(t *testing.T) {
	data := sample()
	data.Flags = FlagRepair | FlagProtected
	_, n := FragmentSpan(data.PayloadSize, data.Fragments, data.Fragment)
	payload := bytes.Repeat([]byte{7}, n)
	shard := make([]byte, ShardPrefix+n+9) // padded like a block's shorter shards
	PutShardPrefix(shard, &data)
	copy(shard[ShardPrefix:], payload)
	parity := sample()
	parity.SetBlock(Block{Start: 40, K: 5, M: 2}, len(shard))
	dst := make([]byte, 1500)
	got, p, err := Rebuilt(dst, &parity, 41, shard, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got != data || !bytes.Equal(p, payload) {
		t.Fatalf("rebuilt %+v, want %+v", got, data)
	}
	bad := []struct {
		name string
		mod  func(s []byte)
	}{
		{"a tile past the grid", func(s []byte) { s[0], s[1] = 0xff, 0xff }},
		{"a fragment past the count", func(s []byte) { s[2], s[3] = 0, 3 }},
		{"a payload size longer than the shard holds", func(s []byte) { s[6], s[7], s[8] = 0, 0x40, 0 }},
		{"the parity flag", func(s []byte) { s[9] = FlagParity }},
		{"an unknown flag", func(s []byte) { s[9] = 0x80 }},
	}
	for _, c := range bad {
		t.Run("refuses "+c.name, func(t *testing.T) {
			s := append([]byte(nil), shard...)
			c.mod(s)
			if _, _, err := Rebuilt(dst, &parity, 41, s, DefaultLimits); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, _, err := Rebuilt(dst, &parity, 41, shard[:4], DefaultLimits); err == nil {
		t.Fatal("accepted a shard shorter than its prefix")
	}
}

func TestCodeSize(t *testing.T) {
	for k, want := range map[int]int{1: 16, 16: 16, 17: 32, 33: 64, 64: 64, 65: 128, 128: 128} {
		if got := CodeSize(k); got != want {
			t.Fatalf("CodeSize(%d) = %d, want %d", k, got, want)
		}
	}
}

func TestTileRectangles(t *testing.T) {
	h := sample()
	cases := []struct {
		tile        uint16
		x, y, w, hh int
	}{{0, 0, 0, 128, 128}, {3, 384, 0, 128, 128}, {14, 1792, 0, 128, 128}, {15, 0, 128, 128, 128}, {134, 1792, 1024, 128, 56}}
	for _, c := range cases {
		h.Tile = c.tile
		if x, y, w, hh := h.Rect(); x != c.x || y != c.y || w != c.w || hh != c.hh {
			t.Fatalf("tile %d: got %d,%d %dx%d, want %d,%d %dx%d", c.tile, x, y, w, hh, c.x, c.y, c.w, c.hh)
		}
	}
}

func TestUnwrapTime(t *testing.T) {
	full := int64(1_700_000_000_123_456)
	for _, skew := range []int64{0, 5_000_000, -5_000_000, 1 << 30, -(1 << 30)} {
		if got := UnwrapTime(uint32(full), full+skew); got != full {
			t.Fatalf("skew %d: got %d, want %d", skew, got, full)
		}
	}
}

func TestFragmentSpansCoverThePayload(t *testing.T) {
	for _, size := range []int{1, 2, 1351, 1352, 1353, 5000, 65459 * 3} {
		for _, room := range []int{300, 1352, 65459} {
			count := Fragments(size, room)
			next := 0
			for i := 0; i < count; i++ {
				off, n := FragmentSpan(uint32(size), uint16(count), uint16(i))
				if off != next || n <= 0 || n > room {
					t.Fatalf("size %d room %d fragment %d: off %d n %d, want off %d and 0 < n <= room", size, room, i, off, n, next)
				}
				next = off + n
			}
			if next != size {
				t.Fatalf("size %d room %d: fragments cover %d bytes", size, room, next)
			}
		}
	}
}

func TestAckRoundTrip(t *testing.T) {
	a := Ack{Stream: 1, Frame: 2, FirstUS: 3, ReadyUS: 4, Bytes: 5, Received: 8, FrameTiles: 10, GridTiles: 12,
		Got: []byte{0b0100_0000, 0b0001_0000}, Datagrams: 11, Arrived: []byte{0b1000_0001, 0b0010_0000}}
	buf := make([]byte, a.MarshalSize())
	if _, err := a.MarshalTo(buf); err != nil {
		t.Fatal(err)
	}
	var got Ack
	if err := got.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	if got.Frame != 2 || got.Received != 8 || !got.Has(1) || !got.Has(11) || got.Has(0) || got.Has(99) ||
		got.Datagrams != 11 || !got.Came(0) || !got.Came(7) || !got.Came(10) || got.Came(1) || got.Came(11) {
		t.Fatalf("bad ack %+v", got)
	}
	t.Run("rejects an ack whose bitmap is cut short", func(t *testing.T) {
		if err := got.Unmarshal(buf[:len(buf)-1]); !errors.Is(err, ErrControl) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("rejects an arrival bitmap longer than its count", func(t *testing.T) {
		if err := got.Unmarshal(append(append([]byte(nil), buf...), 0)); !errors.Is(err, ErrControl) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("rejects more received tiles than the frame carried", func(t *testing.T) {
		b := append([]byte(nil), buf...)
		b[28], b[29] = 0, 11
		if err := got.Unmarshal(b); !errors.Is(err, ErrControl) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestControlFraming(t *testing.T) {
	var w bytes.Buffer
	if err := WriteMsg(&w, nil, MsgPing, AppendPing(nil, Ping{T1: 42})); err != nil {
		t.Fatal(err)
	}
	if err := WriteMsg(&w, nil, MsgPong, AppendPong(nil, Pong{T1: 42, T2: 99})); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxControlBody)
	typ, body, err := ReadMsg(&w, buf)
	if err != nil || typ != MsgPing {
		t.Fatal(typ, err)
	}
	if p, err := ParsePing(body); err != nil || p.T1 != 42 {
		t.Fatal(p, err)
	}
	typ, body, err = ReadMsg(&w, buf)
	if err != nil || typ != MsgPong {
		t.Fatal(typ, err)
	}
	if p, err := ParsePong(body); err != nil || p != (Pong{42, 99}) {
		t.Fatal(p, err)
	}
	t.Run("rejects a body longer than the limit", func(t *testing.T) {
		r := bytes.NewReader([]byte{MsgAck, 0xff, 0xff})
		if _, _, err := ReadMsg(r, buf); !errors.Is(err, ErrControl) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("reports a body cut short", func(t *testing.T) {
		r := bytes.NewReader([]byte{MsgAck, 0, 10, 1, 2})
		if _, _, err := ReadMsg(r, buf); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("hello carries the version", func(t *testing.T) {
		var b [HelloSize]byte
		h := Hello{Stream: 77}
		h.MarshalTo(b[:])
		var got Hello
		if err := got.Unmarshal(b[:]); err != nil || got.Stream != 77 {
			t.Fatal(got, err)
		}
		b[2] = Version + 1
		if err := got.Unmarshal(b[:]); !errors.Is(err, ErrVersion) {
			t.Fatalf("got %v", err)
		}
	})
}

func FuzzHeader(f *testing.F) {
	h := sample()
	_, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
	f.Add(datagram(h, make([]byte, n)))
	f.Add([]byte("HV\x02"))
	p := sample()
	p.SetBlock(Block{Start: 3, K: 20, M: 4, Index: 1}, 40)
	f.Add(datagram(p, make([]byte, 40)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		p, err := h.Unmarshal(b, DefaultLimits)
		if err != nil {
			return
		}
		// Whatever was accepted must be self-consistent and re-marshal to the same bytes.
		if h.IsEnd() {
			if len(p) != 0 || h.PayloadSize != 0 {
				t.Fatalf("accepted an end marker with a payload %+v", h)
			}
		} else if h.Flags&FlagParity != 0 {
			b := h.Block()
			if len(p) != int(h.PayloadSize) || len(p) <= ShardPrefix || b.Index >= b.M || b.K > MaxBlockData ||
				b.Start+b.K > 1<<16 || CodeSize(b.K)+b.M > MaxCodeShards {
				t.Fatalf("accepted an inconsistent parity header %+v", h)
			}
		} else {
			off, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
			x, y, w, hh := h.Rect()
			if len(p) != n || off+n > int(h.PayloadSize) || x+w > int(h.Width) || y+hh > int(h.Height) || w <= 0 || hh <= 0 {
				t.Fatalf("accepted an inconsistent header %+v", h)
			}
		}
		out := make([]byte, HeaderSize)
		h.MarshalTo(out)
		if !bytes.Equal(out, b[:HeaderSize]) {
			t.Fatalf("re-marshal differs")
		}
	})
}

func FuzzControl(f *testing.F) {
	a := Ack{GridTiles: 9, FrameTiles: 9, Received: 9, Got: []byte{0, 0}, Datagrams: 3, Arrived: []byte{0xe0}}
	b := make([]byte, a.MarshalSize())
	a.MarshalTo(b)
	f.Add(append([]byte{MsgAck, 0, byte(len(b))}, b...))
	f.Fuzz(func(t *testing.T, raw []byte) {
		buf := make([]byte, MaxControlBody)
		r := bytes.NewReader(raw)
		for {
			typ, body, err := ReadMsg(r, buf)
			if err != nil {
				return
			}
			switch typ {
			case MsgAck:
				var a Ack
				if a.Unmarshal(body) == nil && (len(a.Got) != (int(a.GridTiles)+7)/8 || len(a.Arrived) != (int(a.Datagrams)+7)/8) {
					t.Fatal("bitmap length")
				}
			case MsgHello:
				var h Hello
				_ = h.Unmarshal(body)
			case MsgPing:
				_, _ = ParsePing(body)
			case MsgPong:
				_, _ = ParsePong(body)
			}
		}
	})
}

// FuzzRebuilt feeds arbitrary shards (what a hostile parity datagram rebuilds) to
// Rebuilt: it must refuse or return a datagram that parses as one.
func FuzzRebuilt(f *testing.F) {
	d := sample()
	d.Flags = FlagProtected
	_, n := FragmentSpan(d.PayloadSize, d.Fragments, d.Fragment)
	good := make([]byte, ShardPrefix+n)
	PutShardPrefix(good, &d)
	f.Add(good, uint16(41))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 1, 8, 0xff}, uint16(0))
	parity := sample()
	parity.SetBlock(Block{Start: 40, K: 5, M: 2}, len(good))
	dst := make([]byte, MaxDatagram)
	f.Fuzz(func(t *testing.T, shard []byte, seq uint16) {
		h, p, err := Rebuilt(dst, &parity, int(seq), shard, DefaultLimits)
		if err != nil {
			return
		}
		var again Header
		q, err := again.Unmarshal(dst[:HeaderSize+len(p)], DefaultLimits)
		if err != nil || again != h || !bytes.Equal(p, q) || h.Flags&FlagParity != 0 || h.Seq != seq {
			t.Fatalf("rebuilt %+v does not parse back (%v)", h, err)
		}
	})
}
