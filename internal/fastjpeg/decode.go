package fastjpeg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
)

// lookupBits is how many bits the first-level Huffman lookup takes: every code of
// the Annex K.3 tables up to this length resolves with one load.
const lookupBits = 9

// decTable decodes one Huffman table (ITU T.81 §F.2.2.3 and Annex C).
type decTable struct {
	lookup  [1 << lookupBits]uint16 // len<<8 | symbol for codes up to lookupBits long; 0 otherwise
	maxCode [17]int32               // largest code of each length, -1 if none
	valPtr  [17]int32               // index in vals of each length's first code, minus that code
	vals    [256]uint8

	// fast resolves an AC code and its value together when both fit in fastBits:
	// value<<16 | run<<8 | bits consumed, or 0. CoefFrame and Transcode use it.
	fast [1 << fastBits]int32

	// ac is Decoder's wider fast: an AC code and its value, or an end of block,
	// resolved by the top acBits bits (see acEntry).
	ac [1 << acBits]int32
}

// fastBits is the width of the combined AC code-and-value lookup.
const fastBits = 10

func newDecTable(s huffSpec) *decTable {
	var t decTable
	copy(t.vals[:], s.value)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(s.count[l-1])
		t.valPtr[l] = k - code
		t.maxCode[l] = -1
		if n > 0 {
			t.maxCode[l] = code + n - 1
		}
		for i := int32(0); i < n; i++ {
			if l <= lookupBits {
				// Every lookupBits-bit index that starts with this code.
				first := (code + i) << (lookupBits - l)
				for j := int32(0); j < 1<<(lookupBits-l); j++ {
					t.lookup[first+j] = uint16(l)<<8 | uint16(s.value[k+i])
				}
			}
		}
		code = (code + n) << 1
		k += n
	}
	for i := range t.fast {
		e := t.lookup[i>>(fastBits-lookupBits)]
		if e == 0 {
			continue
		}
		l, rs := uint(e>>8), uint8(e)
		size := uint(rs & 15)
		if size == 0 || l+size > fastBits {
			continue // EOB, ZRL or DC symbols, or the value does not fit
		}
		v := int32(i>>(fastBits-l-size)) & (1<<size - 1)
		t.fast[i] = extend(v, size)<<16 | int32(rs>>4)<<8 | int32(l+size)
	}
	for i := range t.ac {
		t.ac[i] = t.acEntry(uint64(i) << (64 - acBits))
	}
	return &t
}

// The decoding tables are computed once from huffSpecs and only read afterwards.
var (
	decLumDC, decLumAC     = newDecTable(huffSpecs[hLumDC]), newDecTable(huffSpecs[hLumAC])
	decChromDC, decChromAC = newDecTable(huffSpecs[hChromDC]), newDecTable(huffSpecs[hChromAC])
)

// decQuant holds, for each zig-zag index, the step of a quantisation table times
// the IDCT's AAN input scale in fixed point, and at dqPath the inverse DCT its
// blocks take: pathExact (dqBits fraction bits, idct) or pathFast (ifastBits,
// idctFast), chosen by the table's coarseness (see decQuantOf).
type decQuant [blockSize + 1]int32

func newDecQuant(t *[blockSize]uint8) decQuant {
	var steps [blockSize]uint16
	for k, v := range t {
		steps[k] = uint16(v)
	}
	return decQuantOf(&steps)
}

// Decoder decodes tile payloads (see the package comment) straight into a frame's
// planes. It keeps its tables between calls and allocates nothing; it is not safe
// for concurrent use (use one per goroutine).
type Decoder struct {
	quality int // quality the tables below hold; 0 before the first call
	quant   [2]decQuant
	blks    [2 * mcuBlocks][blockSize]int32 // one MCU's blocks, and the previous one's (see blkAt)
	cur     int                             // blockwise: the block being decoded, blkAt(cur); the held one is cur^1
	held    heldBlock
	run     coefRun            // the MCU decodeMCUs decodes
	edge    [2][blockSize]byte // blocks that the tile's edge cuts
	br      bitReader
}

// heldBlock is a fast-path block decoded into Decoder.blkAt(blk) whose pixels
// wait for a second one, so that both take one call of idctFast2 (pairIDCT).
type heldBlock struct {
	plane, x, y int // the block at (x, y) of decode's planes[plane]; no pointer, so no write barrier
	blk         int
	ok          bool
}

