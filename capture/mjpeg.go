package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
)

// JPEG marker codes (ITU-T T.81 Table B.1).
const (
	markerPrefix = 0xff
	markerTEM    = 0x01 // temporary private use, stands alone
	markerSOF0   = 0xc0 // baseline frame header: holds the picture size
	markerSOF2   = 0xc2 // progressive frame header
	markerDHT    = 0xc4 // define Huffman tables
	markerRST0   = 0xd0 // restart markers RST0..RST7 stand alone
	markerRST7   = 0xd7
	markerSOI    = 0xd8 // start of image
	markerEOI    = 0xd9 // end of image
	markerSOS    = 0xda // start of scan: entropy-coded data follows its header
)

// maxJPEGFrame bounds one frame of an MJPEG stream so a file without markers cannot
// make the splitter buffer all of it.
const maxJPEGFrame = 64 << 20

var (
	// errShortFrame marks a camera buffer too short for the negotiated format.
	errShortFrame = errors.New("short frame")
	// errCorruptJPEG marks a JPEG frame that could not be cut out of a stream or decoded.
	errCorruptJPEG = errors.New("corrupt JPEG frame")
)

// standardDHT is one DHT segment, marker included, holding the four Huffman tables of
// ITU-T T.81 Annex K.3 (K.3.3.1 and K.3.3.2). MJPEG as sent by UVC cameras and in
// AVI files may omit the DHT segment and rely on these tables (the AVI1 convention
// that RFC 2435 section 3.1 also follows); image/jpeg needs them spelled out.
var standardDHT = buildStandardDHT()

