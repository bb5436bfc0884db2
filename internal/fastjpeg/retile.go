package fastjpeg

import (
	"encoding/binary"
	"fmt"
	"image"
	"math/bits"
)

// maxTileMCUBytes bounds the bytes one MCU adds to a tile scan with any complete
// Huffman tables: six blocks of a DC code (16 + 11 bits) and 63 AC codes (16 +
// 10 bits), every byte stuffed, plus the coder's 4-byte writes.
const maxTileMCUBytes = 6*(27+63*26)/8*2 + 16

// checkTile validates a tile rectangle against f: whole MCUs from the top-left
// corner, ending on the MCU grid or at the frame's edge.
func (f *CoefFrame) checkTile(r image.Rectangle) error {
	mw, mh := f.sub.MCUSize()
	if r.Empty() || !r.In(f.Bounds()) || r.Min.X%mw != 0 || r.Min.Y%mh != 0 ||
		(r.Max.X%mw != 0 && r.Max.X != f.w) || (r.Max.Y%mh != 0 && r.Max.Y != f.h) {
		return fmt.Errorf("%w: tile %v is not whole %dx%d MCUs of %v", ErrArgs, r, mw, mh, f.Bounds())
	}
	return nil
}

// checkDecoded is checkTile for the readers of the coefficients, which Decode
// stores and Transcode does not.
func (f *CoefFrame) checkDecoded(r image.Rectangle) error {
	if err := f.checkTile(r); err != nil {
		return err
	}
	if _, mh := f.sub.MCUSize(); (r.Max.Y+mh-1)/mh > f.decodedTo {
		return fmt.Errorf("%w: tile %v of a frame whose coefficients are not decoded (Decode, not Transcode)", ErrArgs, r)
	}
	return nil
}

// AppendTile appends the tile payload of rectangle r of f (docs/PROTOCOL.md §4:
// one interleaved scan of r's MCUs, DC predictions from 0, byte-stuffed, padded
// with 1-bits, no restart markers, no header) coded with ts's Huffman tables, to
// dst. The coefficients are f's, untouched: decoded with f's quantisation tables
// (Quant) the tile is exactly that region of the source JPEG. r must be whole
// MCUs on f's grid (the right and bottom edge tiles end at the frame's edge, with
// the partial MCUs the JPEG has) and ts must be able to encode (CanEncode).
func (f *CoefFrame) AppendTile(dst []byte, r image.Rectangle, ts *TableSet) ([]byte, error) {
	if err := f.checkDecoded(r); err != nil {
		return dst, err
	}
	if !ts.complete {
		return dst, fmt.Errorf("%w: Huffman tables cannot code every baseline symbol", ErrArgs)
	}
	mw, mh := f.sub.MCUSize()
	x0, y0 := r.Min.X/mw, r.Min.Y/mh
	x1, y1 := (r.Max.X+mw-1)/mw, (r.Max.Y+mh-1)/mh
	nY := f.bpm - 2
	lum, chrom := ts.enc[0], ts.enc[1]

	bw := bitWriter{buf: dst[:cap(dst)], pos: len(dst)}
	var predY, predCb, predCr int32
	for my := y0; my < y1; my++ {
		for mx := x0; mx < x1; mx++ {
			bw.reserve(maxTileMCUBytes)
			b := (my*f.stride + mx) * f.bpm
			for i := 0; i < nY; i++ {
				predY = bw.codeZZ(f.block64(b+i), f.nz[b+i], predY, lum)
			}
			predCb = bw.codeZZ(f.block64(b+nY), f.nz[b+nY], predCb, chrom)
			predCr = bw.codeZZ(f.block64(b+nY+1), f.nz[b+nY+1], predCr, chrom)
		}
	}
	bw.reserve(16)
	bw.pad()
	return bw.buf[:bw.pos], nil
}

// block64 is block b's coefficients.
func (f *CoefFrame) block64(b int) *[blockSize]int16 {
	return (*[blockSize]int16)(f.coef[b*blockSize : (b+1)*blockSize])
}

// codeZZ appends one block's Huffman codes (§F.1.2) from its zigzag-ordered
// coefficients and the mask of its non-zero AC ones, as code does for the
// encoder's own blocks, and returns its DC for the next prediction.
func (w *bitWriter) codeZZ(zz *[blockSize]int16, nz uint64, prevDC int32, ht *encTables) int32 {
	acc, n, pos, buf := w.acc, w.n, w.pos, w.buf
	dc := int32(zz[0])
	diff := dc - prevDC
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
				pos = putStuffed(buf, pos, uint32(acc>>32))
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
	return dc
}
