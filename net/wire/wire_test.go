package wire

import (
	"bytes"
	"errors"
	"fmt"
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
		{name: "an unknown codec", mod: func(h *Header) { h.Format = 0x30 }, want: ErrFormat},
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
		// 10 bytes in 6 fragments of ceil(10/6) = 2: five fragments cover it, the
		// sixth would be empty, so the tile could never complete.
		{name: "a size whose last fragment would be empty", mod: func(h *Header) { h.PayloadSize, h.Fragments, h.Fragment = 10, 6, 0 }, want: ErrFragment},
		{name: "the empty last fragment itself", mod: func(h *Header) { h.PayloadSize, h.Fragments, h.Fragment = 10, 6, 5 }, want: ErrFragment},
		// 5 bytes in 4 fragments of 2: the fourth would start at byte 6, length -1.
		{name: "a size whose last fragment would be -1 bytes", mod: func(h *Header) { h.PayloadSize, h.Fragments, h.Fragment = 5, 4, 1 }, want: ErrFragment},
		{name: "the largest tile in one fragment too many", mod: func(h *Header) { h.PayloadSize, h.Fragments, h.Fragment = MaxTilePayload, 65282, 0 }, want: ErrFragment},
		{name: "data datagram index 65535", mod: func(h *Header) { h.Seq = 65535 }, want: ErrIndex},
		{name: "a fragment shorter than its span", raw: func(b []byte) []byte { return b[:len(b)-1] }, want: ErrFragment},
		{name: "a fragment longer than its span", raw: func(b []byte) []byte { return append(b, 0) }, want: ErrFragment},
		{name: "an unknown flag", mod: func(h *Header) { h.Flags = 1 << 6 }, want: ErrFlags},
		{name: "a version 1 datagram", raw: func(b []byte) []byte { b[offVersion] = 1; return b }, want: ErrVersion},
		{name: "a version 2 datagram", raw: func(b []byte) []byte { b[offVersion] = 2; return b }, want: ErrVersion},
		{name: "a parity datagram with another flag than sealed", mod: func(h *Header) { h.Flags = FlagParity | FlagRepair }, want: ErrFlags},
	}
	for _, c := range cases {
		t.Run("rejects "+c.name, func(t *testing.T) {
			h := good
			if c.mod != nil {
				c.mod(&h)
			}
			// The payload is as long as the (modified) header's span, so each case
			// is refused for its own reason, not for its length.
			_, n := FragmentSpan(h.PayloadSize, max(h.Fragments, 1), h.Fragment)
			b := datagram(h, make([]byte, max(n, 0)))
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

func TestHeaderAcceptsTheLimits(t *testing.T) {
	cases := []struct {
		name string
		mod  func(h *Header)
	}{
		{"the last datagram index a frame may have (65534)", func(h *Header) { h.Seq = MaxFrameDatagrams - 1 }},
		{"a size whose last fragment is one byte (10 bytes in 4)", func(h *Header) { h.PayloadSize, h.Fragments, h.Fragment = 10, 4, 3 }},
		{"one byte in one fragment", func(h *Header) { h.PayloadSize, h.Fragments, h.Fragment = 1, 1, 0 }},
		// ceil((2^24-1)/65281) = 257 and 65280 * 257 = 16776960 < 2^24-1: the last
		// fragment is 255 bytes. One more fragment and the last would be empty.
		{"the largest tile in the most fragments it fits", func(h *Header) { h.PayloadSize, h.Fragments, h.Fragment = MaxTilePayload, 65281, 65280 }},
	}
	for _, c := range cases {
		t.Run("accepts "+c.name, func(t *testing.T) {
			h := sample()
			c.mod(&h)
			_, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
			var got Header
			if _, err := got.Unmarshal(datagram(h, make([]byte, n)), DefaultLimits); err != nil || got != h {
				t.Fatalf("got %+v, %v; want %+v", got, err, h)
			}
		})
	}
}

// TestFragmentRule checks the §3.3 rule against its meaning: a size and count are
// accepted exactly when FragmentSpan cuts the payload into count fragments of at
// least one byte each that cover it end to end.
func TestFragmentRule(t *testing.T) {
	for size := 0; size <= 200; size++ {
		for count := 0; count <= size+3; count++ {
			covers := count > 0
			next := 0
			for i := 0; covers && i < count; i++ {
				off, n := FragmentSpan(uint32(size), uint16(count), uint16(i))
				covers = off == next && n >= 1
				next = off + n
			}
			covers = covers && next == size
			if got := fragmentsFit(uint32(size), uint16(count)); got != covers {
				t.Fatalf("%d bytes in %d fragments: fit %v, but the fragments cover the payload: %v", size, count, got, covers)
			}
		}
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
		{"a block ending at the last index a frame may have is accepted", Block{Start: 65534, K: 1, M: 1}, 0, 11, true},
		{"a block of 6 ending at index 65534 is accepted", Block{Start: 65529, K: 6, M: 1}, 0, 11, true},
		{"a block naming index 65535", Block{Start: 65535, K: 1, M: 1}, 0, 11, false},
		{"the most parity a 128-shard code allows is accepted", Block{Start: 5, K: 100, M: 128, Index: 127}, 0, 500, true},
		{"an index past the parity count", Block{K: 10, M: 3, Index: 3}, 0, 500, false},
		{"an empty block", Block{K: 0, M: 1}, 0, 500, false},
		{"a block larger than the largest", Block{K: MaxBlockData + 1, M: 1}, 0, 500, false},
		{"more shards than GF(2^8) has", Block{K: 100, M: 129}, 0, 500, false},
		{"no parity", Block{K: 10, M: 0}, 0, 500, false},
		{"a block past index 65534", Block{Start: 65530, K: 6, M: 1}, 0, 500, false},
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
	t.Run("accepts an end marker naming the last index a frame may have", func(t *testing.T) {
		e := sample()
		e.SetEnd(MaxFrameDatagrams - 1)
		if _, err := got.Unmarshal(datagram(e, nil), DefaultLimits); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses an end marker naming index 65535", func(t *testing.T) {
		e := sample()
		e.SetEnd(65535)
		if _, err := got.Unmarshal(datagram(e, nil), DefaultLimits); !errors.Is(err, ErrIndex) {
			t.Fatalf("got %v, want %v", err, ErrIndex)
		}
	})
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
		{"the parity flag", func(s []byte) { s[9] = FlagParity | FlagProtected }},
		{"an unknown flag", func(s []byte) { s[9] = 0x80 | FlagProtected }},
		{"a data datagram that was not protected", func(s []byte) { s[9] = FlagRepair }},
		// 10 bytes in 6 fragments: the sixth would be empty (§3.3).
		{"a size whose last fragment would be empty", func(s []byte) { s[2], s[3], s[4], s[5], s[6], s[7], s[8] = 0, 0, 0, 6, 0, 0, 10 }},
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
	for _, seq := range []int{-1, 65535, 65536 + 41} {
		t.Run(fmt.Sprintf("refuses datagram index %d", seq), func(t *testing.T) {
			if _, _, err := Rebuilt(dst, &parity, seq, shard, DefaultLimits); !errors.Is(err, ErrIndex) {
				t.Fatalf("got %v, want %v", err, ErrIndex)
			}
		})
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

// largestAck is the largest acknowledgement the protocol allows: a grid of 65535
// tiles, every one received, and MaxFrameDatagrams data datagrams, every one arrived.
func largestAck() Ack {
	a := Ack{Stream: 9, Frame: 10, Received: 65535, FrameTiles: 65535, GridTiles: 65535, Datagrams: MaxFrameDatagrams}
	a.Got = bytes.Repeat([]byte{0xff}, (65535+7)/8)
	a.Arrived = bytes.Repeat([]byte{0xff}, (MaxFrameDatagrams+7)/8)
	return a
}

func TestTheLargestAckFitsTheBodyLimit(t *testing.T) {
	a := largestAck()
	if a.MarshalSize() != MaxAckSize || MaxAckSize != 16420 || MaxControlBody < MaxAckSize {
		t.Fatalf("largest ack %d bytes, MaxAckSize %d, MaxControlBody %d", a.MarshalSize(), MaxAckSize, MaxControlBody)
	}
	body := make([]byte, a.MarshalSize())
	if _, err := a.MarshalTo(body); err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := WriteMsg(&w, nil, MsgAck, body); err != nil {
		t.Fatalf("writing the largest ack: %v", err)
	}
	typ, got, err := ReadMsg(&w, make([]byte, MaxControlBody))
	if err != nil || typ != MsgAck {
		t.Fatalf("reading the largest ack: type %d, %v", typ, err)
	}
	var back Ack
	if err := back.Unmarshal(got); err != nil || back.Datagrams != MaxFrameDatagrams || !back.Came(MaxFrameDatagrams-1) || !back.Has(65534) {
		t.Fatalf("largest ack parsed as %d datagrams, %v", back.Datagrams, err)
	}
	t.Run("a body one byte longer is refused on both sides", func(t *testing.T) {
		if err := WriteMsg(&w, nil, MsgAck, make([]byte, MaxControlBody+1)); !errors.Is(err, ErrControl) {
			t.Fatalf("write: got %v", err)
		}
		n := MaxControlBody + 1
		r := bytes.NewReader(append([]byte{99, byte(n >> 8), byte(n)}, make([]byte, n)...))
		if _, _, err := ReadMsg(r, make([]byte, MaxControlBody+1)); !errors.Is(err, ErrControl) {
			t.Fatalf("read: got %v", err)
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
	t.Run("hello's reserved byte is sent as zero and ignored", func(t *testing.T) {
		var b [HelloSize]byte
		for i := range b {
			b[i] = 0xaa
		}
		h := Hello{Stream: 0x01020304}
		h.MarshalTo(b[:])
		if b[3] != 0 {
			t.Fatalf("reserved byte sent as %#x", b[3])
		}
		b[3] = 0xff
		var got Hello
		if err := got.Unmarshal(b[:]); err != nil || got.Stream != 0x01020304 {
			t.Fatalf("a hello with reserved 0xff: %+v, %v", got, err)
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
	// Datagrams that earlier versions of Unmarshal accepted wrongly: sizes whose
	// last fragment would be empty or negative (§3.3), index 65535 (§3.1).
	for _, c := range []struct {
		size        uint32
		count, frag uint16
	}{{10, 6, 0}, {10, 6, 4}, {5, 4, 1}, {MaxTilePayload, 65282, 0}} {
		d := sample()
		d.PayloadSize, d.Fragments, d.Fragment = c.size, c.count, c.frag
		_, n := FragmentSpan(d.PayloadSize, d.Fragments, d.Fragment)
		f.Add(datagram(d, make([]byte, n)))
	}
	d := sample()
	d.Seq = 65535
	f.Add(datagram(d, make([]byte, n)))
	p.SetBlock(Block{Start: 65535, K: 1, M: 1}, 11)
	f.Add(datagram(p, make([]byte, 11)))
	e := sample()
	e.SetEnd(65535)
	f.Add(datagram(e, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		p, err := h.Unmarshal(b, DefaultLimits)
		if err != nil {
			return
		}
		// Whatever was accepted must be self-consistent and re-marshal to the same bytes.
		if h.IsEnd() {
			if len(p) != 0 || h.PayloadSize != 0 || int(h.Seq) >= MaxFrameDatagrams {
				t.Fatalf("accepted an inconsistent end marker %+v", h)
			}
		} else if h.Flags&FlagParity != 0 {
			b := h.Block()
			if len(p) != int(h.PayloadSize) || len(p) <= ShardPrefix || b.Index >= b.M || b.K > MaxBlockData ||
				b.Start+b.K > MaxFrameDatagrams || CodeSize(b.K)+b.M > MaxCodeShards {
				t.Fatalf("accepted an inconsistent parity header %+v", h)
			}
		} else {
			off, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
			x, y, w, hh := h.Rect()
			if len(p) != n || off+n > int(h.PayloadSize) || x+w > int(h.Width) || y+hh > int(h.Height) || w <= 0 || hh <= 0 ||
				int(h.Seq) >= MaxFrameDatagrams {
				t.Fatalf("accepted an inconsistent header %+v", h)
			}
			// Every fragment of the tile, not only this one, is at least a byte long.
			if lastOff, lastN := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragments-1); lastN < 1 || lastOff+lastN != int(h.PayloadSize) {
				t.Fatalf("accepted a tile whose last fragment is %d bytes: %+v", lastN, h)
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
	big := largestAck()
	b = make([]byte, big.MarshalSize())
	big.MarshalTo(b)
	f.Add(append([]byte{MsgAck, byte(len(b) >> 8), byte(len(b))}, b...))
	var hello [HelloSize]byte
	(&Hello{Stream: 5}).MarshalTo(hello[:])
	hello[3] = 0xff
	f.Add(append([]byte{MsgHello, 0, HelloSize}, hello[:]...))
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
	// Shards earlier versions of Rebuilt accepted wrongly: 10 bytes in 6 fragments
	// (the sixth would be empty), a data datagram that was never protected, and
	// the datagram index 65535.
	f.Add([]byte{0, 1, 0, 0, 0, 6, 0, 0, 10, FlagProtected, 1, 2}, uint16(3))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 1, FlagRepair, 0xff}, uint16(3))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 1, FlagProtected, 0xff}, uint16(65535))
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
		if err != nil || again != h || !bytes.Equal(p, q) || h.Flags&FlagParity != 0 || h.Flags&FlagProtected == 0 || h.Seq != seq {
			t.Fatalf("rebuilt %+v does not parse back (%v)", h, err)
		}
	})
}

func TestPeekFindsTheStreamOfASealedDatagram(t *testing.T) {
	h := sample()
	h.Flags = FlagSealed | FlagProtected
	_, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
	b := datagram(h, make([]byte, n))
	stream, flags, ok := Peek(b)
	if !ok || stream != h.Stream || flags != h.Flags {
		t.Fatalf("Peek = %08x %02x %v", stream, flags, ok)
	}
	var back Header
	if _, err := back.Unmarshal(b, DefaultLimits); err != nil || back.Flags&FlagSealed == 0 {
		t.Fatalf("an opened sealed datagram: %v, flags %02x", err, back.Flags)
	}
	for name, bad := range map[string][]byte{"short": b[:HeaderSize-1], "version 2": append([]byte{'H', 'V', 2}, b[3:]...)} {
		if _, _, ok := Peek(bad); ok {
			t.Errorf("%s: peeked", name)
		}
	}
}