// blkAt is the Decoder's coefficient buffer b: block b%mcuBlocks of MCU
// buffer b/mcuBlocks.
func (d *Decoder) blkAt(b int) *[blockSize]int32 {
	return &d.blks[b]
}

// DecodeScan decodes scan, the payload of a tile r.Dx() x r.Dy() pixels coded at the
// given quality and subsampling, into dst's planes at r. dst must have the same
// subsampling, and r must lie within dst.Rect with even r.Min coordinates. Corrupt
// or truncated data is an error wrapping ErrCorrupt or ErrShort (never a panic);
// the pixels of r are then partly written.
func (d *Decoder) DecodeScan(dst *image.YCbCr, r image.Rectangle, quality int, s Subsampling, scan []byte) error {
	if err := checkDecodeArgs(dst, r, s); err != nil {
		return err
	}
	if q := clampQuality(quality); q != d.quality {
		t := quantTables(q)
		d.quant[0], d.quant[1] = newDecQuant(&t[0]), newDecQuant(&t[1])
		d.quality = q
	}

	return d.decode(dst, r, s, scan, &d.quant[0], &d.quant[1], &d.quant[1], &stdDec, byMCU())
}

// byMCU reports whether decode should take a whole MCU's coefficients per
// call of the assembly loop (decodeMCUs): where it runs. Elsewhere decode
// takes the blocks one at a time, the pure-Go path and the reference.
func byMCU() bool { return runAsm() }

// checkDecodeArgs checks the frame and rectangle a tile decodes into.
func checkDecodeArgs(dst *image.YCbCr, r image.Rectangle, s Subsampling) error {
	if s != S420 && s != S422 {
		return fmt.Errorf("%w: subsampling code %d", ErrArgs, s)
	}
	if dst.SubsampleRatio != s.Ratio() {
		return fmt.Errorf("%w: %v scan into a %v frame", ErrArgs, s, dst.SubsampleRatio)
	}
	if r.Empty() || !r.In(dst.Rect) || r.Dx() > 0xffff || r.Dy() > 0xffff {
		return fmt.Errorf("%w: rectangle %v not a non-empty part of %v", ErrArgs, r, dst.Rect)
	}
	if r.Min.X&1 != 0 || (s == S420 && r.Min.Y&1 != 0) {
		return fmt.Errorf("%w: rectangle %v does not start on a chroma sample", ErrArgs, r)
	}
	if !covers(dst, r) {
		return fmt.Errorf("%w: frame planes too short for %v", ErrArgs, r)
	}
	return nil
}

// stdDec are the Annex K.3 decoding tables of v2 tiles: luminance DC and AC, then
// chrominance DC and AC.
var stdDec = [4]*decTable{decLumDC, decLumAC, decChromDC, decChromAC}

// DecodeTile decodes scan, the payload of a tile r.Dx() x r.Dy() pixels coded with
// the table set ts (any baseline quantisation and Huffman tables: a camera's
// tables re-tiled by CoefFrame.AppendTile, or StandardTables) in layout s, into
// dst's planes at r. The rules on dst, r and errors are DecodeScan's.
func (d *Decoder) DecodeTile(dst *image.YCbCr, r image.Rectangle, ts *TableSet, s Subsampling, scan []byte) error {
	if err := checkDecodeArgs(dst, r, s); err != nil {
		return err
	}
	return d.decode(dst, r, s, scan, &ts.dq[0], &ts.dq[1], &ts.dq[2], &ts.dec, byMCU())
}

