package fastjpeg

import (
	"fmt"
	"image"
)

// Baseline limits on quantised coefficients (ITU T.81 §F.1.2.1, Table F.1 and
// F.2): a DC of 8-bit samples lies in -1024..1016 (so a difference of two fits
// 11 bits) and an AC coefficient in -1023..1023 (10 bits). A scan that decodes
// to more is corrupt; the limits keep the re-encoder's tables in range.
const (
	maxDC     = 1023
	maxACSize = 10
)

// CoefFrame is a camera's baseline JPEG entropy-decoded to its quantised DCT
// coefficients, without IDCT or colour conversion, laid out MCU by MCU on the
// HRVS grid (16x16 for 4:2:0, 16x8 for 4:2:2) so that AppendTile can code any
// tile of whole MCUs as its own scan. A grayscale JPEG becomes 4:2:0 with
// chroma blocks of zero (Cb = Cr = 128 once decoded).
//
// A CoefFrame keeps its buffers and Huffman decoding tables between frames, so
// decoding a stream's frames into one allocates only when the frame grows. It
// is not safe for concurrent use while Decode or Transcode runs; once they have
// returned, AppendTile, AppendSummary and CountTile only read it and may run
// concurrently, for example one goroutine per band of tiles.
type CoefFrame struct {
	w, h      int
	sub       Subsampling
	gray      bool
	restart   int
	quant     [3]QuantTable
	mcusX     int     // MCUs of the HRVS grid across the frame
	mcusY     int     // and down
	stride    int     // MCUs per stored row (the source's MCUs may cover more)
	rows      int     // MCU rows stored
	bpm       int     // blocks per MCU: 6 (4:2:0) or 4 (4:2:2)
	place     [10]int // source MCU's blocks: offset of each in coef, in blocks
	nPlace    int
	coef      []int16  // per MCU, per block, 64 coefficients in zigzag order
	nz        []uint64 // per block, bit k set when zigzag coefficient k > 0 is non-zero
	decodedTo int      // MCU rows decoded into coef
	low       []int16  // Transcode's summary: per block, zigzag coefficients 0..2
	summaryTo int      // MCU rows of low filled by Transcode
	writers   []tileWriter
	trans     [3]*transTable // Transcode's combined AC tables, per component
	transDec  [3]*decTable   // and what they were built from
	transEnc  [3]*encTables
	held      [][]uint64 // transcodeStacked's lower MCUs, per tile column

	hd  jpegHeader
	dec [8]*decTable // compiled hd.huff, kept while the frame's tables repeat
	spc [8]HuffTable // the specs dec was compiled from
	br  bitReader
}

// Size is the frame's size in pixels.
func (f *CoefFrame) Size() (w, h int) { return f.w, f.h }

// Subsampling is the layout of the frame's MCUs (4:2:0 for grayscale sources).
func (f *CoefFrame) Subsampling() Subsampling { return f.sub }

// Gray reports whether the source had one component (the chroma is zero).
func (f *CoefFrame) Gray() bool { return f.gray }

// Restart is the source's restart interval in MCUs (DRI), 0 for none.
func (f *CoefFrame) Restart() int { return f.restart }

// Quant returns the quantisation tables of Y, Cb and Cr the coefficients are in
// (the camera's, or Requantize's); for a grayscale source all three are Y's.
func (f *CoefFrame) Quant() [3]QuantTable { return f.quant }

// Bounds is the frame's rectangle, at the origin.
func (f *CoefFrame) Bounds() image.Rectangle { return image.Rect(0, 0, f.w, f.h) }

