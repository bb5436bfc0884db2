package fastjpeg

import (
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"math/bits"
)

// huffCode is the code of a symbol whose low 4 bits are a size category, shifted
// left by that size so the value's bits can be ORed in below it, in the low 26
// bits; the top 6 bits hold the code's length plus the size: everything the coder
// needs in one load.
type huffCode uint32

const huffCodeBits = 26

// encTables are the Annex K.3 codes for one component class, indexed by symbol.
type encTables struct {
	dc [16]huffCode
	ac [256]huffCode
}

// encLum and encChrom are computed once from huffSpecs and only read afterwards.
var encLum, encChrom = newEncTables(hLumDC, hLumAC), newEncTables(hChromDC, hChromAC)

func newEncTables(dc, ac int) *encTables {
	var t encTables
	pack := func(code uint16, length uint8, sym int) huffCode {
		size := uint32(sym & 15)
		return huffCode((uint32(length)+size)<<huffCodeBits | uint32(code)<<size)
	}
	code, size := canonicalCodes(huffSpecs[dc])
	for i := range t.dc {
		t.dc[i] = pack(code[i], size[i], i)
	}
	code, size = canonicalCodes(huffSpecs[ac])
	for i := range t.ac {
		t.ac[i] = pack(code[i], size[i], i)
	}
	return &t
}

// magnitude[a] is the size category of a magnitude a < 2048 (ITU T.81 Table F.1)
// in its low 4 bits and the mask of that many bits above them.
var magnitude = func() (t [2048]uint16) {
	for a := range t {
		size := bits.Len(uint(a))
		t[a] = uint16((1<<size-1)<<4 | size)
	}
	return t
}()

// reciprocalBits is the fixed-point precision of the quantiser's reciprocals: a
// multiply and a shift replace image/jpeg's division. 31 keeps the rounding
// constant an immediate operand on amd64.
const reciprocalBits = 31

// encQuant is one quantisation table as the encoder applies it: for each position
// in coefs, 2^31 / (step * the DCT's output scale).
type encQuant [blockSize]int64

func newEncQuant(t *[blockSize]uint8) (q encQuant) {
	for k, n := range unzig {
		scale := float64(t[k]) * aanScale[n>>3] * aanScale[n&7] * (8 << fdctShift)
		q[transpose(n)] = int64(math.Round(math.Exp2(reciprocalBits) / scale))
	}
	return q
}

// maxMCUBytes is the room the writer makes once per MCU so that the inner loops
// never grow the buffer: five blocks of at most maxBlockBytes and the sixth's
// blockWindow.
const maxMCUBytes = 5*maxBlockBytes + blockWindow

// Encoder writes baseline JPEG scans and files. It keeps its tables and scratch
// buffers between calls, so the steady state allocates nothing beyond growing dst;
// it is not safe for concurrent use (use one per goroutine).
type Encoder struct {
	quality int // quality the tables below hold; 0 before the first call
	quant   [2]encQuant
	fast    [2]bool      // table i is coarse enough for the fast DCT (fastQuantOK)
	fq      [2]fastQuant // table i in the fast DCT's form, where fast[i]

	blk  [blockSize]int32 // the DCT's row pass
	zz   coefs            // quantised coefficients
	zz2  coefs            // the second block of a pair (pair)
	edge [blockSize]byte  // an edge block with its last row and column replicated
	edg2 [blockSize]byte  // the second block of a pair's edge copy
	mcu  mcuCoefs         // one MCU's blocks for codeBlocks (appendScanBy)

	// Scratch planes for inputs that are not 4:2:0 or 4:2:2 Y'CbCr.
	planes *image.YCbCr
	sink   byte // keeps touchAhead's loads from being optimised away
	full   *image.YCbCr
}

func (e *Encoder) setQuality(q int) {
	q = clampQuality(q)
	if q == e.quality {
		return
	}
	t := quantTables(q)
	for i := range t {
		e.quant[i] = newEncQuant(&t[i])
		if e.fast[i] = fastQuantOK(&t[i]); e.fast[i] {
			e.fq[i] = newFastQuant(&t[i])
		}
	}
	e.quality = q
}

