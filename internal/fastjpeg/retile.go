package fastjpeg

import (
	"fmt"
	"image"
)

// maxTileMCUBytes is maxMCUBytes for a tile coded with any complete Huffman
// tables: maxBlockBytes already allows for the longest codes.
const maxTileMCUBytes = maxMCUBytes

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
	hs := bw.begin()
	var predY, predCb, predCr int32
	code := func(b int, pred int32, ht *encTables) int32 {
		zz := f.block64(b)
		dc := int32(zz[0])
		hs = hs.code(bw.buf, zz, &zigzagOrder, f.nz[b]&^1, dc-pred, ht)
		return dc
	}
	for my := y0; my < y1; my++ {
		for mx := x0; mx < x1; mx++ {
			bw.pos = hs.pos
			bw.reserve(maxTileMCUBytes)
			b := (my*f.stride + mx) * f.bpm
			for i := 0; i < nY; i++ {
				predY = code(b+i, predY, lum)
			}
			predCb = code(b+nY, predCb, chrom)
			predCr = code(b+nY+1, predCr, chrom)
		}
	}
	bw.pos = hs.pos
	bw.reserve(16)
	bw.end(hs)
	bw.reserve(16)
	bw.pad()
	return bw.buf[:bw.pos], nil
}

// block64 is block b's coefficients.
func (f *CoefFrame) block64(b int) *[blockSize]int16 {
	return (*[blockSize]int16)(f.coef[b*blockSize : (b+1)*blockSize])
}

// zigzagOrder is the identity: the order code takes for coefficients that are
// already in zigzag order.
var zigzagOrder = func() (t [blockSize]uint8) {
	for k := range t {
		t[k] = uint8(k)
	}
	return t
}()
