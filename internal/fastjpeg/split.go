package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
)

// Splitter cuts a camera's baseline JPEG whose restart intervals line up with the
// tile grid into tile payloads at its RSTn markers, with a byte scan and no
// Huffman decoding. A restart interval is a run of R MCUs in raster order whose
// DC predictions start from 0 and whose data is byte-aligned and ends before an
// RSTn marker (ITU T.81 §F.1.2.3, §F.2.1.3.1, §B.2.1): when every interval lies
// inside one MCU row of one tile, a tile's intervals in raster order, joined by
// RST markers numbered from RST0, are a scan of the tile with restart interval R
// that decodes to exactly the pixels that part of the camera's frame decodes to.
//
// Such payloads keep the camera's quantisation and Huffman tables (Tables) and
// carry restart markers, so they travel as codec 2 (docs/PROTOCOL.md §4.1) and
// are decoded by Decoder.DecodeRestartTile. A Splitter keeps its buffers between
// frames and is not safe for concurrent use.
type Splitter struct {
	hd      jpegHeader
	w, h    int
	sub     Subsampling
	restart int
	tables  Tables
	sym     [4][256]uint8 // the storage of tables.Huff's symbols
	count   []int         // segments per tile so far
}

// Size is the last split frame's size in pixels.
func (s *Splitter) Size() (w, h int) { return s.w, s.h }

// Subsampling is the last split frame's layout.
func (s *Splitter) Subsampling() Subsampling { return s.sub }

// Restart is the last split frame's restart interval in MCUs (DRI), also when
// Split refused the frame for any reason but its header; 0 for none.
func (s *Splitter) Restart() int { return s.restart }

// Tables returns the tables the last split frame's scan is coded with: the
// quantisation tables of Y, Cb and Cr, and the Huffman tables of Y (luminance)
// and of Cb and Cr (chrominance), Annex K.3's where the frame has no DHT. The
// symbols are the Splitter's and change with the next frame: copy them to keep
// them (NewTableSet does).
func (s *Splitter) Tables() Tables { return s.tables }

// SplitLayout reports whether restart interval restart (MCUs) lines up with
// tiles of tw x th pixels on a w x h frame in layout sub: each interval lies in
// one MCU row of one tile, that is the frame's and the tile's widths in MCUs are
// both multiples of it, and the tiles are whole MCUs.
func SplitLayout(w, h, tw, th, restart int, sub Subsampling) bool {
	mw, mh := sub.MCUSize()
	if restart <= 0 || w <= 0 || h <= 0 || tw <= 0 || th <= 0 || tw%mw != 0 || th%mh != 0 {
		return false
	}
	return ((w+mw-1)/mw)%restart == 0 && (tw/mw)%restart == 0
}

// Split cuts data, a baseline JPEG (the headers CoefFrame.Decode takes) with a
// restart interval, into the payloads of the grid of tw x th tiles over the
// frame (docs/PROTOCOL.md §2: raster order, the last column and row cut short),
// reusing tiles' buffers; tiles[i] is tile i's intervals in raster order, each
// after the first preceded by RSTm, m counting from 0 modulo 8 per tile. A
// frame Split cannot take (no restart interval, one that does not line up with
// the grid (SplitLayout), grayscale, a layout other than the webcams' 4:2:2 (Y
// 2x1) and 4:2:0 (Y 2x2) with chroma 1x1, Cb and Cr with different Huffman
// tables, anything CoefFrame.Decode refuses) is an error wrapping
// ErrUnsupported: use the coefficient path. Malformed data (an RSTn out of
// order, another marker in the scan, too few or too many intervals, an empty
// one) wraps ErrCorrupt or ErrShort. It never decodes a Huffman code.
func (s *Splitter) Split(data []byte, tw, th int, tiles [][]byte) ([][]byte, error) {
	hd := &s.hd
	if err := parseHeader(hd, data); err != nil {
		s.restart = 0
		return tiles, err
	}
	s.w, s.h, s.restart = hd.w, hd.h, hd.restart
	if hd.ncomp != 3 {
		return tiles, fmt.Errorf("%w: split: %d components", ErrUnsupported, hd.ncomp)
	}
	y, cb, cr := hd.comp[0], hd.comp[1], hd.comp[2]
	if y.h != 2 || (y.v != 1 && y.v != 2) || cb.h != 1 || cb.v != 1 || cr.h != 1 || cr.v != 1 {
		return tiles, fmt.Errorf("%w: split: sampling Y %dx%d Cb %dx%d Cr %dx%d is not an HRVS MCU",
			ErrUnsupported, y.h, y.v, cb.h, cb.v, cr.h, cr.v)
	}
	if cb.td != cr.td || cb.ta != cr.ta {
		return tiles, fmt.Errorf("%w: split: Cb and Cr use different Huffman tables", ErrUnsupported)
	}
	s.sub = S420
	if y.v == 1 {
		s.sub = S422
	}
	if !SplitLayout(s.w, s.h, tw, th, s.restart, s.sub) {
		return tiles, fmt.Errorf("%w: split: restart interval %d on a %dx%d %v frame in %dx%d tiles",
			ErrUnsupported, s.restart, s.w, s.h, s.sub, tw, th)
	}
	for c, comp := range [3]scanComp{y, cb, cr} {
		s.tables.Quant[c] = hd.quant[comp.tq]
	}
	for i, k := range [4]int{int(y.td), 4 + int(y.ta), int(cb.td), 4 + int(cb.ta)} {
		spec := hd.huff[k]
		n := copy(s.sym[i][:], spec.value)
		s.tables.Huff[i] = HuffTable{Count: spec.count, Symbol: s.sym[i][:n]}
	}

	mw, mh := s.sub.MCUSize()
	mcusX, mcusY := (s.w+mw-1)/mw, (s.h+mh-1)/mh
	cols, rows := (s.w+tw-1)/tw, (s.h+th-1)/th
	tileMCUs, tileRows := tw/mw, th/mh
	intervals := mcusX * mcusY / s.restart
	n := cols * rows
	for len(tiles) < n {
		tiles = append(tiles, nil)
	}
	tiles = tiles[:n]
	for i := range tiles {
		tiles[i] = tiles[i][:0]
	}
	s.count = append(s.count[:0], make([]int, n)...)

	scan := hd.scan
	k := 0 // the interval being read
	add := func(seg []byte) error {
		if len(seg) == 0 {
			return fmt.Errorf("%w: split: restart interval %d is empty", ErrCorrupt, k)
		}
		mcu := k * s.restart
		t := mcu/mcusX/tileRows*cols + mcu%mcusX/tileMCUs
		if c := s.count[t]; c > 0 {
			tiles[t] = append(tiles[t], 0xff, markerRST0+byte((c-1)&7))
		}
		tiles[t] = append(tiles[t], seg...)
		s.count[t]++
		k++
		return nil
	}
	start, p := 0, 0
	for {
		i := bytes.IndexByte(scan[p:], 0xff)
		if i < 0 {
			p = len(scan) // no EOI: the data is the scan to its end
			break
		}
		q := p + i
		j := q + 1
		for j < len(scan) && scan[j] == 0xff { // fill bytes before a marker (§B.1.1.2)
			j++
		}
		if j == len(scan) {
			p = q
			break
		}
		m := scan[j]
		if m == 0 && j == q+1 {
			p = j + 1 // a stuffed 0xFF data byte
			continue
		}
		if m == markerEOI {
			p = q
			break
		}
		if m < markerRST0 || m > markerRST7 {
			return tiles, fmt.Errorf("%w: split: marker %#02x in the scan", ErrCorrupt, m)
		}
		if int(m-markerRST0) != k&7 {
			return tiles, fmt.Errorf("%w: split: RST%d after interval %d", ErrCorrupt, m-markerRST0, k)
		}
		if k+1 >= intervals {
			return tiles, fmt.Errorf("%w: split: more than %d restart intervals", ErrCorrupt, intervals)
		}
		if err := add(scan[start:q]); err != nil {
			return tiles, err
		}
		start, p = j+1, j+1
	}
	if err := add(scan[start:p]); err != nil {
		return tiles, err
	}
	if k != intervals {
		return tiles, fmt.Errorf("%w: split: %d of %d restart intervals", ErrShort, k, intervals)
	}
	return tiles, nil
}

