package fastjpeg

import (
	"fmt"
)

// QuantTable is one quantisation table in the zigzag order DQT carries it in
// (ITU T.81 §B.2.4.1, Figure A.6): entry k is the step of coefficient unzig[k].
// Steps are 1..65535; above 255 the table needs 16-bit precision (SOF1).
type QuantTable [blockSize]uint16

// HuffTable is a Huffman table as DHT carries it (ITU T.81 §B.2.4.2): Count[i]
// codes of length i+1 bits, then the symbols in code order.
type HuffTable struct {
	Count  [16]uint8
	Symbol []uint8
}

// Indices of Tables.Huff: DC and AC tables of the luminance (Y) and chrominance
// (Cb, Cr) classes, the order AppendTablesHeader writes them in.
const (
	HuffLumDC = iota
	HuffLumAC
	HuffChromDC
	HuffChromAC
)

// Tables are the tables a stream's tiles are coded with: one quantisation table
// per component (Y, Cb, Cr; a camera may give Cb and Cr different ones) and the
// Huffman tables of the two classes. It is the table set the protocol carries
// per stream; NewTableSet compiles it for coding.
type Tables struct {
	Quant [3]QuantTable
	Huff  [4]HuffTable
}

// StandardHuffman returns the typical Huffman tables of ITU T.81 Annex K.3, the
// ones image/jpeg writes and the protocol's v2 tiles use.
func StandardHuffman() [4]HuffTable {
	var h [4]HuffTable
	for i := range h {
		h[i] = HuffTable{Count: huffSpecs[i].count, Symbol: huffSpecs[i].value}
	}
	return h
}

// StandardTables returns the tables of a v2 tile at quality q (1..100, clamped):
// Annex K.1 scaled by image/jpeg's curve (Cb and Cr share table 1) and the Annex
// K.3 Huffman tables.
func StandardTables(q int) Tables {
	qt := quantTables(q)
	var t Tables
	for c := range t.Quant {
		for k := range t.Quant[c] {
			t.Quant[c][k] = uint16(qt[min(c, 1)][k])
		}
	}
	t.Huff = StandardHuffman()
	return t
}

// TableSet is a Tables compiled for the encoder and the decoder. It is immutable
// once built and safe to share between goroutines; build one per table set (per
// stream, or when the set changes), not per tile.
type TableSet struct {
	t   Tables
	enc [2]*encTables // luminance, chrominance
	dec [4]*decTable  // indexed like Tables.Huff
	dq  [3]decQuant

	// complete: the Huffman tables code every symbol a baseline block can need,
	// so the encoder may use them (a camera's tables need only code its own data).
	complete bool
}

// CanEncode reports whether the Huffman tables code every symbol of baseline
// coding (DC sizes 0..11; EOB, ZRL and every run 0..15 with size 1..10), which
// AppendTile needs; any valid set can decode.
func (ts *TableSet) CanEncode() bool { return ts.complete }

// NewTableSet checks t and compiles it. A quantisation step of 0 or a Huffman
// table that is not a valid prefix code (ITU T.81 Annex C) is an error wrapping
// ErrCorrupt. Only a set whose Huffman tables are complete (CanEncode) may code
// tiles; any valid set decodes.
func NewTableSet(t *Tables) (*TableSet, error) {
	ts := &TableSet{t: *t}
	for c := range t.Quant {
		for k, q := range t.Quant[c] {
			if q == 0 {
				return nil, fmt.Errorf("%w: quantisation table %d entry %d is 0", ErrCorrupt, c, k)
			}
		}
		ts.dq[c] = newDecQuant16(&t.Quant[c])
	}
	for i := range t.Huff {
		s, err := checkHuff(&t.Huff[i], i&1 == 0)
		if err != nil {
			return nil, fmt.Errorf("Huffman table %d: %w", i, err)
		}
		ts.t.Huff[i].Symbol = append([]uint8(nil), t.Huff[i].Symbol...)
		ts.dec[i] = newDecTable(s)
	}
	ts.enc[0] = newEncTablesFrom(ts.huffSpec(HuffLumDC), ts.huffSpec(HuffLumAC))
	ts.enc[1] = newEncTablesFrom(ts.huffSpec(HuffChromDC), ts.huffSpec(HuffChromAC))
	ts.complete = ts.enc[0].complete() && ts.enc[1].complete()
	return ts, nil
}

