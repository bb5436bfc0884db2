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
// only DC differences change, where a tile starts. ffmpeg's 4:2:2 (Y 2x2 and
// chroma 1x2: two HRVS MCUs, one above the other) goes the same way when th is
// an even number of MCUs, the lower MCU's symbols held until the source row
// ends. Other layouts and grids (grayscale, ffmpeg's 4:2:2 on tiles an odd
// number of MCUs high) go through Decode and AppendTile, to the same bytes.
// Either way AppendSummary works afterwards; AppendTile, CountTile and
// Requantize need Decode.
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
	var err error
	y, c := f.hd.comp[0], f.hd.comp[1]
	switch {
	case !f.gray && c.h == 1 && c.v == 1:
		err = f.transcode(tw/mw, th/mh, cols, ts, tiles)
	case !f.gray && c.h == 1 && c.v == 2 && y.h == 2 && y.v == 2 && th%(2*mh) == 0:
		err = f.transcodeStacked(tw/mw, th/mh, cols, ts, tiles)
	default:
		return f.transcodeTwoPasses(tw, th, cols, ts, tiles)
	}
	if err != nil {
		return tiles, fmt.Errorf("transcoding %dx%d %v scan: %w", f.w, f.h, f.sub, err)
	}
	return tiles, nil
}