// AppendScan appends the entropy-coded scan of rectangle r of img at the given
// quality (clamped to 1..100) to dst: a tile payload. img's ratio picks the layout
// (4:2:0 or 4:2:2). r must lie within img.Rect with even r.Min coordinates so its
// chroma starts on a sample pair; the protocol puts tiles on the MCU grid, which is
// stricter. Blocks past r's right and bottom edges repeat its last column and row.
func (e *Encoder) AppendScan(dst []byte, img *image.YCbCr, r image.Rectangle, quality int) ([]byte, error) {
	s, ok := SubsamplingOf(img.SubsampleRatio)
	if !ok {
		return dst, fmt.Errorf("%w: subsampling %v is not 4:2:0 or 4:2:2", ErrArgs, img.SubsampleRatio)
	}
	if r.Empty() || !r.In(img.Rect) || r.Dx() > 0xffff || r.Dy() > 0xffff {
		return dst, fmt.Errorf("%w: rectangle %v not a non-empty part of %v", ErrArgs, r, img.Rect)
	}
	if r.Min.X&1 != 0 || (s == S420 && r.Min.Y&1 != 0) {
		return dst, fmt.Errorf("%w: rectangle %v does not start on a chroma sample", ErrArgs, r)
	}
	if !covers(img, r) {
		return dst, fmt.Errorf("%w: image planes too short for %v", ErrArgs, r)
	}
	e.setQuality(quality)
	return e.appendScan(dst, img, r, s), nil
}

// plane is a rectangle of one component's samples with the tile's extent in it.
type plane struct {
	pix    []byte
	stride int
	w, h   int // samples that belong to the tile; blocks beyond repeat the last ones
}

func (e *Encoder) appendScan(dst []byte, img *image.YCbCr, r image.Rectangle, s Subsampling) []byte {
	return e.appendScanBy(dst, img, r, s, mcuCoding && useSIMD)
}

// appendScanBy is appendScan, coding a whole MCU per call (codeMCUs) if byMCU
// and both tables take the fast DCT, else block by block (pair). The bytes are
// the same either way; tests compare them.
func (e *Encoder) appendScanBy(dst []byte, img *image.YCbCr, r image.Rectangle, s Subsampling, byMCU bool) []byte {
	w, h := r.Dx(), r.Dy()
	cw := (r.Max.X+1)/2 - r.Min.X/2
	ch := h
	if s == S420 {
		ch = (r.Max.Y+1)/2 - r.Min.Y/2
	}
	yo, co := img.YOffset(r.Min.X, r.Min.Y), img.COffset(r.Min.X, r.Min.Y)
	py := plane{img.Y[yo:], img.YStride, w, h}
	pcb := plane{img.Cb[co:], img.CStride, cw, ch}
	pcr := plane{img.Cr[co:], img.CStride, cw, ch}
	mw, mh := s.MCUSize()

	bw := bitWriter{buf: dst[:cap(dst)], pos: len(dst)}
	hs := bw.begin()
	var dcY, dcCb, dcCr int32
	var touch byte
	if byMCU && e.fast[0] && e.fast[1] {
		hs = e.codeMCUs(&bw, hs, &py, &pcb, &pcr, s)
		h = 0 // done: skip the block-by-block loop below
	}
	for my := 0; my < h; my += mh {
		for mx := 0; mx < w; mx += mw {
			if mx&63 == 0 {
				touch += e.touchAhead(&py, &pcb, &pcr, mx+128, my, mh)
			}
			bw.pos = hs.pos
			bw.reserve(maxMCUBytes)
			hs, _, dcY = e.pair(bw.buf, hs, &py, mx, my, &py, mx+8, my, 0, encLum, dcY, 0, true)
			cy := my
			if s == S420 {
				hs, _, dcY = e.pair(bw.buf, hs, &py, mx, my+8, &py, mx+8, my+8, 0, encLum, dcY, 0, true)
				cy = my / 2
			}
			hs, dcCb, dcCr = e.pair(bw.buf, hs, &pcb, mx/2, cy, &pcr, mx/2, cy, 1, encChrom, dcCb, dcCr, false)
		}
	}
	e.sink = touch
	bw.pos = hs.pos
	bw.reserve(16)
	bw.end(hs)
	bw.reserve(16)
	bw.pad()
	return bw.buf[:bw.pos]
}

