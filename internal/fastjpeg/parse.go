package fastjpeg

import (
	"errors"
	"fmt"
)

// ErrUnsupported is wrapped by the refusal of a well-formed JPEG that the
// coefficient path does not take (progressive, arithmetic or lossless coding,
// 12-bit samples, several scans, a sampling layout other than 4:2:0 and 4:2:2,
// more than MaxWidth x MaxHeight pixels): the caller decodes it some other way.
var ErrUnsupported = errors.New("fastjpeg: JPEG not re-tileable")

// The largest frame the parser accepts, 8K UHD: the same bound capture/ and the
// receiver apply, and what keeps a hostile header's allocation bounded.
const (
	MaxWidth  = 7680
	MaxHeight = 4320
)

// More markers of ITU T.81 Table B.1 than header.go writes.
const (
	markerSOF1 = 0xc1
	markerSOF2 = 0xc2
	markerSOF3 = 0xc3
	markerDAC  = 0xcc
	markerRST0 = 0xd0
	markerRST7 = 0xd7
	markerDRI  = 0xdd
	markerDNL  = 0xdc
	markerTEM  = 0x01
)

// scanComp is one component of the frame as SOF and SOS declare it.
type scanComp struct {
	id     uint8
	h, v   uint8 // sampling factors (§A.1.1)
	tq     uint8 // quantisation table selector
	td, ta uint8 // DC and AC Huffman table selectors
}

// jpegHeader is what the markers before the entropy-coded data say.
type jpegHeader struct {
	w, h    int
	ncomp   int
	comp    [3]scanComp
	restart int // MCUs per restart interval (DRI), 0 for none

	quant    [4]QuantTable
	quantSet [4]bool
	// huff[class*4+id]: DC tables 0..3, then AC tables 0..3; symbols live in sym.
	huff    [8]huffSpec
	huffSet [8]bool
	sym     [8][256]uint8

	scan []byte // from the first byte after SOS to the end of the data
}

// segment returns the payload of the marker segment starting at data[p] (just
// past the marker) and the position after it.
func segment(data []byte, p int, m byte) ([]byte, int, error) {
	if p+2 > len(data) {
		return nil, 0, fmt.Errorf("%w: marker %#02x length", ErrShort, m)
	}
	n := int(data[p])<<8 | int(data[p+1])
	if n < 2 {
		return nil, 0, fmt.Errorf("%w: marker %#02x length %d", ErrCorrupt, m, n)
	}
	if p+n > len(data) {
		return nil, 0, fmt.Errorf("%w: marker %#02x segment of %d bytes, %d left", ErrShort, m, n, len(data)-p)
	}
	return data[p+2 : p+n], p + n, nil
}

// parseHeader reads a JPEG's markers up to its first scan (ITU T.81 §B.2, §B.3):
// SOI, then APPn and COM (skipped), DQT, SOF0/SOF1, DHT, DRI and SOS. It refuses
// with ErrUnsupported what the coefficient path cannot take, with ErrCorrupt or
// ErrShort what is malformed. It allocates nothing.
func parseHeader(hd *jpegHeader, data []byte) error {
	*hd = jpegHeader{}
	if len(data) < 2 || data[0] != 0xff || data[1] != markerSOI {
		return fmt.Errorf("%w: no SOI marker", ErrCorrupt)
	}
	sawSOF := false
	p := 2
	for {
		// A marker is 0xFF, any number of fill 0xFF bytes, then its code (§B.1.1.2).
		if p >= len(data) {
			return fmt.Errorf("%w: data ends before the scan", ErrShort)
		}
		if data[p] != 0xff {
			return fmt.Errorf("%w: byte %#02x at %d where a marker belongs", ErrCorrupt, data[p], p)
		}
		for p < len(data) && data[p] == 0xff {
			p++
		}
		if p >= len(data) {
			return fmt.Errorf("%w: data ends inside a marker", ErrShort)
		}
		m := data[p]
		p++
		switch {
		case m == markerTEM:
			continue // standalone, no segment
		case m == 0x00, m == markerSOI, m == markerEOI, m >= markerRST0 && m <= markerRST7:
			return fmt.Errorf("%w: marker %#02x before the scan", ErrCorrupt, m)
		}
		seg, next, err := segment(data, p, m)
		if err != nil {
			return err
		}
		p = next
		switch {
		case m == markerDQT:
			err = hd.parseDQT(seg)
		case m == markerDHT:
			err = hd.parseDHT(seg)
		case m == markerDRI:
			if len(seg) != 2 {
				return fmt.Errorf("%w: DRI of %d bytes", ErrCorrupt, len(seg))
			}
			hd.restart = int(seg[0])<<8 | int(seg[1])
		case m == markerSOF0 || m == markerSOF1:
			if sawSOF {
				return fmt.Errorf("%w: two SOF markers", ErrCorrupt)
			}
			sawSOF = true
			err = hd.parseSOF(seg)
		case m == markerSOF2:
			return fmt.Errorf("%w: progressive JPEG (SOF2)", ErrUnsupported)
		case m == markerSOF3 || m >= 0xc5 && m <= 0xcf && m != markerDAC && m != 0xc8:
			return fmt.Errorf("%w: SOF%d (lossless, hierarchical or arithmetic coding)", ErrUnsupported, m-markerSOF0)
		case m == markerDAC:
			return fmt.Errorf("%w: arithmetic coding conditioning (DAC)", ErrUnsupported)
		case m == markerDNL:
			return fmt.Errorf("%w: DNL before the scan", ErrCorrupt)
		case m == markerSOS:
			if !sawSOF {
				return fmt.Errorf("%w: SOS before SOF", ErrCorrupt)
			}
			if err := hd.parseSOS(seg); err != nil {
				return err
			}
			hd.scan = data[p:]
			return nil
		}
		// APPn, COM, JPGn and other segments are skipped.
		if err != nil {
			return err
		}
	}
}