// decode decodes scan into dst at r (DecodeScan's and DecodeTile's rules)
// with the dequantisers and Huffman tables given, a whole MCU's coefficients
// at a time (decodeMCUs) if mcus is set, else block by block: the pixels and
// errors are the same.
func (d *Decoder) decode(dst *image.YCbCr, r image.Rectangle, s Subsampling, scan []byte, qy, qcb, qcr *decQuant, ht *[4]*decTable, mcus bool) error {
	lumDC, lumAC, chromDC, chromAC := ht[HuffLumDC], ht[HuffLumAC], ht[HuffChromDC], ht[HuffChromAC]
	w, h := r.Dx(), r.Dy()
	cw := (r.Max.X+1)/2 - r.Min.X/2
	ch := h
	if s == S420 {
		ch = (r.Max.Y+1)/2 - r.Min.Y/2
	}
	yo, co := dst.YOffset(r.Min.X, r.Min.Y), dst.COffset(r.Min.X, r.Min.Y)
	pl := [3]plane{ // Y, Cb, Cr
		{dst.Y[yo:], dst.YStride, w, h},
		{dst.Cb[co:], dst.CStride, cw, ch},
		{dst.Cr[co:], dst.CStride, cw, ch},
	}
	mw, mh := s.MCUSize()

	br := &d.br
	br.reset(scan)
	d.held = heldBlock{} // what an earlier call left on an error
	if mcus {
		if err := d.decodeMCUs(&pl, s, len(scan), qy, qcb, qcr, ht); err != nil {
			return err
		}
		d.flush(&pl)
		return nil
	}
	d.cur = 0
	var dcY, dcCb, dcCr int32
	var err error
	for my := 0; my < h; my += mh {
		for mx := 0; mx < w; mx += mw {
			if dcY, err = d.block(&pl, 0, mx, my, qy, lumDC, lumAC, dcY); err != nil {
				return err
			}
			if dcY, err = d.block(&pl, 0, mx+8, my, qy, lumDC, lumAC, dcY); err != nil {
				return err
			}
			cy := my
			if s == S420 {
				if dcY, err = d.block(&pl, 0, mx, my+8, qy, lumDC, lumAC, dcY); err != nil {
					return err
				}
				if dcY, err = d.block(&pl, 0, mx+8, my+8, qy, lumDC, lumAC, dcY); err != nil {
					return err
				}
				cy = my / 2
			}
			if dcCb, err = d.block(&pl, 1, mx/2, cy, qcb, chromDC, chromAC, dcCb); err != nil {
				return err
			}
			if dcCr, err = d.block(&pl, 2, mx/2, cy, qcr, chromDC, chromAC, dcCr); err != nil {
				return err
			}
			// Past the end the reader feeds zeros; a scan that needed them is short.
			if br.short() {
				return fmt.Errorf("%w: %d bytes end inside MCU (%d, %d)", ErrShort, len(scan), mx, my)
			}
		}
	}
	d.flush(&pl)
	return nil
}

// flush writes the pixels of the block left held at the end of a scan, an
// odd block out: alone through the one-block kernel.
func (d *Decoder) flush(pl *[3]plane) {
	if h := &d.held; h.ok {
		p := &pl[h.plane]
		out, stride, full := d.target(p, h.x, h.y, 0)
		idctFast(d.blkAt(h.blk), out, stride)
		if !full {
			d.clip(p, h.x, h.y, 0)
		}
		*h = heldBlock{}
	}
}

// mcuGeometry is where the blocks of an MCU lie for each subsampling: block
// i is in plane plane[i], dx[i] and dy[i] from the MCU's corner in that
// plane's samples (chrominance at half the MCU's coordinates, as decode's
// loop puts them). 4:2:2 has the first two Y blocks, then Cb and Cr.
var mcuGeometry = [2]struct {
	n             int
	plane, dx, dy [mcuBlocks]int
}{
	S420: {6, [mcuBlocks]int{0, 0, 0, 0, 1, 2}, [mcuBlocks]int{0, 8, 0, 8, 0, 0}, [mcuBlocks]int{0, 0, 8, 8, 0, 0}},
	S422: {4, [mcuBlocks]int{0, 0, 1, 2}, [mcuBlocks]int{0, 8, 0, 0}, [mcuBlocks]int{}},
}