// transcodeTwoPasses is Transcode through Decode and AppendTile, for the
// layouts and grids the one-pass coders do not take.
func (f *CoefFrame) transcodeTwoPasses(tw, th, cols int, ts *TableSet, tiles [][]byte) ([][]byte, error) {
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
	nY := f.bpm - 2
	dcT, acT, enc, tt := f.passTables(ts)
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

// passTables are a Transcode pass's tables per component (Y, Cb, Cr): the scan's
// DC and AC decoding tables, ts's encoding tables and the translation between the
// AC ones (transFor). It also sizes f.low for the frame's change summaries.
func (f *CoefFrame) passTables(ts *TableSet) (dcT, acT [3]*decTable, enc [3]*encTables, tt [3]*transTable) {
	hd := &f.hd
	y, cb, cr := &hd.comp[0], &hd.comp[1], &hd.comp[2]
	dcT = [3]*decTable{f.dec[y.td], f.dec[cb.td], f.dec[cr.td]}
	acT = [3]*decTable{f.dec[4+y.ta], f.dec[4+cb.ta], f.dec[4+cr.ta]}
	enc = [3]*encTables{ts.enc[0], ts.enc[1], ts.enc[1]}
	for c, comp := range []*scanComp{y, cb, cr} {
		tt[c] = f.transFor(c, int(4+comp.ta), enc[c])
	}
	if n := f.mcusX * f.mcusY * f.bpm * SummaryPerBlock; cap(f.low) < n {
		f.low = make([]int16, n)
	} else {
		f.low = f.low[:n]
	}
	return dcT, acT, enc, tt
}

// transcodeStacked is Transcode's one pass for ffmpeg's 4:2:2 (Y 2x2, chroma
// 1x2): a source MCU is two HRVS MCUs, one above the other, and codes Y top
// left, top right, bottom left, bottom right, Cb top, bottom, Cr top, bottom.
// The upper MCU's blocks are written as they are decoded; the lower one's are
// held as symbols (transEntries, and DCs as values) per tile column and
// written when the source row ends, where the tile's DC predictions have
// reached them. Tiles are an even number of MCUs high (tmy), so both MCUs of
// a source MCU fall in one tile.
func (f *CoefFrame) transcodeStacked(tmx, tmy, cols int, ts *TableSet, tiles [][]byte) error {
	dcT, acT, enc, tt := f.passTables(ts)
	// A summary for the lower MCUs of a last source row that lies past the
	// frame's MCU rows, which are decoded and dropped.
	var spare [SummaryPerBlock]int16
	if cap(f.writers) < cols {
		f.writers = make([]tileWriter, cols)
	}
	ws := f.writers[:cols]
	for len(f.held) < cols {
		f.held = append(f.held, nil)
	}
	held := f.held[:cols]
	// Source MCU block i: component, and whether it belongs to the lower MCU
	// (then its slot there).
	comp := [8]int{0, 0, 0, 0, 1, 1, 2, 2}
	lower := [8]bool{false, false, true, true, false, true, false, true}
	slot := [8]int{0, 1, 0, 1, 2, 2, 3, 3}
	br := &f.br
	var src [3]int32
	mcu, rst := 0, 0
	for my := 0; my < f.mcusY; my += 2 {
		if my%tmy == 0 {
			for c := range ws {
				t := tiles[my/tmy*cols+c]
				ws[c] = tileWriter{bw: bitWriter{buf: t[:cap(t)]}}
			}
		}
		for c := range held {
			held[c] = held[c][:0]
		}
		for mx := 0; mx < f.mcusX; mx++ {
			if f.restart > 0 && mcu > 0 && mcu%f.restart == 0 {
				if err := br.restart(rst); err != nil {
					return fmt.Errorf("MCU %d: %w", mcu, err)
				}
				rst++
				src = [3]int32{}
			}
			col := mx / tmx
			w := &ws[col]
			w.bw.reserve(maxTileMCUBytes)
			for i := range 8 {
				c, row := comp[i], my
				if lower[i] {
					row++
				}
				low := &spare
				if row < f.mcusY {
					low = (*[SummaryPerBlock]int16)(f.low[((row*f.mcusX+mx)*f.bpm+slot[i])*SummaryPerBlock:])
				}
				var dc int32
				var err error
				if lower[i] {
					held[col], dc, err = holdBlock(br, dcT[c], acT[c], tt[c], enc[c], c, src[c], low, held[col])
				} else {
					dc, err = transBlock(br, &w.bw, dcT[c], acT[c], tt[c], enc[c], src[c], w.pred[c], low)
					w.pred[c] = dc
				}
				if err != nil {
					return fmt.Errorf("MCU %d: %w", mcu, err)
				}
				src[c] = dc
			}
			if br.short() {
				return fmt.Errorf("%w: data ends inside MCU %d", ErrShort, mcu)
			}
			mcu++
		}
		if my+1 < f.mcusY {
			for c := range ws {
				ws[c].replay(held[c], &enc)
			}
		}
		if (my+2)%tmy == 0 || my+2 >= f.mcusY {
			for c := range ws {
				bw := &ws[c].bw
				bw.reserve(16)
				bw.pad()
				tiles[my/tmy*cols+c] = bw.buf[:bw.pos]
			}
		}
		f.summaryTo = min(my+2, f.mcusY)
	}
	return nil
}

// holdBlock is transBlock for a block written later: it appends the block's
// DC (teDC, its component and value) and its AC symbols' transEntries, ZRLs
// held back as transBlock does, to held.
func holdBlock(br *bitReader, dcT, acT *decTable, tt *transTable, ht *encTables, c int, srcPred int32, low *[SummaryPerBlock]int16, held []uint64) ([]uint64, int32, error) {
	seg, rpos, acc, n := br.seg, br.pos, br.acc, br.n
	if n < 32 {
		acc, n, rpos = refill(seg, rpos, acc, n)
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
			return held, 0, fmt.Errorf("%w: invalid DC code", ErrCorrupt)
		}
		acc <<= l
		n -= l
	}
	if sym > 11 {
		return held, 0, fmt.Errorf("%w: DC size %d", ErrCorrupt, sym)
	}
	dc := srcPred
	if sym != 0 {
		s := uint(sym) & 15
		dc += extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
	}
	if dc < -maxDC-1 || dc > maxDC {
		return held, 0, fmt.Errorf("%w: DC %d out of range", ErrCorrupt, dc)
	}
	*low = [SummaryPerBlock]int16{int16(dc)}
	held = append(held, teDC|uint64(c)<<teStepShift|uint64(uint32(dc))<<teOutBits)

	kept, k := len(held), 1 // entries up to the last coefficient; next zigzag index
	var e uint64
	tab := &tt.one
	for k < blockSize {
		if n < 32 {
			acc, n, rpos = refill(seg, rpos, acc, n)
		}
		if e = tab[acc>>(64-transBits)]; e == 0 {
			var err error
			if e, err = slowAC(acT, ht, acc); err != nil {
				return held, 0, err
			}
		}
		used := uint(e & teUsed)
		acc <<= used
		n -= used
		held = append(held, e)
		if e&teEOB != 0 {
			if e>>teStepShift&127 != eobStep {
				kept = len(held) // a coefficient and the EOB, paired
			}
			break
		}
		if k += int(e>>teStepShift) & 127; k <= 3 {
			size := uint(e>>teSizeSh) & 15
			low[k-1] = int16(extend(int32(e>>teOutBits)&(1<<size-1), size))
		}
		if e&teZRL == 0 {
			kept = len(held)
		}
		if tab = &tt.one; uint(k-pairFrom) <= pairTo-pairFrom {
			tab = &tt.two
		}
	}
	if k > blockSize {
		if e&teZRL != 0 {
			return held, 0, fmt.Errorf("%w: ZRL past the block", ErrCorrupt)
		}
		return held, 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k-1)
	}
	if len(held) > kept {
		// An EOB read, or owed for trailing ZRLs, follows the last coefficient.
		held = append(held[:kept], eobEntry(ht))
	}
	br.acc, br.n, br.pos = acc, n, rpos
	return held, dc, nil
}