// Decode parses a whole baseline JPEG (ITU T.81: SOI, APPn/COM skipped, DQT of 8
// or 16 bits, SOF0/SOF1, DHT or none (Annex K.3 tables then, the AVI1/MJPEG
// convention), DRI, one SOS of Y, Cb, Cr or of one grayscale component, entropy
// data with RSTn markers, EOI or nothing once the data is complete) and decodes
// its entropy-coded data into f. A JPEG the coefficient path cannot take is an
// error wrapping ErrUnsupported (decode it with image/jpeg instead); a malformed
// one wraps ErrCorrupt or ErrShort. Allocation is bounded by the MCUs the data
// really codes, not by the size the header claims.
func (f *CoefFrame) Decode(data []byte) error {
	if err := f.prepare(data); err != nil {
		return err
	}
	var err error
	if f.gray {
		err = f.decodeGray()
	} else {
		err = f.decodeInterleaved()
	}
	if err != nil {
		return fmt.Errorf("decoding %dx%d %v scan: %w", f.w, f.h, f.sub, err)
	}
	return nil
}

// prepare parses data's header and sets f up to decode its scan.
func (f *CoefFrame) prepare(data []byte) error {
	f.decodedTo, f.summaryTo = 0, 0
	hd := &f.hd
	if err := parseHeader(hd, data); err != nil {
		return err
	}
	f.w, f.h, f.restart = hd.w, hd.h, hd.restart
	f.gray = hd.ncomp == 1
	f.sub = S420
	if !f.gray && hd.comp[0].v == hd.comp[1].v {
		f.sub = S422
	}
	mw, mh := f.sub.MCUSize()
	f.mcusX, f.mcusY = (f.w+mw-1)/mw, (f.h+mh-1)/mh
	f.bpm = 6
	if f.sub == S422 {
		f.bpm = 4
	}
	f.stride, f.rows = f.mcusX, f.mcusY
	if !f.gray {
		f.layout()
	}
	for c := range f.quant {
		f.quant[c] = hd.quant[hd.comp[min(c, hd.ncomp-1)].tq]
	}
	for i := 0; i < hd.ncomp; i++ {
		c := &hd.comp[i]
		for _, k := range [2]int{int(c.td), 4 + int(c.ta)} {
			f.compile(k)
		}
	}
	f.br.reset(hd.scan)
	return nil
}

// layout places the blocks of one source MCU (§A.2.3: each component's blocks
// left to right, top to bottom) on the HRVS grid, where a source MCU covers
// Cb's h x v HRVS MCUs: Y block (x, y) goes to HRVS MCU (x/2, y/yRows), chroma
// block (x, y) to MCU (x, y).
func (f *CoefFrame) layout() {
	y, c := f.hd.comp[0], f.hd.comp[1]
	ch, cv := int(c.h), int(c.v)
	srcX, srcY := (f.w+16*ch-1)/(16*ch), (f.h+8*int(y.v)-1)/(8*int(y.v))
	f.stride, f.rows = srcX*ch, srcY*cv
	yRows := int(y.v) / cv
	nY := f.bpm - 2
	at := func(mx, my, slot int) int { return (my*f.stride+mx)*f.bpm + slot }
	f.nPlace = 0
	for by := 0; by < int(y.v); by++ {
		for bx := 0; bx < int(y.h); bx++ {
			f.place[f.nPlace] = at(bx/2, by/yRows, (by%yRows)*2+bx%2)
			f.nPlace++
		}
	}
	for comp := 0; comp < 2; comp++ {
		for by := 0; by < cv; by++ {
			for bx := 0; bx < ch; bx++ {
				f.place[f.nPlace] = at(bx, by, nY+comp)
				f.nPlace++
			}
		}
	}
}

// compile builds the decoding table for hd.huff[k] unless the previous frame's
// table was the same.
func (f *CoefFrame) compile(k int) {
	s := f.hd.huff[k]
	if f.dec[k] != nil && f.spc[k].Count == s.count && string(f.spc[k].Symbol) == string(s.value) {
		return
	}
	f.dec[k] = newDecTable(s)
	f.spc[k] = HuffTable{Count: s.count, Symbol: append(f.spc[k].Symbol[:0], s.value...)}
}