// mcuCoefs is one MCU as codeBlocks codes it: block i's quantised coefficients
// (in the DCT's order, coefOf), the zigzag mask of its non-zero AC ones and its
// DC difference from the prediction.
type mcuCoefs struct {
	vals [mcuBlocks]coefs
	nz   [mcuBlocks]uint64
	diff [mcuBlocks]int64
}

// codeMCUs transforms and codes every MCU of the planes py, pcb and pcr (the
// extents of one tile, layout s) after hs, an MCU per codeBlocks call, and
// returns the coder's state. The bytes are appendScanBy's block-by-block loop's:
// the same DCT pairs and the same coder, only called less often.
func (e *Encoder) codeMCUs(bw *bitWriter, hs bitState, py, pcb, pcr *plane, s Subsampling) bitState {
	mw, mh := s.MCUSize()
	m := &e.mcu
	fl, fc := &e.fq[0], &e.fq[1]
	n, nlum := 4, 2
	if s == S420 {
		n, nlum = 6, 4
	}
	var dcY, dcCb, dcCr int64
	var touch byte
	for my := 0; my < py.h; my += mh {
		for mx := 0; mx < py.w; mx += mw {
			if mx&63 == 0 {
				touch += prefetchAhead(py, pcb, pcr, mx+128, my, mh)
			}
			cy := my
			if s == S420 {
				cy = my / 2
			}
			if mx+mw <= py.w && my+mh <= py.h && mx/2+8 <= pcb.w && cy+8 <= pcb.h {
				// Interior: every block in place, no edge copies (samplesAt).
				ys, cs := py.stride, pcb.stride
				y0 := py.pix[my*ys+mx:]
				m.nz[0], m.nz[1] = fdctQuantFast2(&m.vals[0], &m.vals[1], y0, ys, y0[8:], ys, fl)
				if s == S420 {
					y1 := y0[8*ys:]
					m.nz[2], m.nz[3] = fdctQuantFast2(&m.vals[2], &m.vals[3], y1, ys, y1[8:], ys, fl)
				}
				co := cy*cs + mx/2
				m.nz[nlum], m.nz[nlum+1] = fdctQuantFast2(&m.vals[nlum], &m.vals[nlum+1], pcb.pix[co:], cs, pcr.pix[co:], pcr.stride, fc)
			} else {
				e.dctPair(m, 0, py, mx, my, py, mx+8, my, fl)
				if s == S420 {
					e.dctPair(m, 2, py, mx, my+8, py, mx+8, my+8, fl)
				}
				e.dctPair(m, nlum, pcb, mx/2, cy, pcr, mx/2, cy, fc)
			}
			for i := range nlum {
				dc := int64(m.vals[i][0])
				m.diff[i], dcY = dc-dcY, dc
			}
			dc := int64(m.vals[nlum][0])
			m.diff[nlum], dcCb = dc-dcCb, dc
			dc = int64(m.vals[nlum+1][0])
			m.diff[nlum+1], dcCr = dc-dcCr, dc

			bw.pos = hs.pos
			bw.reserve(maxMCUBytes)
			hs.pos += codeBlocks(bw.buf[hs.pos:hs.pos+maxMCUBytes], &hs, m, n, nlum, encLum, encChrom)
		}
	}
	e.sink = touch
	return hs
}

// dctPair transforms blocks i and i+1 of m with the fast DCT and table fq, i at
// (xa, ya) of pa and i+1 at (xb, yb) of pb (fdctQuantFast2).
func (e *Encoder) dctPair(m *mcuCoefs, i int, pa *plane, xa, ya int, pb *plane, xb, yb int, fq *fastQuant) {
	srcA, strideA := samplesAt(&e.edge, pa, xa, ya)
	srcB, strideB := samplesAt(&e.edg2, pb, xb, yb)
	m.nz[i], m.nz[i+1] = fdctQuantFast2(&m.vals[i], &m.vals[i+1], srcA, strideA, srcB, strideB, fq)
}

