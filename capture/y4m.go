package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"strconv"
	"strings"
)

// YUV4MPEG2 framing: a header line, then per frame a line starting FRAME and the
// planes Y, Cb, Cr (https://wiki.multimedia.cx/index.php/YUV4MPEG2).
const (
	y4mMagic       = "YUV4MPEG2"
	y4mFrameMagic  = "FRAME"
	y4mMaxLine     = 4096 // longer header or FRAME lines are not Y4M
	y4mMaxSide     = 16384
	y4mDefaultRate = 25 // what ffmpeg assumes for a header without F
)

var (
	// errNotY4M marks input that does not start with the YUV4MPEG2 magic.
	errNotY4M = errors.New("not a YUV4MPEG2 stream")
	// errY4MUnsupported marks a well-formed header this reader does not decode
	// (deep colour, unusual chroma); Open hands such files to ffmpeg instead.
	errY4MUnsupported = errors.New("unsupported YUV4MPEG2 colour space")
)

// Y4MHeader is the stream header of a YUV4MPEG2 file, as this package reads it; the
// lab's benchmark clips are read with it too.
type Y4MHeader struct {
	Interlace        string // the I parameter: "p" progressive (the default), "t", "b", "m" or "?"
	Width, Height    int
	RateNum, RateDen int
	Chroma           string // the C parameter as written, "420jpeg" when absent
	Sub              image.YCbCrSubsampleRatio
	Mono             bool // C mono: a Y plane only
	Alpha            bool // C 444alpha: a fourth plane follows Cr
	// Colour is how the samples are to be read. The Y4M header has no matrix
	// field, so it is BT.601; the range is limited unless the ffmpeg extension
	// XCOLORRANGE says FULL (ffmpeg writes FULL for yuvj formats and for full-range
	// sources, LIMITED or nothing otherwise: limited is its default and the
	// format's convention).
	Colour Colour
}

// FPS is the header's frame rate.
func (h Y4MHeader) FPS() float64 { return float64(h.RateNum) / float64(h.RateDen) }

// chromaSize is the size of one chroma plane of a frame.
func (h Y4MHeader) chromaSize() (w, ht int) {
	if h.Mono {
		return 0, 0
	}
	switch h.Sub {
	case image.YCbCrSubsampleRatio444:
		return h.Width, h.Height
	case image.YCbCrSubsampleRatio422:
		return (h.Width + 1) / 2, h.Height
	case image.YCbCrSubsampleRatio440:
		return h.Width, (h.Height + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (h.Width + 3) / 4, h.Height
	default:
		return (h.Width + 1) / 2, (h.Height + 1) / 2
	}
}

// frameBytes is the size of one frame's planes.
func (h Y4MHeader) frameBytes() int {
	cw, ch := h.chromaSize()
	n := h.Width*h.Height + 2*cw*ch
	if h.Alpha {
		n += h.Width * h.Height
	}
	return n
}

// OutSub is the subsampling frames leave the reader with.
func (h Y4MHeader) OutSub() image.YCbCrSubsampleRatio {
	if !h.Mono && keepsSubsampling(h.Sub) {
		return h.Sub
	}
	return image.YCbCrSubsampleRatio420
}

// ParseY4MHeader parses the header line, without its newline. It returns an error
// for anything but the YUV4MPEG2 magic, a size of 1..16384 a side, a positive rate, and
// an 8-bit colour space this package reads (errY4MUnsupported for the others).
func ParseY4MHeader(line []byte) (Y4MHeader, error) {
	h := Y4MHeader{RateNum: y4mDefaultRate, RateDen: 1, Chroma: "420jpeg", Interlace: "p", Colour: Colour{Range: RangeLimited}}
	fields := strings.Fields(string(line))
	if len(fields) == 0 || fields[0] != y4mMagic {
		return h, errNotY4M
	}
	for _, f := range fields[1:] {
		val := f[1:]
		var err error
		switch f[0] {
		case 'W':
			h.Width, err = strconv.Atoi(val)
		case 'H':
			h.Height, err = strconv.Atoi(val)
		case 'F':
			h.RateNum, h.RateDen, err = parseRatio(val)
		case 'C':
			h.Chroma = val
		case 'X':
			switch {
			case strings.EqualFold(val, "COLORRANGE=FULL"):
				h.Colour.Range = RangeFull
			case strings.EqualFold(val, "COLORRANGE=LIMITED"):
				h.Colour.Range = RangeLimited
			}
		case 'I':
			h.Interlace = val // interlacing does not change the planes
		case 'A': // nor does the pixel aspect
		default: // unknown parameters are allowed and ignored
		}
		if err != nil {
			return h, fmt.Errorf("y4m header: bad %c parameter %q", f[0], val)
		}
	}
	if h.Width <= 0 || h.Height <= 0 || h.Width > y4mMaxSide || h.Height > y4mMaxSide {
		return h, fmt.Errorf("y4m header: size %dx%d (need W and H, each 1..%d)", h.Width, h.Height, y4mMaxSide)
	}
	if h.RateNum <= 0 || h.RateDen <= 0 {
		return h, fmt.Errorf("y4m header: frame rate %d:%d", h.RateNum, h.RateDen)
	}
	switch {
	case h.Chroma == "420" || h.Chroma == "420jpeg" || h.Chroma == "420mpeg2" || h.Chroma == "420paldv":
		h.Sub = image.YCbCrSubsampleRatio420 // 420jpeg, 420mpeg2, 420paldv differ only in siting
	case h.Chroma == "422":
		h.Sub = image.YCbCrSubsampleRatio422
	case h.Chroma == "444":
		h.Sub = image.YCbCrSubsampleRatio444
	case h.Chroma == "444alpha":
		h.Sub, h.Alpha = image.YCbCrSubsampleRatio444, true
	case h.Chroma == "440":
		h.Sub = image.YCbCrSubsampleRatio440
	case h.Chroma == "411":
		h.Sub = image.YCbCrSubsampleRatio411
	case h.Chroma == "mono":
		h.Sub, h.Mono = image.YCbCrSubsampleRatio420, true
	default:
		return h, fmt.Errorf("%w C%s (8-bit 420, 422, 444, 440, 411 and mono are read directly)", errY4MUnsupported, h.Chroma)
	}
	return h, nil
}

// parseRatio parses "num:den".
func parseRatio(s string) (num, den int, err error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("no colon")
	}
	if num, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	if den, err = strconv.Atoi(b); err != nil {
		return 0, 0, err
	}
	return num, den, nil
}