func buildStandardDHT() []byte {
	tables := []struct {
		class  byte // 0 DC, 1 AC; high nibble of Tc|Th
		id     byte // 0 luminance, 1 chrominance
		counts [16]byte
		values []byte
	}{
		{0, 0, [16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
			[]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{1, 0, [16]byte{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d}, []byte{
			0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
			0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
			0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
			0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
			0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
			0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
			0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
			0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
			0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
			0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa}},
		{0, 1, [16]byte{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
			[]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{1, 1, [16]byte{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77}, []byte{
			0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
			0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
			0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
			0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
			0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
			0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
			0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
			0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
			0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
			0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa}},
	}
	body := []byte{}
	for _, t := range tables {
		body = append(body, t.class<<4|t.id)
		body = append(body, t.counts[:]...)
		body = append(body, t.values...)
	}
	n := len(body) + 2 // the length field counts itself (T.81 B.1.1.4)
	return append([]byte{markerPrefix, markerDHT, byte(n >> 8), byte(n)}, body...)
}

// jpegLayout walks the marker segments of one JPEG frame up to its first SOS and
// returns the SOS offset and whether a DHT segment came before it. It never reads
// past len(frame); a frame it cannot walk is reported as corrupt.
func jpegLayout(frame []byte) (sos int, hasDHT bool, err error) {
	if len(frame) < 4 || frame[0] != markerPrefix || frame[1] != markerSOI {
		return 0, false, fmt.Errorf("%w: no SOI marker", errCorruptJPEG)
	}
	i := 2
	for {
		if i >= len(frame) || frame[i] != markerPrefix {
			return 0, false, fmt.Errorf("%w: expected a marker at byte %d", errCorruptJPEG, i)
		}
		for i < len(frame) && frame[i] == markerPrefix { // fill bytes (T.81 B.1.1.2)
			i++
		}
		if i >= len(frame) {
			return 0, false, fmt.Errorf("%w: ends inside a marker", errCorruptJPEG)
		}
		m := frame[i]
		i++
		switch {
		case m == markerSOS:
			return i - 2, hasDHT, nil
		case m == markerEOI:
			return 0, false, fmt.Errorf("%w: EOI before any scan", errCorruptJPEG)
		case standaloneMarker(m):
			continue
		case m == markerDHT:
			hasDHT = true
		}
		if i+2 > len(frame) {
			return 0, false, fmt.Errorf("%w: segment length cut off", errCorruptJPEG)
		}
		n := int(frame[i])<<8 | int(frame[i+1])
		if n < 2 || i+n > len(frame) {
			return 0, false, fmt.Errorf("%w: segment of %d bytes at byte %d overruns the frame", errCorruptJPEG, n, i)
		}
		i += n
	}
}

// standaloneMarker reports markers that have no length field (T.81 B.1.1.3).
func standaloneMarker(m byte) bool {
	return m == markerTEM || m == markerSOI || (m >= markerRST0 && m <= markerRST7)
}

// withHuffmanTables returns frame unchanged when it defines its Huffman tables and
// ends with EOI, and otherwise a copy in scratch with the standard tables inserted
// before the first SOS and an EOI appended where there was none: image/jpeg needs
// both, and webcams leave out either. It returns the (possibly grown) scratch for
// reuse. A frame whose entropy-coded data is cut short still fails to decode, EOI or
// not: the appended marker only ends data that is already complete.
func withHuffmanTables(frame, scratch []byte) (fixed, scratchOut []byte, err error) {
	sos, hasDHT, err := jpegLayout(frame)
	if err != nil {
		return frame, scratch, err
	}
	hasEOI := bytes.HasSuffix(frame, []byte{markerPrefix, markerEOI})
	if hasDHT && hasEOI {
		return frame, scratch, nil
	}
	out := append(scratch[:0], frame[:sos]...)
	if !hasDHT {
		out = append(out, standardDHT...)
	}
	out = append(out, frame[sos:]...)
	if !hasEOI {
		out = append(out, markerPrefix, markerEOI)
	}
	return out, out, nil
}

// jpegDecoder decodes MJPEG frames, camera or file, into 4:2:0 or 4:2:2 pictures.
// It is not safe for concurrent use.
type jpegDecoder struct {
	scratch []byte
	rd      bytes.Reader
}

// decode turns one JPEG frame into a picture, adding the standard Huffman tables
// when the frame lacks them. Every failure wraps errCorruptJPEG: a bad frame is
// the frame's fault, never the stream's.
func (d *jpegDecoder) decode(frame []byte) (*image.YCbCr, error) {
	fixed, scratch, err := withHuffmanTables(frame, d.scratch)
	d.scratch = scratch
	if err != nil {
		return nil, err
	}
	// image/jpeg allocates the whole picture its frame header declares, so a corrupt
	// frame claiming 65280x39440 would take gigabytes: read the size first.
	d.rd.Reset(fixed)
	cfg, err := jpeg.DecodeConfig(&d.rd)
	if err != nil {
		d.rd.Reset(nil)
		return nil, fmt.Errorf("%w: %v", errCorruptJPEG, err)
	}
	if cfg.Width*cfg.Height > maxJPEGPixels {
		d.rd.Reset(nil)
		return nil, fmt.Errorf("%w: %dx%d is larger than 8K UHD", errCorruptJPEG, cfg.Width, cfg.Height)
	}
	d.rd.Reset(fixed)
	img, err := jpeg.Decode(&d.rd)
	d.rd.Reset(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorruptJPEG, err)
	}
	out, err := normalize(img)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorruptJPEG, err)
	}
	return out, nil
}

// maxJPEGPixels is the largest picture an MJPEG frame may declare: 8K UHD, the most
// a receiver accepts by default (wire.DefaultLimits).
const maxJPEGPixels = 7680 * 4320

// jpegSplitter cuts a stream of concatenated JPEG frames (a .mjpeg file, ffmpeg's
// -f mjpeg output) into frames by walking the markers: segments by their length,
// entropy-coded data up to the next marker that is not a stuffed 0xFF00 or an RST.
// Bytes between frames are skipped.
type jpegSplitter struct {
	r   *bufio.Reader
	buf []byte
	// soi is set when the last frame broke off at the SOI of the next one, which
	// has therefore been read already.
	soi bool
	// atEnd is set when the last frame returned had no EOI because the stream
	// ended inside its entropy-coded data: if it does not decode, the stream was
	// cut there.
	atEnd bool
}

func newJPEGSplitter(r io.Reader) *jpegSplitter {
	return &jpegSplitter{r: bufio.NewReaderSize(r, 256<<10)}
}

// reset starts over on r (after a seek, for --loop).
func (s *jpegSplitter) reset(r io.Reader) {
	s.r.Reset(r)
	s.soi, s.atEnd = false, false
}

// next returns the next frame, valid until the following call. It returns io.EOF
// when the stream ends between frames, io.ErrUnexpectedEOF when it ends inside
// one's headers, and an error wrapping errCorruptJPEG for a frame whose structure
// is broken (the following call resynchronises on the next SOI).
//
// Some webcams end a frame without an EOI marker (ffmpeg shows such frames). A
// frame whose entropy-coded data runs into the next SOI, or into the end of the
// stream, is therefore returned with an EOI appended: whether its data is complete
// is for the decoder to find out (image/jpeg fails on a scan that is cut short), and
// atEnd says whether it was the end of the stream that stopped it.
func (s *jpegSplitter) next() ([]byte, error) {
	s.atEnd = false
	if s.soi {
		s.soi = false
	} else if err := s.findSOI(); err != nil {
		return nil, err
	}
	buf := append(s.buf[:0], markerPrefix, markerSOI)
	defer func() { s.buf = buf[:0] }()
	scanned := false // entropy-coded data has been read: the frame may end without EOI
	m, err := s.readMarker()
	for {
		if err == io.ErrUnexpectedEOF && scanned {
			s.atEnd = true
			return append(buf, markerPrefix, markerEOI), nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) > maxJPEGFrame {
			return nil, fmt.Errorf("%w: longer than %d MiB", errCorruptJPEG, maxJPEGFrame>>20)
		}
		if m == markerSOI { // the next frame begins
			s.soi = true
			if scanned {
				return append(buf, markerPrefix, markerEOI), nil
			}
			return nil, fmt.Errorf("%w: cut short by the next frame", errCorruptJPEG)
		}
		buf = append(buf, markerPrefix, m)
		switch {
		case m == markerEOI:
			return buf, nil
		case standaloneMarker(m):
			m, err = s.readMarker()
			continue
		}
		if buf, err = s.readSegment(buf); err != nil {
			return nil, err
		}
		if m == markerSOS {
			buf, m, err = s.scanEntropy(buf)
			scanned = true
		} else {
			m, err = s.readMarker()
		}
	}
}

// findSOI skips to just past the next FF D8. Bytes after the last frame that hold
// no SOI (padding, an index) end the stream cleanly with io.EOF.
func (s *jpegSplitter) findSOI() error {
	for {
		if _, err := s.r.ReadSlice(markerPrefix); err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			return err
		}
		b, err := s.r.Peek(1)
		if err != nil {
			return err
		}
		if b[0] == markerSOI {
			s.r.Discard(1)
			return nil
		}
	}
}