// decodeMCUs is decode's loop taking each MCU's coefficients in one call of
// coefsMCU, then writing its blocks' pixels in order as block does; on an
// error the blocks decoded before it are written first, so the pixels and
// the error are those of the block-by-block loop. scanLen is the scan's
// length for the error of a short scan.
func (d *Decoder) decodeMCUs(pl *[3]plane, s Subsampling, scanLen int, qy, qcb, qcr *decQuant, ht *[4]*decTable) error {
	g := &mcuGeometry[s&1]
	run := &d.run
	run.n, run.pred = g.n, [3]int32{}
	for i := range g.n {
		switch c := g.plane[i]; c {
		case 0:
			run.set(i, ht[HuffLumDC], ht[HuffLumAC], qy, c)
		case 1:
			run.set(i, ht[HuffChromDC], ht[HuffChromAC], qcb, c)
		default:
			run.set(i, ht[HuffChromDC], ht[HuffChromAC], qcr, c)
		}
	}
	mw, mh := s.MCUSize()
	w, h := pl[0].w, pl[0].h
	set := 0
	for my := 0; my < h; my += mh {
		cy := my
		if s == S420 {
			cy = my / 2
		}
		for mx := 0; mx < w; mx += mw {
			// The MCU buffer the held block is not in.
			if d.held.ok {
				set = 1 - d.held.blk/mcuBlocks
			}
			run.blk = (*[mcuBlocks][blockSize]int32)(d.blks[set*mcuBlocks:])
			n, err := coefsMCU(&d.br, run)
			for i := range n {
				x, y := mx+g.dx[i], my+g.dy[i]
				if g.plane[i] != 0 {
					x, y = mx/2+g.dx[i], cy+g.dy[i]
				}
				d.pixels(pl, g.plane[i], x, y, run.q[i], set*mcuBlocks+i, run.ac[i])
			}
			if err != nil {
				return err
			}
			// Past the end the reader feeds zeros; a scan that needed them is short.
			if d.br.short() {
				return fmt.Errorf("%w: %d bytes end inside MCU (%d, %d)", ErrShort, scanLen, mx, my)
			}
		}
	}
	return nil
}

// block decodes one block's coefficients, dequantises them and writes its pixels
// at (x, y) of planes[plane] (pixels), returning the DC for the next block's
// prediction.
func (d *Decoder) block(planes *[3]plane, plane, x, y int, q *decQuant, dcT, acT *decTable, prevDC int32) (int32, error) {
	dc, ac, err := huffCoefs(&d.br, d.blkAt(d.cur), q, dcT, acT, prevDC)
	if err != nil {
		return 0, err
	}
	if d.pixels(planes, plane, x, y, q, d.cur, ac) {
		d.cur ^= 1
	}
	return dc, nil
}

// pixels writes the pixels of the block in buffer b (blkAt), dequantised by q
// with AC coefficients coded if ac, at (x, y) of planes[plane]. Where pairIDCT
// holds, a block that takes the fast IDCT waits for the next such block
// (Decoder.held) and both go through idctFast2; pixels reports whether it
// held block b (its buffer is then not to be reused until the pair is
// written), and decode writes the last one left (flush).
func (d *Decoder) pixels(planes *[3]plane, plane, x, y int, q *decQuant, b int, ac bool) bool {
	blk, p := d.blkAt(b), &planes[plane]
	if x >= p.w || y >= p.h {
		return false // a block wholly in the MCU's padding
	}
	fast := q[dqPath] == pathFast
	if ac && fast && pairIDCT() {
		h := &d.held
		if !h.ok {
			// Field by field: a composite literal here was built on the stack
			// and copied with 16-byte loads of 8-byte stores, a stalled store
			// forward that was 3% of the decoder's time.
			h.plane, h.x, h.y, h.blk, h.ok = plane, x, y, b, true
			return true
		}
		ph := &planes[h.plane]
		outA, strideA, fullA := d.target(ph, h.x, h.y, 0)
		outB, strideB, fullB := d.target(p, x, y, 1)
		idctFast2(d.blkAt(h.blk), blk, outA, strideA, outB, strideB)
		if !fullA {
			d.clip(ph, h.x, h.y, 0)
		}
		if !fullB {
			d.clip(p, x, y, 1)
		}
		h.ok = false
		return false
	}
	out, stride, full := d.target(p, x, y, 0)
	switch {
	case ac && fast:
		idctFast(blk, out, stride)
	case ac:
		idct(blk, out, stride)
	default:
		// DC only: a flat block, the commonest kind in smooth pictures; the same
		// sample as the path's kernel computes.
		v := pixel(int64(blk[0]))
		if fast {
			v = ifastFlat(blk[0])
		}
		// A row is one 8-byte store: a byte loop here was 4% of a receiver's
		// CPU. The rows are unrolled, each window checked once (a loop over
		// out[j*stride:] was 2% of decoding).
		row := uint64(v) * 0x0101010101010101
		for o := out[:7*stride+8]; ; o = o[stride:] {
			binary.LittleEndian.PutUint64(o[:8], row)
			if len(o) == 8 {
				break
			}
		}
	}
	if !full {
		d.clip(p, x, y, 0)
	}
	return false
}

// target returns where the pixels of the block at (x, y) of p go: the plane, or
// edge buffer e where the tile's edge cuts the block (full false; clip then
// copies its part to the plane).
func (d *Decoder) target(p *plane, x, y, e int) (out []byte, stride int, full bool) {
	if x+8 <= p.w && y+8 <= p.h {
		return p.pix[y*p.stride+x:], p.stride, true
	}
	return d.edge[e][:], 8, false
}

