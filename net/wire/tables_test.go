package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/hrvs/hrvs/internal/fastjpeg"
)

// cameraTables is a table set as a camera might send it: its own quantisation
// (Cb and Cr apart, one step above 255) and the Annex K.3 Huffman tables.
func cameraTables() fastjpeg.Tables {
	t := fastjpeg.StandardTables(80)
	t.Quant[2][5] = 9
	t.Quant[0][63] = 300
	return t
}

func tableFrame() Header {
	h := sample()
	h.Format = CodecTableScan<<4 | Sub422
	h.Quality = 7
	h.Flags = 0
	return h
}

func TestTableDatagramRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		t    fastjpeg.Tables
		id   uint8
	}{
		{"a camera's tables with a 16-bit step travel as set 0", cameraTables(), 0},
		{"the standard tables travel as set 255", fastjpeg.StandardTables(75), 255},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := AppendTableDatagram(nil, tableFrame(), c.id, &c.t)
			if err != nil {
				t.Fatal(err)
			}
			var h Header
			p, err := h.Unmarshal(d, DefaultLimits)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !h.IsTables() || h.Quality != c.id || h.Codec() != CodecTableScan || h.Sub() != Sub422 || h.Stream != sample().Stream {
				t.Fatalf("header %+v", h)
			}
			got, err := ParseTableSet(p)
			if err != nil {
				t.Fatalf("ParseTableSet: %v", err)
			}
			if got.Quant != c.t.Quant {
				t.Fatalf("quantisation tables differ")
			}
			for i := range got.Huff {
				if got.Huff[i].Count != c.t.Huff[i].Count || !bytes.Equal(got.Huff[i].Symbol, c.t.Huff[i].Symbol) {
					t.Fatalf("Huffman table %d differs", i)
				}
			}
		})
	}
}

func TestTableSetsFitTheirLimit(t *testing.T) {
	// The largest set: three 16-bit tables and four Huffman tables of 256 (DC: 12) symbols.
	var big fastjpeg.Tables
	for c := range big.Quant {
		for k := range big.Quant[c] {
			big.Quant[c][k] = 1000
		}
	}
	for i := range big.Huff {
		n := 256
		if i%2 == 0 {
			n = 12
		}
		big.Huff[i].Symbol = make([]uint8, n)
		for s := range n {
			big.Huff[i].Symbol[s] = uint8(s)
		}
		big.Huff[i].Count[15] = uint8(min(n, 255)) // counts fit a byte: n-255 at length 15
		if n == 256 {
			big.Huff[i].Count[15], big.Huff[i].Count[14] = 128, 128
		}
	}
	if n := len(fastjpeg.AppendTables(nil, &big)) + driSize; n != MaxTableSet {
		t.Fatalf("the largest table set with its DRI is %d bytes, MaxTableSet %d", n, MaxTableSet)
	}
	if _, err := AppendTableDatagram(nil, tableFrame(), 1, &big); err != nil {
		t.Fatalf("the largest set does not travel: %v", err)
	}
	if _, err := AppendRestartTableDatagram(nil, tableFrame(), 1, &big, 0xffff); err != nil {
		t.Fatalf("the largest set with a restart interval does not travel: %v", err)
	}
}

