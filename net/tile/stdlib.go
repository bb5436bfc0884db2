package tile

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"sync"

	"github.com/hrvs/hrvs/net/wire"
)

// Encoder turns one tile of a frame into a payload.
type Encoder interface {
	// AppendTile appends the scan of rectangle r of img at quality q to dst and
	// returns it with the subsampling code the scan uses.
	AppendTile(dst []byte, img *image.YCbCr, r image.Rectangle, q int) ([]byte, uint8, error)
}

// StdEncoder encodes with the standard library's image/jpeg and cuts its output down
// to the scan. image/jpeg always writes 4:2:0, so 4:2:2 input is resampled.
type StdEncoder struct {
	buf bytes.Buffer
}

// AppendTile implements Encoder.
func (e *StdEncoder) AppendTile(dst []byte, img *image.YCbCr, r image.Rectangle, q int) ([]byte, uint8, error) {
	e.buf.Reset()
	if err := jpeg.Encode(&e.buf, img.SubImage(r), &jpeg.Options{Quality: q}); err != nil {
		return dst, 0, fmt.Errorf("encode tile %v: %w", r, err)
	}
	scan, err := Scan(e.buf.Bytes())
	if err != nil {
		return dst, 0, fmt.Errorf("encode tile %v: %w", r, err)
	}
	return append(dst, scan...), wire.Sub420, nil
}

// Scan returns the entropy-coded data of a baseline JPEG: the bytes after the SOS
// segment up to, not including, the EOI marker.
func Scan(jpg []byte) ([]byte, error) {
	i := 2
	for i+4 <= len(jpg) {
		if jpg[i] != 0xff {
			return nil, fmt.Errorf("%w: no marker at byte %d", ErrPayload, i)
		}
		marker := jpg[i+1]
		n := int(jpg[i+2])<<8 | int(jpg[i+3])
		if marker == 0xda { // SOS: the scan follows its header
			start := i + 2 + n
			end := len(jpg)
			if end >= 2 && jpg[end-2] == 0xff && jpg[end-1] == 0xd9 {
				end -= 2
			}
			if start > end {
				return nil, fmt.Errorf("%w: SOS past the end", ErrPayload)
			}
			return jpg[start:end], nil
		}
		i += 2 + n
	}
	return nil, fmt.Errorf("%w: no SOS marker", ErrPayload)
}

// Headers builds the JPEG header (SOI through SOS) the receiver puts before a scan.
// It takes the tables from image/jpeg itself, so they match what the sender's
// encoder used by construction, and caches one template per quality and subsampling.
type Headers struct {
	mu    sync.Mutex
	cache map[[2]uint8]headerTemplate
}

type headerTemplate struct {
	b      []byte
	sofOff int // offset of the SOF0 marker
}

// Append appends the header for a w x h scan at quality q with subsampling sub.
func (hs *Headers) Append(dst []byte, w, h, q int, sub uint8) ([]byte, error) {
	t, err := hs.template(q, sub)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, t.b...)
	sof := dst[start+t.sofOff:]
	// SOF0: FF C0, length(2), precision(1), height(2), width(2), ...
	sof[5], sof[6] = byte(h>>8), byte(h)
	sof[7], sof[8] = byte(w>>8), byte(w)
	return dst, nil
}

func (hs *Headers) template(q int, sub uint8) (headerTemplate, error) {
	key := [2]uint8{uint8(q), sub}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if t, ok := hs.cache[key]; ok {
		return t, nil
	}
	var buf bytes.Buffer
	img := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		return headerTemplate{}, fmt.Errorf("build JPEG header: %w", err)
	}
	b := buf.Bytes()
	scan, err := Scan(b)
	if err != nil {
		return headerTemplate{}, err
	}
	hdr := append([]byte(nil), b[:len(b)-len(scan)-2]...)
	sofOff := bytes.Index(hdr, []byte{0xff, 0xc0})
	if sofOff < 0 || sofOff+12 > len(hdr) {
		return headerTemplate{}, fmt.Errorf("build JPEG header: no SOF0 in image/jpeg output")
	}
	if sub == wire.Sub422 {
		hdr[sofOff+11] = 0x21 // Y samples 2 across, 1 down: MCU 16x8
	}
	t := headerTemplate{b: hdr, sofOff: sofOff}
	if hs.cache == nil {
		hs.cache = make(map[[2]uint8]headerTemplate)
	}
	hs.cache[key] = t
	return t, nil
}

// Decoder turns a payload back into pixels inside a frame.
type Decoder interface {
	// DecodeTile decodes scan, a w x h tile at quality q and subsampling sub, into
	// dst at rectangle r.
	DecodeTile(dst *image.YCbCr, r image.Rectangle, q int, sub uint8, scan []byte) error
}

// StdDecoder rebuilds a whole JPEG from the shared headers and decodes it with
// image/jpeg. It is the reference path and the fallback for anything the fast
// decoder does not take.
type StdDecoder struct {
	Headers *Headers
	buf     []byte
}

// DecodeTile implements Decoder.
func (d *StdDecoder) DecodeTile(dst *image.YCbCr, r image.Rectangle, q int, sub uint8, scan []byte) error {
	var err error
	d.buf, err = d.Headers.Append(d.buf[:0], r.Dx(), r.Dy(), q, sub)
	if err != nil {
		return err
	}
	d.buf = append(d.buf, scan...)
	d.buf = append(d.buf, 0xff, 0xd9)
	m, err := jpeg.Decode(bytes.NewReader(d.buf))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPayload, err)
	}
	src, ok := m.(*image.YCbCr)
	if !ok || src.Rect.Dx() != r.Dx() || src.Rect.Dy() != r.Dy() {
		return fmt.Errorf("%w: decoded to %T of %v, want YCbCr %dx%d", ErrPayload, m, m.Bounds(), r.Dx(), r.Dy())
	}
	return place(dst, src, r)
}

// place copies a decoded tile into the frame at r, resampling chroma between 4:2:0
// and 4:2:2 when the tile and the frame differ.
func place(dst, src *image.YCbCr, r image.Rectangle) error {
	if !r.In(dst.Rect) {
		return fmt.Errorf("%w: tile %v outside the frame %v", ErrPayload, r, dst.Rect)
	}
	for y := 0; y < r.Dy(); y++ {
		o := (r.Min.Y+y)*dst.YStride + r.Min.X
		copy(dst.Y[o:o+r.Dx()], src.Y[y*src.YStride:])
	}
	cr := chromaRect(r, dst.SubsampleRatio)
	vshift := 0 // rows of the source chroma per destination row, as a shift
	switch {
	case src.SubsampleRatio == dst.SubsampleRatio:
	case src.SubsampleRatio == image.YCbCrSubsampleRatio420 && dst.SubsampleRatio == image.YCbCrSubsampleRatio422:
		vshift = -1 // each source row serves two destination rows
	case src.SubsampleRatio == image.YCbCrSubsampleRatio422 && dst.SubsampleRatio == image.YCbCrSubsampleRatio420:
		vshift = 1
	default:
		return fmt.Errorf("%w: tile subsampling %v into frame %v", ErrPayload, src.SubsampleRatio, dst.SubsampleRatio)
	}
	for y := 0; y < cr.Dy(); y++ {
		sy := y
		if vshift < 0 {
			sy = y / 2
		} else if vshift > 0 {
			sy = y * 2
		}
		o := (cr.Min.Y+y)*dst.CStride + cr.Min.X
		so := sy * src.CStride
		copy(dst.Cb[o:o+cr.Dx()], src.Cb[so:])
		copy(dst.Cr[o:o+cr.Dx()], src.Cr[so:])
	}
	return nil
}