// clip copies the part of edge buffer e that lies in the tile to the block at
// (x, y) of p.
func (d *Decoder) clip(p *plane, x, y, e int) {
	for j := 0; j < min(8, p.h-y); j++ {
		copy(p.pix[(y+j)*p.stride+x:][:min(8, p.w-x)], d.edge[e][j*8:])
	}
}

// bitReader reads the entropy-coded bits of a scan (ITU T.81 §F.1.2.3) one
// segment at a time: the bytes up to the next marker or the end, copied once
// with their stuffed zero bytes removed and segPad zero bytes after them. The
// decoding loops then refill their bits with one unaligned 8-byte load and no
// test of the data (refill), where a byte-wise reader checks every byte for
// 0xFF (libjpeg-turbo's jdhuff.c takes the same fast path while no marker is
// near; here the copy makes it the only path). Past the segment's end the bits
// read as zeros; short reports when any of them was consumed, so a truncated
// scan is noticed rather than overrun.
type bitReader struct {
	scan []byte // the scan as it arrived: stuffed, with its markers
	next int    // offset in scan where the segment ended: a marker's 0xFF, or len(scan)
	seg  []byte // the segment unstuffed, then segPad zero bytes
	end  int    // the segment's length without the padding
	pos  int    // bytes of seg moved into acc
	acc  uint64 // the next n bits, most significant first; the bits below are the stream's next ones or zero
	n    uint
}

// segPad is the zero bytes after a segment: an 8-byte load at any pos up to
// the segment's end stays in the buffer.
const segPad = 8

// reset starts reading scan at its first segment, reusing r's buffer.
func (r *bitReader) reset(scan []byte) {
	r.scan = scan
	r.load(0)
}

// load copies the segment of r.scan that starts at from into r.seg, removing
// stuffed zeros: it ends at a 0xFF not followed by zero (a marker, as the
// byte-wise reader saw it) or at the end of the data.
func (r *bitReader) load(from int) {
	scan, seg, p := r.scan, r.seg[:0], from
	for p < len(scan) {
		i := bytes.IndexByte(scan[p:], 0xff)
		if i < 0 {
			seg = append(seg, scan[p:]...)
			p = len(scan)
			break
		}
		seg = append(seg, scan[p:p+i]...)
		if p += i; p+1 >= len(scan) || scan[p+1] != 0 {
			break
		}
		seg = append(seg, 0xff)
		p += 2
	}
	r.end, r.next = len(seg), p
	r.seg = append(seg, 0, 0, 0, 0, 0, 0, 0, 0)
	r.pos, r.acc, r.n = 0, 0, 0
}

// short reports whether a bit past the segment's end was consumed.
func (r *bitReader) short() bool {
	return 8*r.pos-int(r.n) > 8*r.end
}

// refill tops a decoding loop's bit buffer (acc holding n < 64 bits) up to
// 56-63 bits from seg at pos, returning the new acc, n and pos. It loads 8
// bytes and keeps the whole ones that fit: the bits below n|56 are the next
// byte's, which the next refill ORs in again unchanged (F. Giesen, "Reading
// bits in far too many ways", 2018, variant 4). Past the end it adds zeros.
func refill(seg []byte, pos int, acc uint64, n uint) (uint64, uint, int) {
	if pos+8 <= len(seg) {
		acc |= binary.BigEndian.Uint64(seg[pos:]) >> (n & 63)
	}
	return acc, n | 56, pos + int((63-n)>>3)
}

// slow decodes a code longer than lookupBits from the top of acc, returning its
// symbol and length, or length 0 if no code matches (corrupt data).
func (t *decTable) slow(acc uint64) (uint8, uint) {
	for l := uint(lookupBits + 1); l <= 16; l++ {
		code := int32(acc >> (64 - l))
		if code <= t.maxCode[l] {
			return t.vals[uint8(t.valPtr[l]+code)], l
		}
	}
	return 0, 0
}

// extend turns the s-bit value v into a coefficient (§F.2.2.1, EXTEND): values
// whose top bit is 0 are negative. 1 <= s <= 15.
func extend(v int32, s uint) int32 {
	if v < 1<<((s-1)&31) {
		v += -1<<(s&31) + 1
	}
	return v
}