// Tables returns a copy of the tables ts was built from.
func (ts *TableSet) Tables() Tables {
	t := ts.t
	for i := range t.Huff {
		t.Huff[i].Symbol = append([]uint8(nil), t.Huff[i].Symbol...)
	}
	return t
}

func (ts *TableSet) huffSpec(i int) huffSpec {
	return huffSpec{count: ts.t.Huff[i].Count, value: ts.t.Huff[i].Symbol}
}

// checkHuff validates a DHT table: at most 256 symbols, exactly as many as the
// counts say, codes that fit their lengths (Annex C), no repeated symbol, and
// for DC tables only size categories 0..11.
func checkHuff(h *HuffTable, dc bool) (huffSpec, error) {
	n := 0
	code := 0
	for l := 1; l <= 16; l++ {
		c := int(h.Count[l-1])
		n += c
		code += c
		if code > 1<<l {
			return huffSpec{}, fmt.Errorf("%w: %d codes do not fit in %d bits", ErrCorrupt, code, l)
		}
		code <<= 1
	}
	if n == 0 || n > 256 || n != len(h.Symbol) {
		return huffSpec{}, fmt.Errorf("%w: %d counted symbols, %d given", ErrCorrupt, n, len(h.Symbol))
	}
	var seen [256]bool
	for _, s := range h.Symbol {
		if seen[s] {
			return huffSpec{}, fmt.Errorf("%w: symbol %#x twice", ErrCorrupt, s)
		}
		seen[s] = true
		if dc && s > 11 {
			return huffSpec{}, fmt.Errorf("%w: DC symbol %d", ErrCorrupt, s)
		}
	}
	return huffSpec{count: h.Count, value: h.Symbol}, nil
}

// newEncTablesFrom builds the encoder's codes for one component class.
func newEncTablesFrom(dc, ac huffSpec) *encTables {
	var t encTables
	pack := func(code uint16, length uint8, sym int) huffCode {
		if length == 0 {
			return 0 // absent: the coder checks for it
		}
		size := uint32(sym & 15)
		return huffCode((uint32(length)+size)<<huffCodeBits | uint32(code)<<size)
	}
	code, size := canonicalCodes(dc)
	for i := range t.dc {
		t.dc[i] = pack(code[i], size[i], i)
	}
	code, size = canonicalCodes(ac)
	for i := range t.ac {
		t.ac[i] = pack(code[i], size[i], i)
	}
	return &t
}

// maxDecQuant bounds a decoder multiplier so that a coefficient of 11 bits times
// it stays within int32: steps that large only come from hostile tables.
const maxDecQuant = 1 << 20

// complete reports whether every baseline symbol has a code.
func (t *encTables) complete() bool {
	for s := 0; s <= 11; s++ {
		if t.dc[s] == 0 {
			return false
		}
	}
	if t.ac[0x00] == 0 || t.ac[0xf0] == 0 {
		return false
	}
	for run := 0; run < 16; run++ {
		for size := 1; size <= 10; size++ {
			if t.ac[run<<4|size] == 0 {
				return false
			}
		}
	}
	return true
}

// newDecQuant16 is newDecQuant for steps of up to 16 bits.
func newDecQuant16(t *QuantTable) decQuant {
	steps := [blockSize]uint16(*t)
	return decQuantOf(&steps)
}

// AppendTablesHeader appends SOI, DQT, SOF, DHT and SOS for a w x h image whose
// scan is coded with ts in layout s, so header + tile payload + EOI is a JPEG
// file any baseline decoder reads (the window, browser and recording paths).
// Cb and Cr share one DQT table when theirs are equal; a table with a step above
// 255 is written with 16-bit precision and the frame as SOF1 (extended
// sequential), as T.81 §B.2.4.1 requires. With StandardTables(q) the bytes are
// AppendHeader's.
func AppendTablesHeader(dst []byte, w, h int, ts *TableSet, s Subsampling) []byte {
	t := &ts.t
	nq := 3
	if t.Quant[2] == t.Quant[1] {
		nq = 2
	}
	sof := byte(markerSOF0)
	for c := 0; c < nq; c++ {
		if wide(&t.Quant[c]) {
			sof = markerSOF1
		}
	}
	dst = appendDQT(append(dst, 0xff, markerSOI), t.Quant[:nq])
	ySampling := byte(0x22)
	if s == S422 {
		ySampling = 0x21
	}
	dst = append(dst, 0xff, sof, 0x00, 8+3*3, 8,
		byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, ySampling, 0,
		2, 0x11, 1,
		3, 0x11, byte(nq-1))
	return append(appendDHT(dst, &t.Huff), sosYCbCr[:]...)
}