// replay writes the blocks holdBlock held, coding each DC against the tile's
// prediction of its component.
func (w *tileWriter) replay(held []uint64, enc *[3]*encTables) {
	for len(held) > 0 {
		// One block at a time, so the room reserved per MCU is enough.
		w.bw.reserve(maxTileMCUBytes)
		wacc, wn, pos, buf := w.bw.acc, w.bw.n, w.bw.pos, w.bw.buf
		e := held[0]
		c := int(e>>teStepShift) & 3
		dc := int32(uint32(e >> teOutBits))
		diff := dc - w.pred[c]
		w.pred[c] = dc
		m := diff >> 31
		mag := magnitude[uint32((diff^m)-m)&2047]
		hc := enc[c].dc[mag&15]
		wn += uint(hc >> huffCodeBits)
		wacc |= uint64(uint32(hc&(1<<huffCodeBits-1))|uint32(diff+m)&uint32(mag>>4)) << ((64 - wn) & 63)
		if wn >= 32 {
			pos = put32(buf, pos, uint32(wacc>>32))
			wacc <<= 32
			wn -= 32
		}
		i := 1
		for ; i < len(held) && held[i]&teDC == 0; i++ {
			e := held[i]
			wn += uint(e>>teOutShift) & 63
			wacc |= e >> teOutBits << ((64 - wn) & 63)
			if wn >= 32 {
				pos = put32(buf, pos, uint32(wacc>>32))
				wacc <<= 32
				wn -= 32
			}
		}
		w.bw.acc, w.bw.n, w.bw.pos = wacc, wn, pos
		held = held[i:]
	}
}

