package rtpjpeg

import (
	"fmt"
	"image"
)

// fit returns the size a w x h frame is sent at: unchanged when both sides are at
// most MaxSide, else scaled down to fit with its aspect kept and each side a
// multiple of 8, so the RTP header's 8-pixel units describe it exactly.
func fit(w, h int) (fw, fh int, scaled bool) {
	if w <= MaxSide && h <= MaxSide {
		return w, h, false
	}
	long := max(w, h)
	fw = max(w*MaxSide/long/8*8, 8)
	fh = max(h*MaxSide/long/8*8, 8)
	return fw, fh, true
}

// shrinker scales Y'CbCr pictures down with an area filter: each output sample is
// the mean of the source samples it covers. It keeps its output and index tables
// between calls, so a stream of one size allocates once.
type shrinker struct {
	dst    *image.YCbCr
	x0, x1 []int    // source columns [x0, x1) of each output column, for the plane in use
	colSum []uint32 // the source rows of one output row summed per column
}

// shrink returns src scaled to w x h with src's chroma subsampling; planes too short
// for src.Rect are an error.
func (s *shrinker) shrink(src *image.YCbCr, w, h int) (*image.YCbCr, error) {
	r := image.Rect(0, 0, w, h)
	if s.dst == nil || s.dst.Rect != r || s.dst.SubsampleRatio != src.SubsampleRatio {
		s.dst = image.NewYCbCr(r, src.SubsampleRatio)
	}
	b := src.Rect
	sw, sh := b.Dx(), b.Dy()
	cw, ch := chromaSize(src.SubsampleRatio, sw, sh)
	dcw, dch := chromaSize(src.SubsampleRatio, w, h)
	yo, co := src.YOffset(b.Min.X, b.Min.Y), src.COffset(b.Min.X, b.Min.Y)
	if !holds(src.Y, yo, src.YStride, sw, sh) || !holds(src.Cb, co, src.CStride, cw, ch) || !holds(src.Cr, co, src.CStride, cw, ch) {
		return nil, fmt.Errorf("rtpjpeg: image planes too short for %v", b)
	}
	s.plane(s.dst.Y, s.dst.YStride, w, h, src.Y[yo:], src.YStride, sw, sh)
	s.plane(s.dst.Cb, s.dst.CStride, dcw, dch, src.Cb[co:], src.CStride, cw, ch)
	s.plane(s.dst.Cr, s.dst.CStride, dcw, dch, src.Cr[co:], src.CStride, cw, ch)
	return s.dst, nil
}

// holds reports whether a plane of w x h samples at offset off fits in pix.
func holds(pix []byte, off, stride, w, h int) bool {
	return off >= 0 && stride >= w && (h == 0 || off+(h-1)*stride+w <= len(pix))
}

// chromaSize is the size of the chroma planes of a w x h picture at origin 0, as
// image.NewYCbCr lays them out.
func chromaSize(r image.YCbCrSubsampleRatio, w, h int) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// plane scales one sw x sh plane into a dw x dh one. Each output row first sums the
// source rows it covers into colSum, then each output sample sums its columns of
// colSum and divides by the box's area with a 16-bit fixed-point reciprocal (one
// multiply instead of a division per sample).
func (s *shrinker) plane(dst []byte, dstride, dw, dh int, src []byte, sstride, sw, sh int) {
	if dw == 0 || dh == 0 || sw == 0 || sh == 0 {
		return
	}
	s.x0, s.x1 = s.x0[:0], s.x1[:0]
	for x := range dw {
		a := x * sw / dw
		s.x0 = append(s.x0, a)
		s.x1 = append(s.x1, max((x+1)*sw/dw, a+1))
	}
	if cap(s.colSum) < sw {
		s.colSum = make([]uint32, sw)
	}
	colSum := s.colSum[:sw]
	for y := range dh {
		y0 := y * sh / dh
		y1 := max((y+1)*sh/dh, y0+1)
		copy8(colSum, src[y0*sstride:y0*sstride+sw])
		for sy := y0 + 1; sy < y1; sy++ {
			line := src[sy*sstride : sy*sstride+sw]
			for i, v := range line {
				colSum[i] += uint32(v)
			}
		}
		ny := uint32(y1 - y0)
		row := dst[y*dstride : y*dstride+dw]
		for x := range row {
			a, b := s.x0[x], s.x1[x]
			var sum uint32
			for _, v := range colSum[a:b] {
				sum += v
			}
			n := ny * uint32(b-a)
			row[x] = uint8(min((uint64(sum)*(1<<16/uint64(n)+1)+1<<15)>>16, 255)) // the reciprocal rounds up
		}
	}
}

// copy8 widens src into dst.
func copy8(dst []uint32, src []byte) {
	for i, v := range src {
		dst[i] = uint32(v)
	}
}
