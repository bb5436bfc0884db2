package fastjpeg

import (
	"encoding/binary"
	"fmt"
	"image"
)

// tileWriter is one tile column's coder during Transcode: its bits and its DC
// predictions, which start from 0 at each tile (docs/PROTOCOL.md §4).
type tileWriter struct {
	bw   bitWriter
	pred [3]int32
}

// Transcode re-tiles a camera frame in one pass: it parses data as Decode does
// and appends to tiles[i] (resliced to length 0 first, its capacity reused) the
// payload of tile i of the tw x th grid (docs/PROTOCOL.md §2, row-major; tw a
// multiple of 16, th of the MCU height), coded with ts's Huffman tables; the
// coefficients are the camera's, so the receiver decodes them with f.Quant()
// (ts's quantisation tables are not used here). tiles is grown to the grid's
// size and returned; its payloads stay valid until the next call given them, so
// a sender that still holds them (queued for sending) passes a fresh set.
//
// For the layouts whose MCU is the HRVS MCU (Y 2x1 or 2x2 with chroma 1x1, what
// webcams send) it decodes each Huffman symbol and writes it straight into its
// tile's scan, value bits copied as they are, without storing coefficients:
// only DC differences change, where a tile starts. Other layouts (grayscale,
// ffmpeg's 4:2:2 as Y 2x2 and chroma 1x2) go through Decode and AppendTile, to
// the same bytes. Either way AppendSummary works afterwards; AppendTile,
// CountTile and Requantize need Decode.
func (f *CoefFrame) Transcode(data []byte, tw, th int, ts *TableSet, tiles [][]byte) ([][]byte, error) {
	if err := f.prepare(data); err != nil {
		return tiles, err
	}
	mw, mh := f.sub.MCUSize()
	if tw <= 0 || th <= 0 || tw%mw != 0 || th%mh != 0 {
		return tiles, fmt.Errorf("%w: %dx%d tiles are not whole %dx%d MCUs", ErrArgs, tw, th, mw, mh)
	}
	if !ts.complete {
		return tiles, fmt.Errorf("%w: Huffman tables cannot code every baseline symbol", ErrArgs)
	}
	cols, rows := (f.w+tw-1)/tw, (f.h+th-1)/th
	for len(tiles) < cols*rows {
		tiles = append(tiles, nil)
	}
	tiles = tiles[:cols*rows]
	for i := range tiles {
		tiles[i] = tiles[i][:0]
	}
	if f.gray || f.hd.comp[1].h != 1 || f.hd.comp[1].v != 1 {
		if err := f.decodeGrayOrInterleaved(); err != nil {
			return tiles, err
		}
		var err error
		for i := range tiles {
			x, y := i%cols*tw, i/cols*th
			r := image.Rect(x, y, min(x+tw, f.w), min(y+th, f.h))
			if tiles[i], err = f.AppendTile(tiles[i], r, ts); err != nil {
				return tiles, err
			}
		}
		return tiles, nil
	}
	if err := f.transcode(tw/mw, th/mh, cols, ts, tiles); err != nil {
		return tiles, fmt.Errorf("transcoding %dx%d %v scan: %w", f.w, f.h, f.sub, err)
	}
	return tiles, nil
}