// parseDQT reads one or more quantisation tables, 8- or 16-bit (§B.2.4.1).
func (hd *jpegHeader) parseDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if pq > 1 || tq > 3 {
			return fmt.Errorf("%w: DQT Pq %d Tq %d", ErrCorrupt, pq, tq)
		}
		n := 1 + blockSize*(1+int(pq))
		if len(seg) < n {
			return fmt.Errorf("%w: DQT table %d cut short", ErrCorrupt, tq)
		}
		t := &hd.quant[tq]
		for k := range t {
			if pq == 0 {
				t[k] = uint16(seg[1+k])
			} else {
				t[k] = uint16(seg[1+2*k])<<8 | uint16(seg[2+2*k])
			}
			if t[k] == 0 {
				return fmt.Errorf("%w: DQT table %d entry %d is 0", ErrCorrupt, tq, k)
			}
		}
		hd.quantSet[tq] = true
		seg = seg[n:]
	}
	return nil
}

// parseDHT reads one or more Huffman tables (§B.2.4.2).
func (hd *jpegHeader) parseDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("%w: DHT cut short", ErrCorrupt)
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return fmt.Errorf("%w: DHT Tc %d Th %d", ErrCorrupt, tc, th)
		}
		i := int(tc)*4 + int(th)
		var h HuffTable
		copy(h.Count[:], seg[1:17])
		n := 0
		for _, c := range h.Count {
			n += int(c)
		}
		if n > 256 || len(seg) < 17+n {
			return fmt.Errorf("%w: DHT table of %d symbols cut short", ErrCorrupt, n)
		}
		copy(hd.sym[i][:], seg[17:17+n])
		h.Symbol = hd.sym[i][:n]
		s, err := checkHuff(&h, tc == 0)
		if err != nil {
			return fmt.Errorf("DHT class %d table %d: %w", tc, th, err)
		}
		hd.huff[i], hd.huffSet[i] = s, true
		seg = seg[17+n:]
	}
	return nil
}