// readMarker reads FF (fill FFs allowed) and returns the marker code.
func (s *jpegSplitter) readMarker() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		return 0, unexpected(err)
	}
	if b != markerPrefix {
		return 0, fmt.Errorf("%w: expected a marker, found 0x%02x", errCorruptJPEG, b)
	}
	for b == markerPrefix {
		if b, err = s.r.ReadByte(); err != nil {
			return 0, unexpected(err)
		}
	}
	return b, nil
}

// readSegment copies a length-prefixed segment body onto buf.
func (s *jpegSplitter) readSegment(buf []byte) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(s.r, l[:]); err != nil {
		return buf, unexpected(err)
	}
	n := int(l[0])<<8 | int(l[1])
	if n < 2 {
		return buf, fmt.Errorf("%w: segment length %d", errCorruptJPEG, n)
	}
	buf = append(buf, l[:]...)
	start := len(buf)
	buf = append(buf, make([]byte, n-2)...)
	if _, err := io.ReadFull(s.r, buf[start:]); err != nil {
		return buf, unexpected(err)
	}
	return buf, nil
}

// scanEntropy copies entropy-coded data onto buf and returns the marker ending it.
func (s *jpegSplitter) scanEntropy(buf []byte) ([]byte, byte, error) {
	for {
		chunk, err := s.r.ReadSlice(markerPrefix)
		if err == bufio.ErrBufferFull {
			buf = append(buf, chunk...)
			if len(buf) > maxJPEGFrame {
				return buf, 0, fmt.Errorf("%w: longer than %d MiB", errCorruptJPEG, maxJPEGFrame>>20)
			}
			continue
		}
		if err != nil {
			// What came before the end is kept: a frame without EOI may be whole.
			return append(buf, chunk...), 0, unexpected(err)
		}
		buf = append(buf, chunk[:len(chunk)-1]...) // the FF goes with what follows
		b, err := s.r.ReadByte()
		for err == nil && b == markerPrefix {
			b, err = s.r.ReadByte()
		}
		if err != nil {
			return buf, 0, unexpected(err)
		}
		if b == 0 || (b >= markerRST0 && b <= markerRST7) { // stuffed byte or restart: still data
			buf = append(buf, markerPrefix, b)
			continue
		}
		return buf, b, nil
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