func (f *CoefFrame) decodeGrayOrInterleaved() error {
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

// transcode is Transcode's one pass for a native layout: source MCUs are HRVS
// MCUs, tmx x tmy of them to a tile, cols tiles to a row.
func (f *CoefFrame) transcode(tmx, tmy, cols int, ts *TableSet, tiles [][]byte) error {
	hd := &f.hd
	y, cb, cr := &hd.comp[0], &hd.comp[1], &hd.comp[2]
	nY := f.bpm - 2
	dcT := [3]*decTable{f.dec[y.td], f.dec[cb.td], f.dec[cr.td]}
	acT := [3]*decTable{f.dec[4+y.ta], f.dec[4+cb.ta], f.dec[4+cr.ta]}
	enc := [3]*encTables{ts.enc[0], ts.enc[1], ts.enc[1]}
	var tt [3]*transTable
	for c, comp := range []*scanComp{y, cb, cr} {
		tt[c] = f.transFor(c, int(4+comp.ta), enc[c])
	}
	if n := f.mcusX * f.mcusY * f.bpm * SummaryPerBlock; cap(f.low) < n {
		f.low = make([]int16, n)
	} else {
		f.low = f.low[:n]
	}
	if cap(f.writers) < cols {
		f.writers = make([]tileWriter, cols)
	}
	ws := f.writers[:cols]
	br := &f.br
	var src [3]int32 // the source scan's DC predictions
	mcu, rst := 0, 0
	for my := 0; my < f.mcusY; my++ {
		if my%tmy == 0 {
			for c := range ws {
				t := tiles[my/tmy*cols+c]
				ws[c] = tileWriter{bw: bitWriter{buf: t[:cap(t)]}}
			}
		}
		for mx := 0; mx < f.mcusX; mx++ {
			if f.restart > 0 && mcu > 0 && mcu%f.restart == 0 {
				if err := br.restart(rst); err != nil {
					return fmt.Errorf("MCU %d: %w", mcu, err)
				}
				rst++
				src = [3]int32{}
			}
			w := &ws[mx/tmx]
			w.bw.reserve(maxTileMCUBytes)
			b := (my*f.mcusX + mx) * f.bpm
			for i := 0; i < f.bpm; i++ {
				c := max(i-nY+1, 0)
				low := (*[SummaryPerBlock]int16)(f.low[(b+i)*SummaryPerBlock:])
				dc, err := transBlock(br, &w.bw, dcT[c], acT[c], tt[c], enc[c], src[c], w.pred[c], low)
				if err != nil {
					return fmt.Errorf("MCU %d: %w", mcu, err)
				}
				src[c], w.pred[c] = dc, dc
			}
			if br.short() {
				return fmt.Errorf("%w: data ends inside MCU %d", ErrShort, mcu)
			}
			mcu++
		}
		if (my+1)%tmy == 0 || my == f.mcusY-1 {
			for c := range ws {
				bw := &ws[c].bw
				bw.reserve(16)
				bw.pad()
				tiles[my/tmy*cols+c] = bw.buf[:bw.pos]
			}
		}
		f.summaryTo = my + 1
	}
	return nil
}

// transBlock moves one block from the camera's scan to a tile's (§F.2.2 in,
// §F.1.2 out): the DC is decoded and coded again against the tile's prediction;
// each AC symbol is decoded with the camera's table and written with the
// tile's, its value bits copied unchanged. low gets the block's zigzag
// coefficients 0..2. It returns the block's DC.
func transBlock(br *bitReader, w *bitWriter, dcT, acT *decTable, tt *transTable, ht *encTables, srcPred, dstPred int32, low *[SummaryPerBlock]int16) (int32, error) {
	seg, rpos, acc, n := br.seg, br.pos, br.acc, br.n
	if n < 32 {
		acc, n, rpos = refill(seg, rpos, acc, n)
	}
	wacc, wn, pos, buf := w.acc, w.n, w.pos, w.buf

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
	dc := srcPred
	if sym != 0 {
		s := uint(sym) & 15
		dc += extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
	}
	if dc < -maxDC-1 || dc > maxDC {
		return 0, fmt.Errorf("%w: DC %d out of range", ErrCorrupt, dc)
	}
	*low = [SummaryPerBlock]int16{int16(dc)}

	diff := dc - dstPred
	m := diff >> 31
	mag := magnitude[uint32((diff^m)-m)&2047]
	hc := ht.dc[mag&15]
	wn += uint(hc >> huffCodeBits)
	wacc |= uint64(uint32(hc&(1<<huffCodeBits-1))|uint32(diff+m)&uint32(mag>>4)) << ((64 - wn) & 63)
	if wn >= 32 {
		pos = put32(buf, pos, uint32(wacc>>32))
		wacc <<= 32
		wn -= 32
	}

	// ZRLs are held back until a coefficient follows them: a camera may send
	// ZRLs and then EOB, which the tile codes as the EOB alone, as AppendTile does.
	zrl := 0
	for k := 1; k < blockSize; k++ {
		if n < 32 {
			acc, n, rpos = refill(seg, rpos, acc, n)
		}
		// Most symbols resolve with their value bits in one load.
		if e := tt[acc>>(64-transBits)]; e != 0 {
			used := uint(e & teUsed)
			acc <<= used
			n -= used
			if e&teEOB == 0 {
				if k += int(e>>teRunShift) & 15; k >= blockSize {
					return 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
				}
				if size := uint(e>>teSizeSh) & 15; k <= 2 {
					low[k] = int16(extend(int32(e>>teOutBits)&(1<<size-1), size))
				}
				for ; zrl > 0; zrl-- {
					hc := ht.ac[0xf0]
					wn += uint(hc >> huffCodeBits)
					wacc |= uint64(hc&(1<<huffCodeBits-1)) << ((64 - wn) & 63)
					if wn >= 32 {
						pos = put32(buf, pos, uint32(wacc>>32))
						wacc <<= 32
						wn -= 32
					}
				}
			}
			wn += uint(e>>teOutShift) & 63
			wacc |= e >> teOutBits << ((64 - wn) & 63)
			if wn >= 32 {
				pos = put32(buf, pos, uint32(wacc>>32))
				wacc <<= 32
				wn -= 32
			}
			if e&teEOB != 0 {
				zrl = 0
				break
			}
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
		size := uint(rs & 15)
		if size > maxACSize {
			return 0, fmt.Errorf("%w: AC size %d", ErrCorrupt, size)
		}
		k += int(rs >> 4)
		if size == 0 {
			if rs != 0xf0 { // EOB (any run: as Decode reads it)
				zrl = 0
				hc := ht.ac[0x00]
				wn += uint(hc >> huffCodeBits)
				wacc |= uint64(hc&(1<<huffCodeBits-1)) << ((64 - wn) & 63)
				if wn >= 32 {
					pos = put32(buf, pos, uint32(wacc>>32))
					wacc <<= 32
					wn -= 32
				}
				break
			}
			if k >= blockSize { // ZRL: sixteen zeros, which must end inside the block
				return 0, fmt.Errorf("%w: ZRL past the block", ErrCorrupt)
			}
			zrl++
			continue
		}
		if k >= blockSize {
			return 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
		}
		raw := uint32(acc>>(64-size)) & (1<<size - 1)
		acc <<= size
		n -= size
		if k <= 2 {
			low[k] = int16(extend(int32(raw), size))
		}
		for ; zrl > 0; zrl-- {
			hc := ht.ac[0xf0]
			wn += uint(hc >> huffCodeBits)
			wacc |= uint64(hc&(1<<huffCodeBits-1)) << ((64 - wn) & 63)
			if wn >= 32 {
				pos = put32(buf, pos, uint32(wacc>>32))
				wacc <<= 32
				wn -= 32
			}
		}
		hc := ht.ac[rs]
		wn += uint(hc >> huffCodeBits)
		wacc |= uint64(uint32(hc&(1<<huffCodeBits-1))|raw) << ((64 - wn) & 63)
		if wn >= 32 {
			pos = put32(buf, pos, uint32(wacc>>32))
			wacc <<= 32
			wn -= 32
		}
	}
	if zrl > 0 { // the block ended in zeros the ZRLs covered: the EOB says so
		hc := ht.ac[0x00]
		wn += uint(hc >> huffCodeBits)
		wacc |= uint64(hc&(1<<huffCodeBits-1)) << ((64 - wn) & 63)
		if wn >= 32 {
			pos = put32(buf, pos, uint32(wacc>>32))
			wacc <<= 32
			wn -= 32
		}
	}
	br.acc, br.n, br.pos = acc, n, rpos
	w.acc, w.n, w.pos = wacc, wn, pos
	return dc, nil
}

// transFor returns the combined table of component c's AC table (f.hd.huff[k])
// and enc, rebuilt only when either changed since the last frame.
func (f *CoefFrame) transFor(c, k int, enc *encTables) *transTable {
	if f.trans[c] == nil || f.transDec[c] != f.dec[k] || f.transEnc[c] != enc {
		f.trans[c] = newTransTable(f.hd.huff[k], enc)
		f.transDec[c], f.transEnc[c] = f.dec[k], enc
	}
	return f.trans[c]
}

// put32 writes w's four bytes at buf[pos:], stuffing a zero after each 0xFF.
func put32(buf []byte, pos int, w uint32) int {
	if !hasFF(w) {
		binary.BigEndian.PutUint32(buf[pos:], w)
		return pos + 4
	}
	return putStuffed(buf, pos, w)
}

// transBits is the width of the one-pass coder's combined lookup: an AC code of
// the camera's table and its value bits, when they fit, resolve in one load to
// the tile's code and the same value bits.
const transBits = 11

// Fields of a transEntry.
const (
	teUsed     = 0x3f      // bits 0-5: source bits consumed (code + value); 0 for none
	teOutShift = 6         // bits 6-11: output length (code + value)
	teRunShift = 12        // bits 12-15: zero run before the coefficient
	teSizeSh   = 16        // bits 16-19: value size
	teEOB      = 1 << 20   // end of block
	teOutBits  = 32        // bits 32-63: output code and value, right-aligned
	teMaxOut   = 1<<26 - 1 // the output never exceeds 16 + 10 bits
)

// transTable maps the next transBits bits of a camera's scan to what the tile's
// scan gets for them (see the te constants).
type transTable [1 << transBits]uint64

// newTransTable combines a camera's AC table with a tile set's AC codes.
func newTransTable(dec huffSpec, enc *encTables) *transTable {
	var t transTable
	code, length := canonicalCodes(dec)
	for sym := 0; sym < 256; sym++ {
		l := uint(length[sym])
		if l == 0 {
			continue
		}
		size, run := uint(sym&15), uint(sym>>4)
		eob := size == 0 && sym != 0xf0
		if sym == 0xf0 || size > maxACSize || l+size > transBits {
			continue // ZRL takes the slow path, which holds it back
		}
		out := enc.ac[sym]
		if eob {
			out = enc.ac[0x00]
		}
		outLen := uint64(out >> huffCodeBits)
		outCode := uint64(out & (1<<huffCodeBits - 1)) // code << size, value bits 0
		for v := uint(0); v < 1<<size; v++ {
			e := uint64(l+size) | outLen<<teOutShift | uint64(run)<<teRunShift | uint64(size)<<teSizeSh |
				(outCode|uint64(v))<<teOutBits
			if eob {
				e |= teEOB
			}
			first := (uint(code[sym])<<size | v) << (transBits - l - size)
			for j := uint(0); j < 1<<(transBits-l-size); j++ {
				t[first+j] = e
			}
		}
	}
	return &t
}