// codeBlocksGeneric codes the first n blocks of m (code), the first nlum with
// the tables lum and the rest with chrom, into out from its start, which must
// have maxMCUBytes of room; it updates s's acc and free and returns the bytes
// written. It is the reference for codeBlocksAMD64.
func codeBlocksGeneric(out []byte, s *bitState, m *mcuCoefs, n, nlum int, lum, chrom *encTables) int {
	j := 0
	for i := range n {
		ht := lum
		if i >= nlum {
			ht = chrom
		}
		w := (*[blockWindow]byte)(out[j : j+blockWindow])
		j += codeBlockGeneric(w, s, (*[blockSize]int16)(&m.vals[i]), &coefOf, m.nz[i]&^1, int32(m.diff[i]), ht)
	}
	return j
}

// block transforms, quantises and entropy-codes the 8x8 block at (x, y) of p into
// buf and returns the coder's state and the block's quantised DC for the next
// block's prediction (ITU T.81 §F.1.2).
func (e *Encoder) block(buf []byte, hs bitState, p *plane, x, y int, qi int, ht *encTables, prevDC int32) (bitState, int32) {
	// The mask of non-zero AC coefficients lets the coder jump from one to the next.
	var nz uint64
	zz := &e.zz
	src, stride := samplesAt(&e.edge, p, x, y)
	if e.fast[qi] {
		nz = fdctQuantFast(zz, src, stride, &e.fq[qi])
	} else {
		nz = fdctQuant(zz, &e.blk, src, stride, &e.quant[qi])
	}
	dc := int32(zz[0])
	out := (*[blockWindow]byte)(buf[hs.pos : hs.pos+blockWindow])
	hs.pos += codeBlock(out, &hs, (*[blockSize]int16)(zz), &coefOf, nz&^1, dc-prevDC, ht)
	return hs, dc
}

// pair is block on two blocks with the same table qi and Huffman tables ht, A at
// (xa, ya) of pa and B at (xb, yb) of pb, coded in that order: the fast DCT
// transforms both in one call (fdctQuantFast2), which with AVX2 costs little more
// than one. prevA and prevB are their DC predictions, except that with chain
// (two blocks of one component, one after the other) B's is A's DC. It returns
// the coder's state and the two blocks' quantised DCs. The bytes are block's,
// twice: only the transform is paired.
func (e *Encoder) pair(buf []byte, hs bitState, pa *plane, xa, ya int, pb *plane, xb, yb int, qi int, ht *encTables, prevA, prevB int32, chain bool) (bitState, int32, int32) {
	if !e.fast[qi] {
		hs, dcA := e.block(buf, hs, pa, xa, ya, qi, ht, prevA)
		if chain {
			prevB = dcA
		}
		hs, dcB := e.block(buf, hs, pb, xb, yb, qi, ht, prevB)
		return hs, dcA, dcB
	}
	srcA, strideA := samplesAt(&e.edge, pa, xa, ya)
	srcB, strideB := samplesAt(&e.edg2, pb, xb, yb)
	nzA, nzB := fdctQuantFast2(&e.zz, &e.zz2, srcA, strideA, srcB, strideB, &e.fq[qi])
	dcA, dcB := int32(e.zz[0]), int32(e.zz2[0])
	if chain {
		prevB = dcA
	}
	out := (*[blockWindow]byte)(buf[hs.pos : hs.pos+blockWindow])
	hs.pos += codeBlock(out, &hs, (*[blockSize]int16)(&e.zz), &coefOf, nzA&^1, dcA-prevA, ht)
	out = (*[blockWindow]byte)(buf[hs.pos : hs.pos+blockWindow])
	hs.pos += codeBlock(out, &hs, (*[blockSize]int16)(&e.zz2), &coefOf, nzB&^1, dcB-prevB, ht)
	return hs, dcA, dcB
}

// samplesAt returns the 8x8 block at (x, y) of p as the DCT reads it, its samples
// and their row stride: in place when the block lies within p's extent, else
// copied to edge with p's last column and row repeated (loadEdgeTo).
func samplesAt(edge *[blockSize]byte, p *plane, x, y int) ([]byte, int) {
	if x+8 <= p.w && y+8 <= p.h {
		return p.pix[y*p.stride+x:], p.stride
	}
	loadEdgeTo(edge, p, x, y)
	return edge[:], 8
}