// transBlock moves one block from the camera's scan to a tile's (§F.2.2 in,
// §F.1.2 out): the DC is decoded and coded again against the tile's prediction;
// each AC symbol is decoded with the camera's table and written with the
// tile's, its value bits copied unchanged. low gets the block's zigzag
// coefficients 0..2. It returns the block's DC.
//
// The loop is kept to what most symbols need, one table load giving the bits
// to consume, the step along the block and the tile's bits: an EOB steps past
// the block's end, so one test ends the block either way, and ZRL, which is
// held back, takes the slow path with the codes too long for the table.
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

	k := 1 // zigzag index of the next coefficient
	var e uint64
	tab := &tt.one
	for {
		if n < 32 {
			acc, n, rpos = refill(seg, rpos, acc, n)
		}
		// Most symbols resolve with their value bits in one load, often two.
		if e = tab[acc>>(64-transBits)]; e == 0 {
			var err error
			if e, err = slowAC(acT, ht, acc); err != nil {
				return 0, err
			}
			if e&teZRL != 0 {
				// ZRLs wait for a coefficient: a camera may send ZRLs and then
				// EOB, which the tile codes as the EOB alone, as AppendTile does.
				zrl := 0
				for e&teZRL != 0 {
					used := uint(e & teUsed)
					acc <<= used
					n -= used
					if k += 16; k > blockSize {
						return 0, fmt.Errorf("%w: ZRL past the block", ErrCorrupt)
					}
					zrl++
					if k == blockSize {
						// The block ended in zeros the ZRLs covered: the EOB says so.
						e = eobEntry(ht)
						break
					}
					if n < 32 {
						acc, n, rpos = refill(seg, rpos, acc, n)
					}
					if e = tt.one[acc>>(64-transBits)]; e == 0 {
						if e, err = slowAC(acT, ht, acc); err != nil {
							return 0, err
						}
					}
				}
				for ; zrl > 0 && e&teEOB == 0; zrl-- {
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
		}
		used := uint(e & teUsed)
		acc <<= used
		n -= used
		if k += int(e>>teStepShift) & 127; k <= 3 {
			size := uint(e>>teSizeSh) & 15
			low[k-1] = int16(extend(int32(e>>teOutBits)&(1<<size-1), size))
		}
		wn += uint(e>>teOutShift) & 63
		wacc |= e >> teOutBits << ((64 - wn) & 63)
		if wn >= 32 {
			pos = put32(buf, pos, uint32(wacc>>32))
			wacc <<= 32
			wn -= 32
		}
		if k >= blockSize {
			break
		}
		if tab = &tt.one; uint(k-pairFrom) <= pairTo-pairFrom {
			tab = &tt.two
		}
	}
	if k > blockSize && e&teEOB == 0 {
		return 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k-1)
	}
	br.acc, br.n, br.pos = acc, n, rpos
	w.acc, w.n, w.pos = wacc, wn, pos
	return dc, nil
}

// eobEntry is the transEntry of an EOB that consumes nothing: what a block
// ending in ZRLs gets instead of them.
func eobEntry(ht *encTables) uint64 {
	hc := ht.ac[0x00]
	return teEOB | eobStep<<teStepShift | uint64(hc>>huffCodeBits)<<teOutShift | uint64(hc&(1<<huffCodeBits-1))<<teOutBits
}

// slowAC decodes an AC symbol transTable does not hold (a code and value
// longer than transBits, or ZRL) from the top of acc, which holds at least 26
// bits, into the transEntry the table would have held.
func slowAC(acT *decTable, ht *encTables, acc uint64) (uint64, error) {
	var rs uint8
	var l uint
	if e := acT.lookup[acc>>(64-lookupBits)]; e != 0 {
		l, rs = uint(e>>8)&63, uint8(e)
	} else if rs, l = acT.slow(acc); l == 0 {
		return 0, fmt.Errorf("%w: invalid AC code", ErrCorrupt)
	}
	size := uint(rs & 15)
	if size > maxACSize {
		return 0, fmt.Errorf("%w: AC size %d", ErrCorrupt, size)
	}
	e := uint64(l+size) | uint64(rs>>4+1)<<teStepShift | uint64(size)<<teSizeSh
	switch {
	case rs == 0xf0:
		e |= teZRL
	case size == 0: // EOB (any run: as Decode reads it)
		rs, e = 0x00, uint64(l)|teEOB|eobStep<<teStepShift
	}
	hc := ht.ac[rs]
	raw := uint32(acc<<l>>(64-size)) & (1<<size - 1)
	return e | uint64(hc>>huffCodeBits)<<teOutShift | uint64(uint32(hc&(1<<huffCodeBits-1))|raw)<<teOutBits, nil
}

