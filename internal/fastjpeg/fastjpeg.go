// Package fastjpeg is a pure-Go baseline JPEG codec for HRVS's tile payloads and
// whole-frame files, several times faster than image/jpeg. It encodes straight from
// Y'CbCr 4:2:0 and 4:2:2 planes (or RGBA) and decodes payloads straight into a
// frame's planes, with image/jpeg's quantisation and Huffman tables so either
// codec reads what the other writes.
//
// A tile payload is the entropy-coded scan of a three-component interleaved baseline
// JPEG without restart markers, byte-stuffed and padded with 1-bits; AppendHeader
// writes the header that turns it back into a file.
package fastjpeg

import (
	"errors"
	"image"
)

// Subsampling is the chroma layout of a scan.
type Subsampling uint8

// The layouts a scan may have. The values match the wire's subsampling codes
// (wire.Sub420, wire.Sub422).
const (
	S420 Subsampling = 0 // Y sampled 2x2 per MCU: MCU 16x16, chroma halved both ways
	S422 Subsampling = 1 // Y sampled 2x1 per MCU: MCU 16x8, chroma halved across
)

// MCUSize is the size in pixels of one minimum coded unit (ITU T.81 §A.2.4).
func (s Subsampling) MCUSize() (w, h int) {
	if s == S422 {
		return 16, 8
	}
	return 16, 16
}

// String names the layout.
func (s Subsampling) String() string {
	switch s {
	case S420:
		return "4:2:0"
	case S422:
		return "4:2:2"
	}
	return "invalid"
}

// SubsamplingOf maps Go's ratio to a Subsampling, reporting false for layouts a
// scan cannot carry.
func SubsamplingOf(r image.YCbCrSubsampleRatio) (Subsampling, bool) {
	switch r {
	case image.YCbCrSubsampleRatio420:
		return S420, true
	case image.YCbCrSubsampleRatio422:
		return S422, true
	}
	return 0, false
}

// Ratio maps a Subsampling back to Go's ratio.
func (s Subsampling) Ratio() image.YCbCrSubsampleRatio {
	if s == S422 {
		return image.YCbCrSubsampleRatio422
	}
	return image.YCbCrSubsampleRatio420
}

// Errors wrapped by every failure, so callers can tell bad arguments from bad data.
var (
	ErrArgs    = errors.New("fastjpeg: invalid arguments")
	ErrCorrupt = errors.New("fastjpeg: corrupt scan")
	ErrShort   = errors.New("fastjpeg: truncated scan")
)

// covers reports whether img's slices hold every sample of rectangle r (within
// img.Rect), so a hand-built image with short planes is an error, not a panic.
func covers(img *image.YCbCr, r image.Rectangle) bool {
	last := r.Max.Sub(image.Pt(1, 1))
	if img.YStride < r.Dx() || len(img.Y) <= img.YOffset(last.X, last.Y) || img.YOffset(r.Min.X, r.Min.Y) < 0 {
		return false
	}
	c0, c1 := img.COffset(r.Min.X, r.Min.Y), img.COffset(last.X, last.Y)
	return c0 >= 0 && img.CStride >= (r.Dx()+1)/2 && len(img.Cb) > c1 && len(img.Cr) > c1
}