func TestRestartTableDatagram(t *testing.T) {
	ct := cameraTables()
	for _, c := range []struct {
		name    string
		restart int
	}{
		{"a camera's tables with a restart every 8 MCUs travel as codec 2", 8},
		{"the longest restart interval travels", 0xffff},
		{"a restart every MCU travels", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := AppendRestartTableDatagram(nil, tableFrame(), 9, &ct, c.restart)
			if err != nil {
				t.Fatal(err)
			}
			var h Header
			p, err := h.Unmarshal(d, DefaultLimits)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !h.IsTables() || h.Quality != 9 || h.Codec() != CodecRestartScan || h.Sub() != Sub422 {
				t.Fatalf("header %+v", h)
			}
			got, restart, err := ParseCodecTableSet(h.Codec(), p)
			if err != nil || restart != c.restart || got.Quant != ct.Quant {
				t.Fatalf("ParseCodecTableSet: restart %d, %v", restart, err)
			}
			if _, _, err := ParseCodecTableSet(CodecTableScan, p); !errors.Is(err, ErrFormat) {
				t.Fatalf("a codec 1 set with a DRI: %v", err)
			}
		})
	}
	plain, err := AppendTableDatagram(nil, tableFrame(), 9, &ct)
	if err != nil {
		t.Fatal(err)
	}
	tables := plain[HeaderSize:]
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"a codec 2 set without its DRI", tables},
		{"a restart interval of 0", append(append([]byte(nil), tables...), 0xff, markerDRI, 0, 4, 0, 0)},
		{"a DRI of the wrong length", append(append([]byte(nil), tables...), 0xff, markerDRI, 0, 5, 0, 8)},
		{"a byte after the DRI", append(append([]byte(nil), tables...), 0xff, markerDRI, 0, 4, 0, 8, 0)},
		{"a DRI before the tables", append([]byte{0xff, markerDRI, 0, 4, 0, 8}, tables...)},
		{"a DRI alone", []byte{0xff, markerDRI, 0, 4, 0, 8}},
		{"nothing", nil},
	} {
		t.Run("rejects "+c.name, func(t *testing.T) {
			if _, _, err := ParseCodecTableSet(CodecRestartScan, c.payload); !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("rejects a restart interval out of range", func(t *testing.T) {
		for _, r := range []int{0, -1, 0x10000} {
			if _, err := AppendRestartTableDatagram(nil, tableFrame(), 9, &ct, r); err == nil {
				t.Fatalf("restart %d accepted", r)
			}
		}
	})
	t.Run("rejects a codec 0 table set", func(t *testing.T) {
		if _, _, err := ParseCodecTableSet(CodecJPEGScan, tables); !errors.Is(err, ErrFormat) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestTableDatagramRejects(t *testing.T) {
	ct := cameraTables()
	good, err := AppendTableDatagram(nil, tableFrame(), 3, &ct)
	if err != nil {
		t.Fatal(err)
	}
	var gh Header
	if _, err := gh.Unmarshal(good, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mod  func(h *Header)
		raw  func(b []byte) []byte
		want error
	}{
		{name: "a table datagram that is also parity", mod: func(h *Header) { h.Flags |= FlagParity }, want: ErrFlags},
		{name: "a table datagram marked protected", mod: func(h *Header) { h.Flags |= FlagProtected }, want: ErrFlags},
		{name: "a table datagram of codec 0", mod: func(h *Header) { h.Format = Sub422; h.Quality = 50 }, want: ErrFormat},
		{name: "a table datagram naming a tile", mod: func(h *Header) { h.Tile = 1 }, want: ErrFragment},
		{name: "a table datagram with a datagram index", mod: func(h *Header) { h.Seq = 1 }, want: ErrFragment},
		{name: "a table datagram in two fragments", mod: func(h *Header) { h.Fragments = 2 }, want: ErrFragment},
		{name: "a table datagram longer than its size", raw: func(b []byte) []byte { return append(b, 0) }, want: ErrFragment},
		{name: "a table datagram shorter than its size", raw: func(b []byte) []byte { return b[:len(b)-1] }, want: ErrFragment},
		{name: "a table set above the limit", mod: func(h *Header) { h.PayloadSize = MaxTableSet + 1 }, raw: func(b []byte) []byte {
			return append(b, make([]byte, MaxTableSet+1-(len(b)-HeaderSize))...)
		}, want: ErrFragment},
	}
	for _, c := range cases {
		t.Run("rejects "+c.name, func(t *testing.T) {
			h := gh
			if c.mod != nil {
				c.mod(&h)
			}
			b := append([]byte(nil), good...)
			h.MarshalTo(b)
			if c.raw != nil {
				b = c.raw(b)
			}
			var got Header
			if _, err := got.Unmarshal(b, DefaultLimits); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	t.Run("a corrupt table set parses to ErrFormat", func(t *testing.T) {
		b := append([]byte(nil), good[HeaderSize:]...)
		b[5], b[6] = 0, 0 // table 0 (16-bit) step 0
		if _, err := ParseTableSet(b); !errors.Is(err, ErrFormat) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a data datagram of codec 1 takes any quality as its set id", func(t *testing.T) {
		h := sample()
		h.Format, h.Quality = CodecTableScan<<4|Sub420, 0
		_, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
		var got Header
		if _, err := got.Unmarshal(datagram(h, make([]byte, n)), DefaultLimits); err != nil || got.Quality != 0 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("parity never rebuilds a table datagram", func(t *testing.T) {
		d := tableFrame()
		d.Flags = FlagTables | FlagProtected
		d.Fragments, d.PayloadSize = 1, 10
		shard := make([]byte, ShardPrefix+10)
		PutShardPrefix(shard, &d)
		p := tableFrame()
		p.SetBlock(Block{Start: 0, K: 1, M: 1}, len(shard))
		if _, _, err := Rebuilt(make([]byte, MaxDatagram), &p, 0, shard, DefaultLimits); !errors.Is(err, ErrFlags) {
			t.Fatalf("got %v", err)
		}
	})
}

// FuzzTableDatagram: whatever Unmarshal accepts as a table datagram is
// self-consistent, and whatever ParseTableSet accepts builds a table set and
// travels again to the same bytes.
func FuzzTableDatagram(f *testing.F) {
	ct := cameraTables()
	d, _ := AppendTableDatagram(nil, tableFrame(), 3, &ct)
	f.Add(d)
	st := fastjpeg.StandardTables(50)
	d, _ = AppendTableDatagram(nil, tableFrame(), 0, &st)
	f.Add(d)
	f.Add(d[:HeaderSize+10])
	d, _ = AppendRestartTableDatagram(nil, tableFrame(), 4, &ct, 8)
	f.Add(d)
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		p, err := h.Unmarshal(b, DefaultLimits)
		if err != nil || !h.IsTables() {
			return
		}
		if len(p) != int(h.PayloadSize) || len(p) > MaxTableSet || (h.Codec() != CodecTableScan && h.Codec() != CodecRestartScan) ||
			h.Flags&^FlagSealed != FlagTables {
			t.Fatalf("accepted an inconsistent table datagram %+v", h)
		}
		tables, restart, err := ParseCodecTableSet(h.Codec(), p)
		if err != nil {
			return
		}
		if (restart != 0) != (h.Codec() == CodecRestartScan) {
			t.Fatalf("codec %d set with restart interval %d", h.Codec(), restart)
		}
		if _, err := fastjpeg.NewTableSet(&tables); err != nil {
			t.Fatalf("ParseCodecTableSet accepted tables NewTableSet refuses: %v", err)
		}
		var again []byte
		if restart != 0 {
			again, err = AppendRestartTableDatagram(nil, h, h.Quality, &tables, restart)
		} else {
			again, err = AppendTableDatagram(nil, h, h.Quality, &tables)
		}
		if err != nil {
			t.Fatal(err)
		}
		// The set travels again as the same tables; its bytes may differ, since a
		// sender writes each table in one canonical form (8-bit entries where they fit,
		// one DQT and one DHT segment) while a datagram may use another.
		var h2 Header
		p2, err := h2.Unmarshal(again, DefaultLimits)
		if err != nil {
			t.Fatalf("the set does not travel again: %v", err)
		}
		h2.PayloadSize, h2.Fragments = h.PayloadSize, h.Fragments
		h2.Flags |= h.Flags & FlagSealed // the input may say sealed; Append writes the clear form
		if h2 != h {
			t.Fatalf("the set travels under another header: %+v vs %+v", h2, h)
		}
		t2, r2, err := ParseCodecTableSet(h2.Codec(), p2)
		if err != nil || r2 != restart || !reflect.DeepEqual(t2, tables) {
			t.Fatalf("the set parses again to other tables (restart %d, %v)", r2, err)
		}
	})
}