// transFor returns the combined table of component c's AC table (f.hd.huff[k])
// and enc, rebuilt only when either changed since the last frame. Components
// with the same tables (Cb and Cr, nearly always) share one, so the lookups of
// a scan stay within the first-level cache.
func (f *CoefFrame) transFor(c, k int, enc *encTables) *transTable {
	if f.trans[c] != nil && f.transDec[c] == f.dec[k] && f.transEnc[c] == enc {
		return f.trans[c]
	}
	f.transDec[c], f.transEnc[c] = f.dec[k], enc
	for o := range c {
		if f.transDec[o] == f.dec[k] && f.transEnc[o] == enc {
			f.trans[c] = f.trans[o]
			return f.trans[c]
		}
	}
	f.trans[c] = newTransTable(f.hd.huff[k], enc)
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
	teUsed      = 0x3f      // bits 0-5: source bits consumed (code + value); 0 for none
	teOutShift  = 6         // bits 6-11: output length (code + value)
	teStepShift = 12        // bits 12-18: zigzag positions the symbol covers: run + 1, or eobStep
	teSizeSh    = 20        // bits 20-23: value size
	teEOB       = 1 << 24   // end of block
	teZRL       = 1 << 25   // sixteen zeros (only from slowAC: the table leaves ZRL out)
	teDC        = 1 << 26   // holdBlock's DC: component in the step field, value in the output's
	teOutBits   = 32        // bits 32-63: output code and value, right-aligned
	teMaxOut    = 1<<26 - 1 // the output never exceeds 16 + 10 bits
)

// eobStep is an EOB's step: from any zigzag position past the block's end.
const eobStep = blockSize

// transTable maps the next transBits bits of a camera's scan to what the tile's
// scan gets for them (see the te constants): one symbol (one), or two where
// both fit with their value bits (two; otherwise two holds one's entry), which
// halves the serial chain of lookups for the short codes that dominate a scan.
type transTable struct {
	one, two [1 << transBits]uint64
}

// pairFrom and pairTo bound the zigzag index k at which transBlock takes pairs:
// from 3, when the summary's coefficients 1 and 2 have been placed one by one,
// to 32, so that neither symbol of a pair (16 positions at most each) can pass
// the block's end, which the lone symbols check.
const pairFrom, pairTo = 3, 32

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
			e := uint64(l+size) | outLen<<teOutShift | uint64(run+1)<<teStepShift | uint64(size)<<teSizeSh |
				(outCode|uint64(v))<<teOutBits
			if eob {
				e = e&^(127<<teStepShift) | teEOB | eobStep<<teStepShift
			}
			first := (uint(code[sym])<<size | v) << (transBits - l - size)
			for j := uint(0); j < 1<<(transBits-l-size); j++ {
				t.one[first+j] = e
			}
		}
	}
	for i, e := range t.one {
		t.two[i] = e
		used := uint(e & teUsed)
		if e == 0 || e&teEOB != 0 {
			continue
		}
		e2 := t.one[i<<used&(1<<transBits-1)]
		used2, out, out2 := uint(e2&teUsed), uint(e>>teOutShift)&63, uint(e2>>teOutShift)&63
		if e2 == 0 || used+used2 > transBits || out+out2 > 32 {
			continue // the second symbol is not wholly in the bits, or the output overflows
		}
		t.two[i] = uint64(used+used2) | uint64(out+out2)<<teOutShift |
			(e>>teStepShift&127+e2>>teStepShift&127)<<teStepShift | e2&teEOB |
			(e>>teOutBits<<out2|e2>>teOutBits)<<teOutBits
	}
	return &t
}
