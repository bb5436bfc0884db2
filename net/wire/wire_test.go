package wire

import (
	"bytes"
	"errors"
	"testing"
)

func sample() Header {
	return Header{Flags: FlagRefresh, Stream: 0xdeadbeef, Frame: 7, CaptureUS: 0xfedcba98,
		Width: 1920, Height: 1080, Tile: 3, GridTiles: 135, FrameTiles: 135,
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
		{name: "a grid count that does not match the tile size", mod: func(h *Header) { h.GridTiles = 120 }, want: ErrTile},
		{name: "an empty grid", mod: func(h *Header) { h.GridTiles = 0; h.Tile = 0 }, want: ErrTile},
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
		{name: "an unknown flag", mod: func(h *Header) { h.Flags = 1 << 3 }, want: ErrFlags},
		{name: "a group size on a data datagram", mod: func(h *Header) { h.Flags = 0x30 }, want: ErrFlags},
		{name: "a parity group past the fragments", mod: func(h *Header) { h.Flags = ParityFlags(2); h.Fragment = 2 }, want: ErrFragment},
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
	h := sample() // 3 fragments
	_, e := FragmentSpan(h.PayloadSize, h.Fragments, 0)
	cases := []struct {
		name   string
		group  int
		index  uint16
		length int
		ok     bool
	}{
		{"one parity over all three fragments is accepted", 3, 0, e, true},
		{"the second of two groups of two is accepted", 2, 1, e, true},
		{"a third group of two does not exist", 2, 2, e, false},
		{"a parity payload shorter than the first fragment is refused", 3, 0, e - 1, false},
		{"groups of one (repetition) are accepted", 1, 2, e, true},
		{"the largest group size is accepted", MaxParityGroup, 0, e, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := h
			p.Flags, p.Fragment = ParityFlags(c.group), c.index
			var got Header
			_, err := got.Unmarshal(datagram(p, make([]byte, c.length)), DefaultLimits)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
			if err == nil && (got.Flags&FlagParity == 0 || got.ParityGroup() != c.group) {
				t.Fatalf("parsed flags %#x: group %d, want %d", got.Flags, got.ParityGroup(), c.group)
			}
		})
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
		Got: []byte{0b0100_0000, 0b0001_0000}}
	buf := make([]byte, a.MarshalSize())
	if _, err := a.MarshalTo(buf); err != nil {
		t.Fatal(err)
	}
	var got Ack
	if err := got.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	if got.Frame != 2 || got.Received != 8 || !got.Has(1) || !got.Has(11) || got.Has(0) || got.Has(99) {
		t.Fatalf("bad ack %+v", got)
	}
	t.Run("rejects an ack whose bitmap is cut short", func(t *testing.T) {
		if err := got.Unmarshal(buf[:len(buf)-1]); !errors.Is(err, ErrControl) {
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
		b[2] = 2
		if err := got.Unmarshal(b[:]); !errors.Is(err, ErrVersion) {
			t.Fatalf("got %v", err)
		}
	})
}

func FuzzHeader(f *testing.F) {
	h := sample()
	_, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
	f.Add(datagram(h, make([]byte, n)))
	f.Add([]byte("HV\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		p, err := h.Unmarshal(b, DefaultLimits)
		if err != nil {
			return
		}
		// Whatever was accepted must be self-consistent and re-marshal to the same bytes.
		off, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
		if h.Flags&FlagParity != 0 { // a parity payload is as long as the first fragment
			off, n = FragmentSpan(h.PayloadSize, h.Fragments, 0)
			if int(h.Fragment) >= ParityGroups(int(h.Fragments), h.ParityGroup()) {
				t.Fatalf("accepted parity group %d of %d fragments in groups of %d", h.Fragment, h.Fragments, h.ParityGroup())
			}
		}
		x, y, w, hh := h.Rect()
		if len(p) != n || off+n > int(h.PayloadSize) || x+w > int(h.Width) || y+hh > int(h.Height) || w <= 0 || hh <= 0 {
			t.Fatalf("accepted an inconsistent header %+v", h)
		}
		out := make([]byte, HeaderSize)
		h.MarshalTo(out)
		if !bytes.Equal(out, b[:HeaderSize]) {
			t.Fatalf("re-marshal differs")
		}
	})
}

func FuzzControl(f *testing.F) {
	a := Ack{GridTiles: 9, FrameTiles: 9, Received: 9, Got: []byte{0, 0}}
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
				if a.Unmarshal(body) == nil && len(a.Got) != (int(a.GridTiles)+7)/8 {
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