// bitState is the coder's accumulator while it codes a run of blocks, kept as
// libjpeg-turbo's jchuff.c keeps it: the pending bits are the low 64-free bits of
// acc (the bits above them are stale and get shifted out), so a code goes in with
// one shift and one OR. A code that does not fit fills acc to 64 bits, which go
// out as 8 bytes at once, byte by byte with stuffing only when one of them is 0xFF
// (one SWAR test per 8 bytes). Between runs of blocks the bitWriter holds the
// bits in its own form (see begin and end), which the re-tiler also writes.
type bitState struct {
	acc  uint64
	free int // bits of acc not pending, 0..64
	pos  int // write position in the bitWriter's buf
}

// begin returns w's pending bits as a bitState.
func (w *bitWriter) begin() bitState {
	s := bitState{free: 64 - int(w.n), pos: w.pos}
	if w.n > 0 {
		s.acc = w.acc >> (64 - w.n)
	}
	return s
}

// end writes the whole bytes of s's pending bits at s.pos (w.buf must have room
// for 16 bytes there) and keeps the rest, fewer than 8 bits, in w.
func (w *bitWriter) end(s bitState) {
	w.pos, w.acc, w.n = s.pos, 0, uint(64-s.free)
	if w.n > 0 {
		w.acc = s.acc << uint(s.free)
	}
	for w.n >= 8 {
		w.byte(byte(w.acc >> 56))
		w.acc <<= 8
		w.n -= 8
	}
}

// code appends the Huffman codes of one quantised block (ITU T.81 §F.1.2) to
// buf at s.pos, which must have blockWindow bytes of room: the DC difference diff,
// then each run of zeros and non-zero AC coefficient, then EOB unless the last
// coefficient is non-zero. vals[order[k]] is the coefficient of zigzag index k and
// nz the zigzag mask of the non-zero AC ones, through which the coder jumps from
// one to the next (bits.TrailingZeros64). Each code goes out with its value's bits
// in one step: size category codes plus value bits are at most 16+11 bits.
// codeBlock (kernels_*.go) runs it, or its assembly version.
func (s bitState) code(buf []byte, vals *[blockSize]int16, order *[blockSize]uint8, nz uint64, diff int32, ht *encTables) bitState {
	out := (*[blockWindow]byte)(buf[s.pos : s.pos+blockWindow])
	j := codeBlock(out, &s, vals, order, nz, diff, ht)
	s.pos += j
	return s
}

// codeBlockGeneric is code's work on the window out: it takes and updates s's
// acc and free and returns the bytes it wrote. It is the reference for the
// assembly versions (kernels_*.s).
func codeBlockGeneric(out *[blockWindow]byte, s *bitState, vals *[blockSize]int16, order *[blockSize]uint8, nz uint64, diff int32, ht *encTables) int {
	acc, free, j := s.acc, s.free, 0

	// DC difference: its size category's code, then the value bits (§F.1.2.1).
	// Every code below is put by hand: the compiler does not inline put.
	vb := valueBits[uint32(diff)&valueMask]
	hc := ht.dc[vb&15]
	l, b := int(hc>>huffCodeBits), uint64(uint32(hc&huffCodeMask)|uint32(vb>>4))
	if free -= l; free >= 0 {
		acc = acc<<(l&63) | b
	} else {
		acc, free, j = flush(out, acc, free, j, b, l)
	}

	last := 0
	for nz != 0 {
		k := bits.TrailingZeros64(nz)
		nz &= nz - 1
		run := k - last - 1
		last = k
		if run >= 16 {
			acc, free, j = putZRL(out, acc, free, j, run, ht)
			run &= 15
		}
		vb := valueBits[uint32(vals[order[k&63]&63])&valueMask]
		hc := ht.ac[(run<<4|int(vb&15))&255]
		l, b := int(hc>>huffCodeBits), uint64(uint32(hc&huffCodeMask)|uint32(vb>>4))
		if free -= l; free >= 0 {
			acc = acc<<(l&63) | b
			continue
		}
		// flush, by hand: a call here would make the compiler keep the loop's
		// state on the stack.
		full := acc<<((l+free)&63) | b>>(-free&63)
		binary.BigEndian.PutUint64(out[j&windowMask:], full)
		if hasFF64(full) {
			j = putBytes(out, j, full)
		} else {
			j += 8
		}
		acc, free = b, free+64
	}
	if last != blockSize-1 {
		hc := ht.ac[0x00] // EOB
		l, b := int(hc>>huffCodeBits), uint64(hc&huffCodeMask)
		if free -= l; free >= 0 {
			acc = acc<<(l&63) | b
		} else {
			acc, free, j = flush(out, acc, free, j, b, l)
		}
	}
	s.acc, s.free = acc, free
	return j
}