// parseSOF reads a baseline or extended sequential frame header (§B.2.2).
func (hd *jpegHeader) parseSOF(seg []byte) error {
	if len(seg) < 6 {
		return fmt.Errorf("%w: SOF of %d bytes", ErrCorrupt, len(seg))
	}
	if seg[0] != 8 {
		return fmt.Errorf("%w: %d-bit samples", ErrUnsupported, seg[0])
	}
	hd.h = int(seg[1])<<8 | int(seg[2])
	hd.w = int(seg[3])<<8 | int(seg[4])
	nf := int(seg[5])
	if hd.h == 0 {
		return fmt.Errorf("%w: height given by DNL", ErrUnsupported)
	}
	if hd.w == 0 {
		return fmt.Errorf("%w: width 0", ErrCorrupt)
	}
	if hd.w > MaxWidth || hd.h > MaxHeight {
		return fmt.Errorf("%w: %dx%d is larger than %dx%d", ErrUnsupported, hd.w, hd.h, MaxWidth, MaxHeight)
	}
	if nf != 1 && nf != 3 {
		return fmt.Errorf("%w: %d components", ErrUnsupported, nf)
	}
	if len(seg) != 6+3*nf {
		return fmt.Errorf("%w: SOF of %d bytes for %d components", ErrCorrupt, len(seg), nf)
	}
	hd.ncomp = nf
	for i := 0; i < nf; i++ {
		c := &hd.comp[i]
		c.id, c.h, c.v, c.tq = seg[6+3*i], seg[7+3*i]>>4, seg[7+3*i]&15, seg[8+3*i]
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return fmt.Errorf("%w: component %d sampling %dx%d table %d", ErrCorrupt, c.id, c.h, c.v, c.tq)
		}
		for j := 0; j < i; j++ {
			if hd.comp[j].id == c.id {
				return fmt.Errorf("%w: component id %d twice", ErrCorrupt, c.id)
			}
		}
	}
	if nf == 3 {
		// Y must have twice the chroma's columns and once (4:2:2) or twice (4:2:0)
		// its rows: Y 2x1/C 1x1 (webcams' 4:2:2), Y 2x2/C 1x1 (4:2:0), and the
		// same scaled, such as ffmpeg's 4:2:2 as Y 2x2/C 1x2.
		y, cb, cr := hd.comp[0], hd.comp[1], hd.comp[2]
		if cb.h != cr.h || cb.v != cr.v || y.h != 2*cb.h || (y.v != cb.v && y.v != 2*cb.v) ||
			int(y.h)*int(y.v)+2*int(cb.h)*int(cb.v) > 10 {
			return fmt.Errorf("%w: sampling Y %dx%d Cb %dx%d Cr %dx%d (only 4:2:0 and 4:2:2)",
				ErrUnsupported, y.h, y.v, cb.h, cb.v, cr.h, cr.v)
		}
	}
	return nil
}

// parseSOS reads the scan header (§B.2.3): one scan of every component in frame
// order, sequential (Ss 0, Se 63, Ah Al 0).
func (hd *jpegHeader) parseSOS(seg []byte) error {
	if len(seg) < 1 {
		return fmt.Errorf("%w: empty SOS", ErrCorrupt)
	}
	ns := int(seg[0])
	if len(seg) != 4+2*ns {
		return fmt.Errorf("%w: SOS of %d bytes for %d components", ErrCorrupt, len(seg), ns)
	}
	if ns != hd.ncomp {
		return fmt.Errorf("%w: a scan of %d of %d components (several scans)", ErrUnsupported, ns, hd.ncomp)
	}
	for i := 0; i < ns; i++ {
		c := &hd.comp[i]
		if seg[1+2*i] != c.id {
			return fmt.Errorf("%w: scan component %d is not frame component %d", ErrCorrupt, seg[1+2*i], c.id)
		}
		c.td, c.ta = seg[2+2*i]>>4, seg[2+2*i]&15
		if c.td > 3 || c.ta > 3 {
			return fmt.Errorf("%w: Huffman selectors %d/%d", ErrCorrupt, c.td, c.ta)
		}
		if !hd.quantSet[c.tq] {
			return fmt.Errorf("%w: quantisation table %d not defined", ErrCorrupt, c.tq)
		}
		// Cameras following the AVI1/MJPEG convention omit DHT: Annex K.3 applies.
		for _, k := range []int{int(c.td), 4 + int(c.ta)} {
			if hd.huffSet[k] {
				continue
			}
			if k&3 > 1 {
				return fmt.Errorf("%w: Huffman table %d/%d not defined", ErrCorrupt, k>>2, k&3)
			}
			hd.huff[k] = huffSpecs[(k&3)*2+k>>2] // id*2 + class, as huffSpecs is ordered
		}
	}
	ss, se, a := seg[1+2*ns], seg[2+2*ns], seg[3+2*ns]
	if ss != 0 || se != 63 || a != 0 {
		return fmt.Errorf("%w: spectral selection %d..%d, approximation %#02x", ErrUnsupported, ss, se, a)
	}
	return nil
}
