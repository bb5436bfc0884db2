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

// maxMCUBytes bounds the bytes one MCU can add to a scan: six blocks of at most 64
// codes of at most 26 bits, every byte stuffed. The writer makes room for it once
// per MCU so the inner loops never grow the buffer.
const maxMCUBytes = 6 * 64 * 26 / 8 * 2

// Encoder writes baseline JPEG scans and files. It keeps its tables and scratch
// buffers between calls, so the steady state allocates nothing beyond growing dst;
// it is not safe for concurrent use (use one per goroutine).
type Encoder struct {
	quality int // quality the tables below hold; 0 before the first call
	quant   [2]encQuant

	blk  [blockSize]int32 // the DCT's row pass
	zz   coefs            // quantised coefficients
	edge [blockSize]byte  // an edge block with its last row and column replicated

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
	e.quant[0], e.quant[1] = newEncQuant(&t[0]), newEncQuant(&t[1])
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
	var dcY, dcCb, dcCr int32
	var touch byte
	for my := 0; my < h; my += mh {
		for mx := 0; mx < w; mx += mw {
			if mx&63 == 0 {
				touch += e.touchAhead(&py, &pcb, &pcr, mx+128, my, mh)
			}
			bw.reserve(maxMCUBytes)
			dcY = e.block(&bw, &py, mx, my, 0, encLum, dcY)
			dcY = e.block(&bw, &py, mx+8, my, 0, encLum, dcY)
			cy := my
			if s == S420 {
				dcY = e.block(&bw, &py, mx, my+8, 0, encLum, dcY)
				dcY = e.block(&bw, &py, mx+8, my+8, 0, encLum, dcY)
				cy = my / 2
			}
			dcCb = e.block(&bw, &pcb, mx/2, cy, 1, encChrom, dcCb)
			dcCr = e.block(&bw, &pcr, mx/2, cy, 1, encChrom, dcCr)
		}
	}
	e.sink = touch
	bw.reserve(16)
	bw.pad()
	return bw.buf[:bw.pos]
}

// block transforms, quantises and entropy-codes the 8x8 block at (x, y) of p and
// returns its quantised DC for the next block's prediction (ITU T.81 §F.1.2).
func (e *Encoder) block(bw *bitWriter, p *plane, x, y int, qi int, ht *encTables, prevDC int32) int32 {
	// The mask of non-zero AC coefficients lets the coder jump from one to the next.
	var nz uint64
	zz := &e.zz
	if x+8 <= p.w && y+8 <= p.h {
		nz = fdctQuant(zz, &e.blk, p.pix[y*p.stride+x:], p.stride, &e.quant[qi])
	} else {
		e.loadEdge(p, x, y)
		nz = fdctQuant(zz, &e.blk, e.edge[:], 8, &e.quant[qi])
	}
	dc := zz.at(0)

	bw.code(zz, nz&^1, dc-prevDC, ht)
	return dc
}

// code appends the Huffman codes of one quantised block (ITU T.81 §F.1.2): the DC
// difference, then each run of zeros and non-zero AC coefficient found through the
// mask nz, then EOB unless the last coefficient is non-zero. Each code and the bits
// of its value go out in one step: size category codes plus value bits are at most
// 16+11 bits. Shift counts are masked so the compiler drops its >= 64 checks.
func (w *bitWriter) code(zz *coefs, nz uint64, diff int32, ht *encTables) {
	acc, n, pos, buf := w.acc, w.n, w.pos, w.buf

	// DC difference: its size category's code, then the value's low bits
	// (negative values as value-1, §F.1.2.1).
	m := diff >> 31
	mag := magnitude[uint32((diff^m)-m)&2047]
	hc := ht.dc[mag&15]
	n += uint(hc >> huffCodeBits)
	acc |= uint64(uint32(hc&(1<<huffCodeBits-1))|uint32(diff+m)&uint32(mag>>4)) << ((64 - n) & 63)
	if n >= 32 {
		if v := uint32(acc >> 32); !hasFF(v) {
			binary.BigEndian.PutUint32(buf[pos:], v)
			pos += 4
		} else {
			pos = putStuffed(buf, pos, v)
		}
		acc <<= 32
		n -= 32
	}

	last := 0
	for nz != 0 {
		k := bits.TrailingZeros64(nz)
		nz &= nz - 1
		run := k - last - 1
		last = k
		for run >= 16 {
			hc := ht.ac[0xf0] // ZRL: sixteen zeros
			n += uint(hc >> huffCodeBits)
			acc |= uint64(hc&(1<<huffCodeBits-1)) << ((64 - n) & 63)
			if n >= 32 {
				pos = putStuffed(buf, pos, uint32(acc>>32))
				acc <<= 32
				n -= 32
			}
			run -= 16
		}
		v := zz.at(coefOf[k&63])
		m := v >> 31
		mag := magnitude[uint32((v^m)-m)&2047]
		hc := ht.ac[(run<<4|int(mag&15))&255]
		n += uint(hc >> huffCodeBits)
		acc |= uint64(uint32(hc&(1<<huffCodeBits-1))|uint32(v+m)&uint32(mag>>4)) << ((64 - n) & 63)
		if n >= 32 {
			if v := uint32(acc >> 32); !hasFF(v) {
				binary.BigEndian.PutUint32(buf[pos:], v)
				pos += 4
			} else {
				pos = putStuffed(buf, pos, v)
			}
			acc <<= 32
			n -= 32
		}
	}
	if last != blockSize-1 {
		hc := ht.ac[0x00] // EOB
		n += uint(hc >> huffCodeBits)
		acc |= uint64(hc&(1<<huffCodeBits-1)) << ((64 - n) & 63)
		if n >= 32 {
			pos = putStuffed(buf, pos, uint32(acc>>32))
			acc <<= 32
			n -= 32
		}
	}
	w.acc, w.n, w.pos = acc, n, pos
}

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

// loadEdge copies the block at (x, y) of p into e.edge, repeating p's last column
// and row where the block runs past them (what image/jpeg does).
func (e *Encoder) loadEdge(p *plane, x, y int) {
	for j := 0; j < 8; j++ {
		row := p.pix[min(y+j, p.h-1)*p.stride:]
		for i := 0; i < 8; i++ {
			e.edge[j*8+i] = row[min(x+i, p.w-1)]
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