// putZRL puts the ZRL codes (sixteen zeros each) of a run of 16 or more zeros:
// rare, so out of line.
//
//go:noinline
func putZRL(out *[blockWindow]byte, acc uint64, free, j int, run int, ht *encTables) (uint64, int, int) {
	hc := ht.ac[0xf0]
	for ; run >= 16; run -= 16 {
		acc, free, j = put(out, acc, free, j, uint64(hc&huffCodeMask), int(hc>>huffCodeBits))
	}
	return acc, free, j
}

// put appends the l low bits of b (l <= 27) to the accumulator acc, which has free
// bits of room, writing it out at out[j:] when it fills (flush).
func put(out *[blockWindow]byte, acc uint64, free, j int, b uint64, l int) (uint64, int, int) {
	if free -= l; free >= 0 {
		return acc<<(l&63) | b, free, j
	}
	return flush(out, acc, free, j, b, l)
}

// flush is put's other half, once per 64 bits: the first l+free bits of b fill
// acc, whose 8 bytes go to out[j:], and the other -free stay pending.
func flush(out *[blockWindow]byte, acc uint64, free, j int, b uint64, l int) (uint64, int, int) {
	full := acc<<((l+free)&63) | b>>(-free&63)
	binary.BigEndian.PutUint64(out[j&windowMask:], full)
	if hasFF64(full) {
		j = putBytes(out, j, full)
	} else {
		j += 8
	}
	return b, free + 64, j
}

// maxBlockBytes bounds the bytes one block adds to a scan with any complete
// Huffman tables: a DC code (16 + 11 bits) and 63 AC codes (16 + 10 bits), every
// byte stuffed, plus the 8 bytes still pending.
const maxBlockBytes = (27+63*26+7)/8*2 + 8

// blockWindow is the room the coder takes at the write position for one block:
// each flush stores 8 bytes at an index below maxBlockBytes. Indices into it are
// masked with windowMask, which keeps them and the 8 bytes after them inside it
// without bounds checks; the mask never changes an index the coder reaches.
const (
	windowMask  = 1<<9 - 1
	blockWindow = windowMask + 1 + 8
)

// valueBits[v & valueMask] is, for -2047 <= v <= 2047, v's size category (ITU
// T.81 Table F.1) in the low 4 bits and above them the bits that code it
// (§F.1.2.1: v itself, or v-1 for negative v, in that many bits): one load
// instead of an absolute value, a bit length and a mask.
var valueBits = func() (t [valueMask + 1]uint16) {
	for i := range t {
		v := int32(i<<20) >> 20 // i as a 12-bit two's complement number
		m := v >> 31
		size := bits.Len32(uint32((v ^ m) - m))
		t[i] = uint16(int(v+m)&(1<<size-1)<<4 | size)
	}
	return t
}()

const (
	valueMask    = 1<<12 - 1
	huffCodeMask = 1<<huffCodeBits - 1
)

// touchAhead reads one byte of every row of the MCU row at Y column x (and the
// matching chroma) so that those cache lines are on their way by the time the DCT
// gets there: an MCU row has more rows than the hardware prefetchers track streams.
// Go has no prefetch instruction; a load whose result is kept does the job.
func (e *Encoder) touchAhead(py, pcb, pcr *plane, x, y, mh int) byte {
	var t byte
	if x < py.w {
		for j := y; j < min(y+mh, py.h); j++ {
			t += py.pix[j*py.stride+x]
		}
	}
	cx, cy, ch := x/2, y, mh
	if pcb.h < py.h { // 4:2:0: chroma rows are halved too
		cy, ch = y/2, mh/2
	}
	if cx < pcb.w {
		for j := cy; j < min(cy+ch, pcb.h); j++ {
			t += pcb.pix[j*pcb.stride+cx] + pcr.pix[j*pcr.stride+cx]
		}
	}
	return t
}

