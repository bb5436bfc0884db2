package fastjpeg

import (
	"encoding/binary"
	"image"
	"math/bits"
)

// The Huffman coder as it was before it flushed whole bytes (commit c0a4033),
// kept as the reference the new one must match byte for byte: a 64-bit
// accumulator with the pending bits at the top, written 32 bits at a time.

// refWriter is the former bitWriter.
type refWriter struct {
	buf []byte
	pos int
	acc uint64
	n   uint
}

func (w *refWriter) reserve(k int) {
	if w.pos+k <= len(w.buf) {
		return
	}
	nb := make([]byte, max(2*len(w.buf), w.pos+k, 4096))
	copy(nb, w.buf[:w.pos])
	w.buf = nb
}

func (w *refWriter) pad() {
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

func (w *refWriter) byte(b byte) {
	w.buf[w.pos] = b
	w.pos++
	if b == 0xff {
		w.buf[w.pos] = 0
		w.pos++
	}
}

func refHasFF(w uint32) bool {
	x := ^w
	return (x-0x01010101)&^x&0x80808080 != 0
}

func refPutStuffed(buf []byte, pos int, w uint32) int {
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

// code is encode.go's former coder: it appends the Huffman codes of one
// quantised block (ITU T.81 §F.1.2): the DC difference, then each run of zeros
// and non-zero AC coefficient found through the mask nz, then EOB unless the last
// coefficient is non-zero.
func (w *refWriter) code(zz *coefs, nz uint64, diff int32, ht *encTables) {
	acc, n, pos, buf := w.acc, w.n, w.pos, w.buf

	// DC difference: its size category's code, then the value's low bits
	// (negative values as value-1, §F.1.2.1).
	m := diff >> 31
	mag := magnitude[uint32((diff^m)-m)&2047]
	hc := ht.dc[mag&15]
	n += uint(hc >> huffCodeBits)
	acc |= uint64(uint32(hc&(1<<huffCodeBits-1))|uint32(diff+m)&uint32(mag>>4)) << ((64 - n) & 63)
	if n >= 32 {
		if v := uint32(acc >> 32); !refHasFF(v) {
			binary.BigEndian.PutUint32(buf[pos:], v)
			pos += 4
		} else {
			pos = refPutStuffed(buf, pos, v)
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
				pos = refPutStuffed(buf, pos, uint32(acc>>32))
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
			if v := uint32(acc >> 32); !refHasFF(v) {
				binary.BigEndian.PutUint32(buf[pos:], v)
				pos += 4
			} else {
				pos = refPutStuffed(buf, pos, v)
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
			pos = refPutStuffed(buf, pos, uint32(acc>>32))
			acc <<= 32
			n -= 32
		}
	}
	w.acc, w.n, w.pos = acc, n, pos
}

// codeZZ is retile.go's former coder: code for a block in zigzag order, with
// the DC prediction in and out.
func (w *refWriter) codeZZ(zz *[blockSize]int16, nz uint64, prevDC int32, ht *encTables) int32 {
	acc, n, pos, buf := w.acc, w.n, w.pos, w.buf
	dc := int32(zz[0])
	diff := dc - prevDC
	m := diff >> 31
	mag := magnitude[uint32((diff^m)-m)&2047]
	hc := ht.dc[mag&15]
	n += uint(hc >> huffCodeBits)
	acc |= uint64(uint32(hc&(1<<huffCodeBits-1))|uint32(diff+m)&uint32(mag>>4)) << ((64 - n) & 63)
	if n >= 32 {
		if v := uint32(acc >> 32); !refHasFF(v) {
			binary.BigEndian.PutUint32(buf[pos:], v)
			pos += 4
		} else {
			pos = refPutStuffed(buf, pos, v)
		}
		acc <<= 32
		n -= 32
	}

	nz &^= 1
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
				pos = refPutStuffed(buf, pos, uint32(acc>>32))
				acc <<= 32
				n -= 32
			}
			run -= 16
		}
		v := int32(zz[k&63])
		m := v >> 31
		mag := magnitude[uint32((v^m)-m)&2047]
		hc := ht.ac[(run<<4|int(mag&15))&255]
		n += uint(hc >> huffCodeBits)
		acc |= uint64(uint32(hc&(1<<huffCodeBits-1))|uint32(v+m)&uint32(mag>>4)) << ((64 - n) & 63)
		if n >= 32 {
			if v := uint32(acc >> 32); !refHasFF(v) {
				binary.BigEndian.PutUint32(buf[pos:], v)
				pos += 4
			} else {
				pos = refPutStuffed(buf, pos, v)
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
			pos = refPutStuffed(buf, pos, uint32(acc>>32))
			acc <<= 32
			n -= 32
		}
	}
	w.acc, w.n, w.pos = acc, n, pos
	return dc
}

// appendScan is Encoder.appendScan as it was, with the generic DCT and the
// former coder: the whole encode the new one must match byte for byte. r must
// be a valid rectangle of img (AppendScan's checks).
func (w *refWriter) appendScan(e *Encoder, img *image.YCbCr, r image.Rectangle, s Subsampling, quality int) []byte {
	e.setQuality(quality)
	wd, h := r.Dx(), r.Dy()
	cw := (r.Max.X+1)/2 - r.Min.X/2
	ch := h
	if s == S420 {
		ch = (r.Max.Y+1)/2 - r.Min.Y/2
	}
	yo, co := img.YOffset(r.Min.X, r.Min.Y), img.COffset(r.Min.X, r.Min.Y)
	py := plane{img.Y[yo:], img.YStride, wd, h}
	pcb := plane{img.Cb[co:], img.CStride, cw, ch}
	pcr := plane{img.Cr[co:], img.CStride, cw, ch}
	mw, mh := s.MCUSize()
	block := func(p *plane, x, y, qi int, ht *encTables, prev int32) int32 {
		var zz coefs
		var nz uint64
		src, stride := e.edge[:], 8
		if x+8 <= p.w && y+8 <= p.h {
			src, stride = p.pix[y*p.stride+x:], p.stride
		} else {
			e.loadEdge(p, x, y)
		}
		// The same DCT as the encoder's (fastQuantOK), in its generic form.
		if e.fast[qi] {
			nz = fdctQuantFastGeneric(&zz, src, stride, &e.fq[qi])
		} else {
			nz = fdctQuantGeneric(&zz, &e.blk, src, stride, &e.quant[qi])
		}
		dc := zz.at(0)
		w.code(&zz, nz&^1, dc-prev, ht)
		return dc
	}
	var dcY, dcCb, dcCr int32
	for my := 0; my < h; my += mh {
		for mx := 0; mx < wd; mx += mw {
			w.reserve(maxMCUBytes)
			dcY = block(&py, mx, my, 0, encLum, dcY)
			dcY = block(&py, mx+8, my, 0, encLum, dcY)
			cy := my
			if s == S420 {
				dcY = block(&py, mx, my+8, 0, encLum, dcY)
				dcY = block(&py, mx+8, my+8, 0, encLum, dcY)
				cy = my / 2
			}
			dcCb = block(&pcb, mx/2, cy, 1, encChrom, dcCb)
			dcCr = block(&pcr, mx/2, cy, 1, encChrom, dcCr)
		}
	}
	w.reserve(16)
	w.pad()
	return w.buf[:w.pos]
}