// growRows makes room for MCU rows up to row (exclusive), doubling so a
// stream's frames settle into one buffer, and never past the frame's size.
func (f *CoefFrame) growRows(row int) {
	blocks := row * f.stride * f.bpm
	if blocks <= len(f.nz) {
		return
	}
	if blocks <= cap(f.nz) {
		f.nz = f.nz[:blocks]
		f.coef = f.coef[:blocks*blockSize]
		return
	}
	n := min(max(blocks, 2*cap(f.nz)), f.stride*f.rows*f.bpm)
	nz := make([]uint64, blocks, n)
	coef := make([]int16, blocks*blockSize, n*blockSize)
	copy(nz, f.nz)
	copy(coef, f.coef)
	f.nz, f.coef = nz, coef
}

// decodeInterleaved decodes one interleaved scan of Y, Cb and Cr (§A.2.3).
func (f *CoefFrame) decodeInterleaved() error {
	hd := &f.hd
	y, cb, cr := &hd.comp[0], &hd.comp[1], &hd.comp[2]
	nY, nC := int(y.h)*int(y.v), int(cb.h)*int(cb.v)
	var dcT, acT [10]*decTable
	for i := 0; i < f.nPlace; i++ {
		c := y
		switch {
		case i >= nY+nC:
			c = cr
		case i >= nY:
			c = cb
		}
		dcT[i], acT[i] = f.dec[c.td], f.dec[4+c.ta]
	}
	srcX, srcY := f.stride/int(cb.h), f.rows/int(cb.v)
	br := &f.br
	var pred [3]int32
	mcu, rst := 0, 0
	for sy := 0; sy < srcY; sy++ {
		f.growRows((sy + 1) * int(cb.v))
		for sx := 0; sx < srcX; sx++ {
			if f.restart > 0 && mcu > 0 && mcu%f.restart == 0 {
				if err := br.restart(rst); err != nil {
					return fmt.Errorf("MCU %d: %w", mcu, err)
				}
				rst++
				pred = [3]int32{}
			}
			base := (sy*int(cb.v)*f.stride + sx*int(cb.h)) * f.bpm
			var err error
			for i := 0; i < f.nPlace; i++ {
				c := 0
				if i >= nY {
					c = 1 + (i-nY)/nC
				}
				if pred[c], err = f.block(base+f.place[i], dcT[i], acT[i], pred[c]); err != nil {
					return fmt.Errorf("MCU %d: %w", mcu, err)
				}
			}
			if br.short() {
				return fmt.Errorf("%w: data ends inside MCU %d", ErrShort, mcu)
			}
			mcu++
		}
		f.decodedTo = min((sy+1)*int(cb.v), f.mcusY)
	}
	return nil
}

// decodeGray decodes a one-component scan, whose MCU is one block in raster
// order (§A.2.2), into the Y blocks of a 4:2:0 layout; the chroma blocks and the
// Y blocks past the source's block grid stay zero.
func (f *CoefFrame) decodeGray() error {
	c := &f.hd.comp[0]
	dcT, acT := f.dec[c.td], f.dec[4+c.ta]
	bw, bh := (f.w+7)/8, (f.h+7)/8
	br := &f.br
	var pred int32
	n, rst := 0, 0
	for by := 0; by < bh; by++ {
		if by&1 == 0 {
			row := by / 2
			f.growRows(row + 1)
			clear(f.coef[row*f.stride*f.bpm*blockSize:])
			clear(f.nz[row*f.stride*f.bpm:])
		}
		for bx := 0; bx < bw; bx++ {
			if f.restart > 0 && n > 0 && n%f.restart == 0 {
				if err := br.restart(rst); err != nil {
					return fmt.Errorf("block %d: %w", n, err)
				}
				rst++
				pred = 0
			}
			b := ((by/2)*f.stride+bx/2)*f.bpm + (by&1)*2 + bx&1
			var err error
			if pred, err = f.block(b, dcT, acT, pred); err != nil {
				return fmt.Errorf("block %d: %w", n, err)
			}
			if br.short() {
				return fmt.Errorf("%w: data ends inside block %d", ErrShort, n)
			}
			n++
		}
		if by&1 == 1 || by == bh-1 {
			f.decodedTo = by/2 + 1
		}
	}
	return nil
}