// prefetchAhead is touchAhead with prefetchRows: the cache lines of the MCU
// row at Y column x and the matching chroma.
func prefetchAhead(py, pcb, pcr *plane, x, y, mh int) byte {
	var t byte
	if x < py.w {
		t += prefetchRows(py.pix[y*py.stride+x:], py.stride, min(y+mh, py.h)-y)
	}
	cx, cy, ch := x/2, y, mh
	if pcb.h < py.h { // 4:2:0: chroma rows are halved too
		cy, ch = y/2, mh/2
	}
	if cx < pcb.w {
		n := min(cy+ch, pcb.h) - cy
		t += prefetchRows(pcb.pix[cy*pcb.stride+cx:], pcb.stride, n)
		t += prefetchRows(pcr.pix[cy*pcr.stride+cx:], pcr.stride, n)
	}
	return t
}

// loadEdge copies the block at (x, y) of p into e.edge, repeating p's last column
// and row where the block runs past them (what image/jpeg does).
func (e *Encoder) loadEdge(p *plane, x, y int) { loadEdgeTo(&e.edge, p, x, y) }

// loadEdgeTo is loadEdge into dst.
func loadEdgeTo(dst *[blockSize]byte, p *plane, x, y int) {
	for j := 0; j < 8; j++ {
		row := p.pix[min(y+j, p.h-1)*p.stride:]
		d := dst[j*8 : j*8+8]
		if x+8 <= p.w { // only the rows run past: whole rows (6% of a tile's encode)
			copy(d, row[x:x+8])
			continue
		}
		for i := range d {
			d[i] = row[min(x+i, p.w-1)]
		}
	}
}

// bitWriter accumulates Huffman codes and writes them 32 bits at a time, stuffing a
// zero byte after every 0xFF (ITU T.81 §B.1.1.5).
type bitWriter struct {
	buf []byte // the whole capacity; bytes before pos are written
	pos int
	acc uint64 // pending bits are the top n bits, the rest zero
	n   uint
}

// reserve makes room for at least k more bytes.
func (w *bitWriter) reserve(k int) {
	if w.pos+k <= len(w.buf) {
		return
	}
	nb := make([]byte, max(2*len(w.buf), w.pos+k, 4096))
	copy(nb, w.buf[:w.pos])
	w.buf = nb
}

// pad flushes the pending bits, filling the last byte with 1-bits (§F.1.2.3).
func (w *bitWriter) pad() {
	for w.n >= 8 {
		w.byte(byte(w.acc >> 56))
		w.acc <<= 8
		w.n -= 8
	}
	if w.n > 0 {
		w.byte(byte(w.acc>>56) | byte(0xff>>w.n))
		w.acc, w.n = 0, 0
	}
}

func (w *bitWriter) byte(b byte) {
	w.buf[w.pos] = b
	w.pos++
	if b == 0xff {
		w.buf[w.pos] = 0
		w.pos++
	}
}

// hasFF reports whether any byte of w is 0xFF: the classic zero-byte test on ^w.
func hasFF(w uint32) bool {
	x := ^w
	return (x-0x01010101)&^x&0x80808080 != 0
}

// hasFF64 is hasFF for eight bytes.
func hasFF64(w uint64) bool {
	x := ^w
	return (x-0x0101010101010101)&^x&0x8080808080808080 != 0
}

// putStuffed writes w's four bytes at buf[pos:] with a 0x00 after each 0xFF. It
// is the rare path, kept out of line so the coder's loop stays small.
//
//go:noinline
func putStuffed(buf []byte, pos int, w uint32) int {
	for sh := 24; sh >= 0; sh -= 8 {
		b := byte(w >> sh)
		buf[pos] = b
		pos++
		if b == 0xff {
			buf[pos] = 0
			pos++
		}
	}
	return pos
}

// putBytes writes the 8 bytes of full at out[j:] with a 0x00 after each 0xFF
// (§B.1.1.5) and returns the index after them: flush's rare path.
//
//go:noinline
func putBytes(out *[blockWindow]byte, j int, full uint64) int {
	for sh := 56; sh >= 0; sh -= 8 {
		b := byte(full >> sh)
		out[j&windowMask] = b
		j++
		if b == 0xff {
			out[j&windowMask] = 0
			j++
		}
	}
	return j
}