// DecodeRestartTile decodes scan, the payload of a tile r.Dx() x r.Dy() pixels
// coded with the table set ts in layout s with restart interval restart MCUs
// (codec 2, docs/PROTOCOL.md §4.1: the tile's width in MCUs a multiple of
// restart, so each interval lies in one MCU row), into dst's planes at r. It
// cuts scan at its RSTm markers (m from 0, modulo 8) and decodes each interval
// with DecodeTile as the scan of the rectangle it covers, its DC predictions
// from 0. The rules on dst and r are DecodeScan's; a restart interval that
// does not divide the tile's width in MCUs, a missing, extra or misnumbered
// marker, or any other marker is an error wrapping ErrCorrupt (never a panic).
func (d *Decoder) DecodeRestartTile(dst *image.YCbCr, r image.Rectangle, ts *TableSet, s Subsampling, restart int, scan []byte) error {
	if err := checkDecodeArgs(dst, r, s); err != nil {
		return err
	}
	mw, mh := s.MCUSize()
	across, rows := (r.Dx()+mw-1)/mw, (r.Dy()+mh-1)/mh
	if restart <= 0 || across%restart != 0 {
		return fmt.Errorf("%w: restart interval %d across a tile of %d MCUs", ErrCorrupt, restart, across)
	}
	per := across / restart
	n := rows * per
	p := 0
	for k := 0; k < n; k++ {
		seg, next, err := nextInterval(scan, p, k, k == n-1)
		if err != nil {
			return err
		}
		x, y := r.Min.X+k%per*restart*mw, r.Min.Y+k/per*mh
		sr := image.Rect(x, y, min(x+restart*mw, r.Max.X), min(y+mh, r.Max.Y))
		if err := d.DecodeTile(dst, sr, ts, s, seg); err != nil {
			return fmt.Errorf("restart interval %d of %d: %w", k, n, err)
		}
		p = next
	}
	return nil
}

// nextInterval returns the restart interval k of a tile payload starting at
// scan[p], and where the next starts: up to RST(k mod 8), or for the last
// interval the rest of the payload, which must hold no marker.
func nextInterval(scan []byte, p, k int, last bool) (seg []byte, next int, err error) {
	for q := p; ; {
		i := bytes.IndexByte(scan[q:], 0xff)
		if i < 0 {
			if !last {
				return nil, 0, fmt.Errorf("%w: payload ends in restart interval %d", ErrShort, k)
			}
			return scan[p:], len(scan), nil
		}
		q += i
		if q+1 < len(scan) && scan[q+1] == 0 {
			q += 2 // a stuffed 0xFF data byte
			continue
		}
		if last || q+1 == len(scan) || scan[q+1] != markerRST0+byte(k&7) {
			return nil, 0, fmt.Errorf("%w: restart interval %d of the payload ends in %#x", ErrCorrupt, k, scan[q:min(q+2, len(scan))])
		}
		return scan[p:q], q + 2, nil
	}
}