// y4mReader reads frames of a YUV4MPEG2 stream into 4:2:0 or 4:2:2 pictures.
type y4mReader struct {
	r       *bufio.Reader
	hdr     Y4MHeader
	hdrLen  int64 // bytes of the header line, newline included: where frame 0 starts
	scratch *image.YCbCr
	discard []byte
}

// y4mBuffer is the reader's buffer for header and FRAME lines. The planes are
// read through it, and bufio reads a plane straight into the frame once what it
// holds is used: every byte it holds is copied twice (into it, then into the
// frame), so it is small. With 1 MB two of a 1080p frame's 3 MB went through it,
// 0.13 ms a frame more (BENCHMARKS.md, Overheads outside the codec).
const y4mBuffer = 64 << 10

// newY4MReader reads the stream header from r.
func newY4MReader(r io.Reader) (*y4mReader, error) {
	br := bufio.NewReaderSize(r, y4mBuffer)
	line, err := readLine(br)
	if err != nil {
		if !bytes.HasPrefix(line, []byte(y4mMagic)) {
			return nil, errNotY4M
		}
		return nil, fmt.Errorf("y4m header: %w", unexpected(err))
	}
	hdr, err := ParseY4MHeader(line)
	if err != nil {
		return nil, err
	}
	return &y4mReader{r: br, hdr: hdr, hdrLen: int64(len(line) + 1)}, nil
}

// readLine returns one line without its newline, failing on lines over y4mMaxLine.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			return line[:len(line)-1], nil
		}
		if len(line) > y4mMaxLine {
			return line, fmt.Errorf("line longer than %d bytes", y4mMaxLine)
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(line) > 0 {
				return line, io.ErrUnexpectedEOF
			}
			return line, err
		}
	}
}

// reset continues reading from r, which must be positioned at the first FRAME.
func (y *y4mReader) reset(r io.Reader) { y.r.Reset(r) }

// readFrame reads the next frame into dst, a picture of the reader's size and
// OutSub subsampling, unless the file's subsampling must be converted: then it
// returns a new picture. It returns io.EOF at a clean end and io.ErrUnexpectedEOF
// when the stream ends inside a frame.
func (y *y4mReader) readFrame(dst *image.YCbCr) (*image.YCbCr, error) {
	if err := y.frameHeader(); err != nil {
		return nil, err
	}
	h := y.hdr
	switch {
	case h.Mono:
		if err := readFull(y.r, dst.Y[:h.Width*h.Height]); err != nil {
			return nil, err
		}
		fillNeutralChroma(dst)
		return dst, nil
	case keepsSubsampling(h.Sub):
		if err := y.readPlanes(dst); err != nil {
			return nil, err
		}
		return dst, nil
	default:
		if y.scratch == nil {
			y.scratch = image.NewYCbCr(image.Rect(0, 0, h.Width, h.Height), h.Sub)
		}
		if err := y.readPlanes(y.scratch); err != nil {
			return nil, err
		}
		return to420(y.scratch), nil
	}
}

// skipFrame moves past the next frame without keeping it.
func (y *y4mReader) skipFrame() error {
	if err := y.frameHeader(); err != nil {
		return err
	}
	n, err := y.r.Discard(y.hdr.frameBytes())
	if err != nil {
		if n == 0 && err == io.EOF {
			return io.ErrUnexpectedEOF // a FRAME line promised data
		}
		return unexpected(err)
	}
	return nil
}

func (y *y4mReader) frameHeader() error {
	line, err := readLine(y.r)
	if err != nil {
		if err == io.EOF && len(line) == 0 {
			return io.EOF
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return io.ErrUnexpectedEOF
		}
		return fmt.Errorf("y4m frame header: %w", err)
	}
	if !bytes.HasPrefix(line, []byte(y4mFrameMagic)) {
		return fmt.Errorf("y4m: expected FRAME, found %q", clip(line, 16))
	}
	return nil
}

// readPlanes fills img (stride equal to width, as image.NewYCbCr makes it) from the
// stream, then drops an alpha plane if the file has one.
func (y *y4mReader) readPlanes(img *image.YCbCr) error {
	h := y.hdr
	cw, ch := h.chromaSize()
	if err := readFull(y.r, img.Y[:h.Width*h.Height]); err != nil {
		return err
	}
	if err := readFull(y.r, img.Cb[:cw*ch]); err != nil {
		return err
	}
	if err := readFull(y.r, img.Cr[:cw*ch]); err != nil {
		return err
	}
	if h.Alpha {
		if _, err := y.r.Discard(h.Width * h.Height); err != nil {
			return unexpected(err)
		}
	}
	return nil
}

// readFull is io.ReadFull where any end of input inside the buffer is a truncation.
func readFull(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		return unexpected(err)
	}
	return nil
}

// clip shortens b for an error message.
func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
