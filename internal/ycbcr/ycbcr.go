// Package ycbcr names Y'CbCr chroma layouts and sizes their planes, for the stages that
// each handle image.YCbCr frames (capture, the receiver, the sinks) without importing
// one another.
package ycbcr

import "image"

// Name writes a subsampling ratio the way video people say it: "4:2:0", "4:2:2"...
func Name(r image.YCbCrSubsampleRatio) string {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return "4:4:4"
	case image.YCbCrSubsampleRatio422:
		return "4:2:2"
	case image.YCbCrSubsampleRatio420:
		return "4:2:0"
	case image.YCbCrSubsampleRatio440:
		return "4:4:0"
	case image.YCbCrSubsampleRatio411:
		return "4:1:1"
	case image.YCbCrSubsampleRatio410:
		return "4:1:0"
	}
	return r.String()
}

// Shift is how many bits luma coordinates shift right to give chroma ones, across and
// down, in layout r: 1, 1 for 4:2:0; 1, 0 for 4:2:2; 0, 0 for 4:4:4.
func Shift(r image.YCbCrSubsampleRatio) (hs, vs int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}

// ChromaSize is the size in samples of each chroma plane of a w x h picture in layout
// r, rounding up as image.NewYCbCr does.
func ChromaSize(w, h int, r image.YCbCrSubsampleRatio) (cw, ch int) {
	hs, vs := Shift(r)
	return (w + 1<<hs - 1) >> hs, (h + 1<<vs - 1) >> vs
}

// Bytes is the memory of a w x h picture's three planes in layout r.
func Bytes(w, h int, r image.YCbCrSubsampleRatio) int64 {
	cw, ch := ChromaSize(w, h, r)
	return int64(w)*int64(h) + 2*int64(cw)*int64(ch)
}