// block decodes one block's quantised coefficients (§F.2.2) into block b of f,
// returning its DC for the next prediction.
func (f *CoefFrame) block(b int, dcT, acT *decTable, prevDC int32) (int32, error) {
	br := &f.br
	zz := (*[blockSize]int16)(f.coef[b*blockSize : (b+1)*blockSize])
	*zz = [blockSize]int16{}
	var nz uint64

	seg, pos, acc, n := br.seg, br.pos, br.acc, br.n
	if n < 32 {
		acc, n, pos = refill(seg, pos, acc, n)
	}

	var sym uint8
	if e := dcT.lookup[acc>>(64-lookupBits)]; e != 0 {
		l := uint(e>>8) & 63
		acc <<= l
		n -= l
		sym = uint8(e)
	} else {
		var l uint
		if sym, l = dcT.slow(acc); l == 0 {
			return 0, fmt.Errorf("%w: invalid DC code", ErrCorrupt)
		}
		acc <<= l
		n -= l
	}
	if sym > 11 {
		return 0, fmt.Errorf("%w: DC size %d", ErrCorrupt, sym)
	}
	dc := prevDC
	if sym != 0 {
		s := uint(sym) & 15
		dc += extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
	}
	if dc < -maxDC-1 || dc > maxDC {
		return 0, fmt.Errorf("%w: DC %d out of range", ErrCorrupt, dc)
	}
	zz[0] = int16(dc)

	for k := 1; k < blockSize; k++ {
		if n < 32 {
			acc, n, pos = refill(seg, pos, acc, n)
		}
		if e := acT.fast[acc>>(64-fastBits)]; e != 0 {
			k += int(e>>8) & 15
			l := uint(e) & 31
			acc <<= l
			n -= l
			if k >= blockSize {
				return 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
			}
			zz[k&63] = int16(e >> 16)
			nz |= 1 << (k & 63)
			continue
		}
		var rs uint8
		if e := acT.lookup[acc>>(64-lookupBits)]; e != 0 {
			l := uint(e>>8) & 63
			acc <<= l
			n -= l
			rs = uint8(e)
		} else {
			var l uint
			if rs, l = acT.slow(acc); l == 0 {
				return 0, fmt.Errorf("%w: invalid AC code", ErrCorrupt)
			}
			acc <<= l
			n -= l
		}
		run, size := int(rs>>4), uint(rs&15)
		if size == 0 {
			if run != 15 {
				break // EOB
			}
			// ZRL: sixteen zeros, which must end inside the block.
			if k += 15; k >= blockSize {
				return 0, fmt.Errorf("%w: ZRL past the block", ErrCorrupt)
			}
			continue
		}
		if size > maxACSize {
			return 0, fmt.Errorf("%w: AC size %d", ErrCorrupt, size)
		}
		k += run
		if k >= blockSize {
			return 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
		}
		zz[k&63] = int16(extend(int32(acc>>(64-size)), size))
		nz |= 1 << (k & 63)
		acc <<= size
		n -= size
	}
	br.acc, br.n, br.pos = acc, n, pos
	f.nz[b] = nz
	return dc, nil
}

// restart ends a restart interval (§F.2.2.5 and §B.1.1.2): the rest of the
// current byte is padding, then RSTn with n = count mod 8 must follow. Bytes
// before the marker that no MCU used are skipped, as libjpeg does; the search
// starts where the segment ended, past every byte it could have used.
func (r *bitReader) restart(count int) error {
	want := byte(markerRST0 + count&7)
	p := r.next
	for {
		if p+1 >= len(r.scan) {
			return fmt.Errorf("%w: no RST%d marker", ErrShort, count&7)
		}
		if r.scan[p] == 0xff && r.scan[p+1] != 0 && r.scan[p+1] != 0xff {
			break
		}
		p++
	}
	if m := r.scan[p+1]; m != want {
		return fmt.Errorf("%w: marker %#02x where RST%d belongs", ErrCorrupt, m, count&7)
	}
	r.load(p + 2)
	return nil
}
