package rtpjpeg

import (
	"encoding/binary"
	"fmt"
)

// JPEG markers (ITU T.81 Table B.1) the packetiser reads or writes.
const (
	markerSOI  = 0xd8
	markerEOI  = 0xd9
	markerSOF0 = 0xc0
	markerDHT  = 0xc4
	markerDQT  = 0xdb
	markerDRI  = 0xdd
	markerSOS  = 0xda
)

// frame is what RFC 2435 sends of a JPEG file: its type, size, tables and scan.
type frame struct {
	typ    uint8
	width  int // pixels
	height int
	tables [TablesSize]byte // luma then chroma table, zig-zag order
	scan   []byte           // entropy-coded data, without the EOI
}

// parseJPEG reads a baseline JPEG file as internal/fastjpeg writes it and returns the
// parts RFC 2435 carries. It accepts only what a receiver can rebuild from the RTP
// headers alone (§3.1, Appendix A): three components 1, 2, 3 with Y sampled 2x1
// (Type0) or 2x2 (Type1) and Cb, Cr 1x1; Y on quantisation table 0, Cb and Cr on
// table 1, both 8-bit; one scan; no restart interval. Its Huffman tables must be the
// standard ones of ITU T.81 Annex K.3, which fastjpeg's are; they are not sent.
func parseJPEG(b []byte) (frame, error) {
	var f frame
	if len(b) < 4 || b[0] != 0xff || b[1] != markerSOI {
		return f, fmt.Errorf("%w: no SOI marker", ErrBadJPEG)
	}
	var haveQ [2]bool
	haveSOF := false
	for p := 2; ; {
		if p+4 > len(b) {
			return f, fmt.Errorf("%w: ends before its scan", ErrBadJPEG)
		}
		if b[p] != 0xff {
			return f, fmt.Errorf("%w: no marker at byte %d", ErrBadJPEG, p)
		}
		marker := b[p+1]
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		if n < 2 || p+2+n > len(b) {
			return f, fmt.Errorf("%w: segment %#x at byte %d runs past the end", ErrBadJPEG, marker, p)
		}
		seg := b[p+4 : p+2+n]
		p += 2 + n
		switch marker {
		case markerDQT:
			for len(seg) > 0 {
				if len(seg) < 1+64 {
					return f, fmt.Errorf("%w: short DQT", ErrBadJPEG)
				}
				pq, tq := seg[0]>>4, seg[0]&0x0f
				if pq != 0 || tq > 1 {
					return f, fmt.Errorf("%w: DQT table %d with precision %d; want 8-bit tables 0 and 1", ErrBadJPEG, tq, pq)
				}
				copy(f.tables[64*int(tq):], seg[1:65])
				haveQ[tq] = true
				seg = seg[65:]
			}
		case markerSOF0:
			if err := f.readSOF(seg); err != nil {
				return f, err
			}
			haveSOF = true
		case markerDRI:
			if len(seg) != 2 || seg[0]|seg[1] != 0 {
				return f, fmt.Errorf("%w: restart interval not sent (types 64..127 are not used)", ErrBadJPEG)
			}
		case markerSOS:
			if !haveSOF || !haveQ[0] || !haveQ[1] {
				return f, fmt.Errorf("%w: scan before SOF0 and both quantisation tables", ErrBadJPEG)
			}
			if len(seg) != 1+3*2+3 || seg[0] != 3 {
				return f, fmt.Errorf("%w: scan of other than three components", ErrBadJPEG)
			}
			scan := b[p:]
			if len(scan) < 2 || scan[len(scan)-2] != 0xff || scan[len(scan)-1] != markerEOI {
				return f, fmt.Errorf("%w: scan not closed by EOI", ErrBadJPEG)
			}
			f.scan = scan[:len(scan)-2]
			return f, nil
		case markerDHT:
			// Standard tables assumed (see above).
		default:
			if marker < 0xe0 && marker != 0xfe { // APPn and COM carry nothing RFC 2435 needs
				return f, fmt.Errorf("%w: marker %#x (only baseline SOF0 is sent)", ErrBadJPEG, marker)
			}
		}
	}
}

// readSOF checks a SOF0 segment (ITU T.81 §B.2.2) and sets f's size and type.
func (f *frame) readSOF(seg []byte) error {
	if len(seg) != 6+3*3 || seg[0] != 8 || seg[5] != 3 {
		return fmt.Errorf("%w: SOF0 not 8-bit with three components", ErrBadJPEG)
	}
	f.height = int(binary.BigEndian.Uint16(seg[1:]))
	f.width = int(binary.BigEndian.Uint16(seg[3:]))
	if f.width == 0 || f.height == 0 {
		return fmt.Errorf("%w: %dx%d", ErrBadJPEG, f.width, f.height)
	}
	c := seg[6:]
	switch {
	case c[0] != 1 || c[3] != 2 || c[6] != 3:
		return fmt.Errorf("%w: component ids %d %d %d, want 1 2 3", ErrBadJPEG, c[0], c[3], c[6])
	case c[4] != 0x11 || c[7] != 0x11:
		return fmt.Errorf("%w: chroma sampled %#x %#x, want 1x1", ErrBadJPEG, c[4], c[7])
	case c[2] != 0 || c[5] != 1 || c[8] != 1:
		return fmt.Errorf("%w: quantisation tables %d %d %d, want 0 1 1", ErrBadJPEG, c[2], c[5], c[8])
	}
	switch c[1] {
	case 0x21:
		f.typ = Type0
	case 0x22:
		f.typ = Type1
	default:
		return fmt.Errorf("%w: luma sampled %#x, want 2x1 (type 0) or 2x2 (type 1)", ErrBadJPEG, c[1])
	}
	return nil
}

// appendJPEGHeader appends the headers that turn a frame's scan back into a JPEG file
// (RFC 2435 Appendix A's MakeHeaders): SOI, DQT with the two tables, SOF0 for the
// type and size, the standard Huffman tables (dht, a DHT segment with its marker),
// and SOS.
func appendJPEGHeader(dst []byte, typ uint8, width, height int, tables *[TablesSize]byte, dht []byte) []byte {
	dst = append(dst, 0xff, markerSOI)
	dst = append(dst, 0xff, markerDQT, 0, 2+2*65, 0)
	dst = append(dst, tables[:64]...)
	dst = append(dst, 1)
	dst = append(dst, tables[64:]...)
	ySampling := byte(0x21)
	if typ&^64 == Type1 {
		ySampling = 0x22
	}
	dst = append(dst, 0xff, markerSOF0, 0, 17, 8, byte(height>>8), byte(height), byte(width>>8), byte(width), 3,
		1, ySampling, 0, 2, 0x11, 1, 3, 0x11, 1)
	dst = append(dst, dht...)
	return append(dst, 0xff, markerSOS, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
}

// findDHT returns the first DHT segment of a JPEG file, marker included.
func findDHT(b []byte) ([]byte, error) {
	for p := 2; p+4 <= len(b) && b[p] == 0xff; {
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		if p+2+n > len(b) {
			break
		}
		if b[p+1] == markerDHT {
			return b[p : p+2+n], nil
		}
		p += 2 + n
	}
	return nil, fmt.Errorf("%w: no DHT segment", ErrBadJPEG)
}
