package window

import (
	"image"

	"github.com/hrvs/hrvs/internal/ycbcr"
)

// A plane of 8-bit samples goes to the GPU as an RGBA texture whose every texel holds
// four neighbouring samples of a row, so no sample is converted or widened on the CPU:
// the shader picks sample x from texel x/4, channel x%4. When the rows' stride is a
// multiple of 4 the frame's own memory is handed over as is; otherwise (or for a
// sub-image whose last row is short) the rows are copied into buf.

// packed is one plane ready for upload: pix holds 4*texW*rows bytes.
type packed struct {
	pix        []byte
	texW, rows int
}

// packPlane prepares rows of n samples starting at plane[off] with the given stride.
func packPlane(buf []byte, plane []byte, off, stride, n, rows int) (packed, []byte) {
	if stride%4 == 0 && off >= 0 && off+rows*stride <= len(plane) {
		return packed{pix: plane[off : off+rows*stride], texW: stride / 4, rows: rows}, buf
	}
	w4 := (n + 3) &^ 3
	need := w4 * rows
	if cap(buf) < need {
		buf = make([]byte, need)
	}
	buf = buf[:need]
	for y := 0; y < rows; y++ {
		copy(buf[y*w4:y*w4+n], plane[off+y*stride:off+y*stride+n])
	}
	return packed{pix: buf, texW: w4 / 4, rows: rows}, buf
}

// chromaDiv is how many luma samples share one chroma sample across and down.
func chromaDiv(r image.YCbCrSubsampleRatio) (int, int) {
	hs, vs := ycbcr.Shift(r)
	return 1 << hs, 1 << vs
}

// planes packs the three planes of img for upload. bufs holds reusable storage for the
// planes that need copying.
func planes(img *image.YCbCr, bufs *[3][]byte) [3]packed {
	r := img.Rect
	dx, dy := chromaDiv(img.SubsampleRatio)
	cw := (r.Max.X+dx-1)/dx - r.Min.X/dx
	ch := (r.Max.Y+dy-1)/dy - r.Min.Y/dy
	var p [3]packed
	p[0], bufs[0] = packPlane(bufs[0], img.Y, img.YOffset(r.Min.X, r.Min.Y), img.YStride, r.Dx(), r.Dy())
	co := img.COffset(r.Min.X, r.Min.Y)
	p[1], bufs[1] = packPlane(bufs[1], img.Cb, co, img.CStride, cw, ch)
	p[2], bufs[2] = packPlane(bufs[2], img.Cr, co, img.CStride, cw, ch)
	return p
}