// wide reports whether a table needs 16-bit DQT precision.
func wide(t *QuantTable) bool {
	for _, v := range t {
		if v > 255 {
			return true
		}
	}
	return false
}

// AppendTables appends t as the JPEG table segments of ITU T.81 §B.2.4: one DQT
// with the Y, Cb and Cr tables as ids 0, 1 and 2 (16-bit precision where a step
// exceeds 255), then one DHT with the four Huffman tables (luminance DC and AC
// as ids 0, chrominance as ids 1). It is a compact, self-checking form for a
// stream's table set on the wire: 619 bytes with 8-bit quantisation tables and
// Annex K.3's Huffman tables, at most 4+3*129 + 4+4*17+2*12+2*256 = 999 bytes.
// ParseTables reads it back.
func AppendTables(dst []byte, t *Tables) []byte {
	return appendDHT(appendDQT(dst, t.Quant[:]), &t.Huff)
}

// appendDQT appends one DQT segment defining quant[c] as table c, each with 8-bit
// precision or, when a step exceeds 255, 16-bit (T.81 §B.2.4.1).
func appendDQT(dst []byte, quant []QuantTable) []byte {
	n := 2
	for c := range quant {
		n += 1 + blockSize
		if wide(&quant[c]) {
			n += blockSize
		}
	}
	dst = append(dst, 0xff, markerDQT, byte(n>>8), byte(n))
	for c := range quant {
		if !wide(&quant[c]) {
			dst = append(dst, byte(c))
			for _, v := range quant[c] {
				dst = append(dst, byte(v))
			}
			continue
		}
		dst = append(dst, 0x10|byte(c))
		for _, v := range quant[c] {
			dst = append(dst, byte(v>>8), byte(v))
		}
	}
	return dst
}

// appendDHT appends one DHT segment defining the four Huffman tables: DC and AC
// of the luminance as ids 0, of the chrominance as ids 1 (T.81 §B.2.4.2).
func appendDHT(dst []byte, huff *[4]HuffTable) []byte {
	n := 2
	for _, h := range huff {
		n += 1 + 16 + len(h.Symbol)
	}
	dst = append(dst, 0xff, markerDHT, byte(n>>8), byte(n))
	for i, h := range huff {
		dst = append(dst, "\x00\x10\x01\x11"[i])
		dst = append(dst, h.Count[:]...)
		dst = append(dst, h.Symbol...)
	}
	return dst
}

// ParseTables reads a table set written by AppendTables: a DQT segment
// defining quantisation tables 0, 1 and 2, then a DHT segment defining DC and AC
// tables 0 and 1, nothing else and nothing after. Anything else is an error
// wrapping ErrCorrupt or ErrShort; the Huffman tables are checked as NewTableSet
// checks them.
func ParseTables(b []byte) (Tables, error) {
	var hd jpegHeader
	var t Tables
	for _, m := range [2]byte{markerDQT, markerDHT} {
		if len(b) < 2 || b[0] != 0xff || b[1] != m {
			return t, fmt.Errorf("%w: table set without its %#02x segment", ErrCorrupt, m)
		}
		seg, next, err := segment(b, 2, m)
		if err != nil {
			return t, err
		}
		if m == markerDQT {
			err = hd.parseDQT(seg)
		} else {
			err = hd.parseDHT(seg)
		}
		if err != nil {
			return t, err
		}
		b = b[next:]
	}
	if len(b) != 0 {
		return t, fmt.Errorf("%w: %d bytes after the table set", ErrCorrupt, len(b))
	}
	for c := range t.Quant {
		if !hd.quantSet[c] {
			return t, fmt.Errorf("%w: quantisation table %d missing", ErrCorrupt, c)
		}
		t.Quant[c] = hd.quant[c]
	}
	for i := range t.Huff {
		k := (i&1)*4 + i>>1 // class*4 + id
		if !hd.huffSet[k] {
			return t, fmt.Errorf("%w: Huffman table %d missing", ErrCorrupt, i)
		}
		t.Huff[i] = HuffTable{Count: hd.huff[k].count, Symbol: append([]uint8(nil), hd.huff[k].value...)}
	}
	return t, nil
}
