package fastjpeg

import (
	"fmt"
	"image"
	"image/color"
)

// AppendJPEG appends a whole baseline JPEG file of img at the given quality to dst.
// 4:2:0 and 4:2:2 Y'CbCr are coded from their planes as they are; RGBA is converted
// and its chroma averaged to 4:2:0 as image/jpeg does; anything else goes through
// color conversion pixel by pixel (slow, but correct).
func (e *Encoder) AppendJPEG(dst []byte, img image.Image, quality int) ([]byte, error) {
	b := img.Bounds()
	if b.Empty() || b.Dx() > 0xffff || b.Dy() > 0xffff {
		return dst, fmt.Errorf("%w: cannot encode a %dx%d image", ErrArgs, b.Dx(), b.Dy())
	}
	var src *image.YCbCr
	switch m := img.(type) {
	case *image.YCbCr:
		if _, ok := SubsamplingOf(m.SubsampleRatio); ok && m.Rect.Min.X&1 == 0 && m.Rect.Min.Y&1 == 0 {
			src = m
		} else {
			src = e.generic(m)
		}
	case *image.RGBA:
		src = e.scratch(b)
		rgbaTo420(src, m)
	default:
		src = e.generic(m)
	}
	s, _ := SubsamplingOf(src.SubsampleRatio)
	e.setQuality(quality)
	dst = AppendHeader(dst, b.Dx(), b.Dy(), e.quality, s)
	dst = e.appendScan(dst, src, src.Rect, s)
	return AppendEOI(dst), nil
}

// scratch returns the encoder's 4:2:0 planes resized to b's size, at b's origin.
func (e *Encoder) scratch(b image.Rectangle) *image.YCbCr {
	r := image.Rect(0, 0, b.Dx(), b.Dy())
	if e.planes == nil || e.planes.Rect != r {
		e.planes = image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	}
	return e.planes
}

// rgbaTo420 converts src to dst's Y'CbCr 4:2:0 planes with color.RGBToYCbCr's
// arithmetic, each chroma sample the rounded mean of its 2x2 pixels (an odd last
// column or row counts twice), which is what image/jpeg does.
func rgbaTo420(dst *image.YCbCr, src *image.RGBA) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	for y := 0; y < h; y += 2 {
		r0 := src.Pix[y*src.Stride : y*src.Stride+4*w]
		r1 := r0
		if y+1 < h {
			r1 = src.Pix[(y+1)*src.Stride : (y+1)*src.Stride+4*w]
		}
		y0 := dst.Y[y*dst.YStride : y*dst.YStride+w]
		y1 := y0
		if y+1 < h {
			y1 = dst.Y[(y+1)*dst.YStride : (y+1)*dst.YStride+w]
		}
		cb := dst.Cb[y/2*dst.CStride:]
		cr := dst.Cr[y/2*dst.CStride:]
		for x := 0; x < w; x += 2 {
			x1 := min(x+1, w-1)
			var sb, sr int32
			for _, p := range [4][]byte{r0[4*x:], r0[4*x1:], r1[4*x:], r1[4*x1:]} {
				b, r := ycc(p[0], p[1], p[2])
				sb += b
				sr += r
			}
			y0[x] = luma(r0[4*x], r0[4*x+1], r0[4*x+2])
			y0[x1] = luma(r0[4*x1], r0[4*x1+1], r0[4*x1+2])
			y1[x] = luma(r1[4*x], r1[4*x+1], r1[4*x+2])
			y1[x1] = luma(r1[4*x1], r1[4*x1+1], r1[4*x1+2])
			cb[x/2] = uint8((sb + 2) >> 2)
			cr[x/2] = uint8((sr + 2) >> 2)
		}
	}
}

// luma is color.RGBToYCbCr's Y'.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*int32(r) + 38470*int32(g) + 7471*int32(b) + 1<<15) >> 16)
}

// ycc is color.RGBToYCbCr's Cb and Cr, clamped to 0..255.
func ycc(r8, g8, b8 uint8) (cb, cr int32) {
	r, g, b := int32(r8), int32(g8), int32(b8)
	cb = (-11056*r - 21712*g + 32768*b + 257<<15) >> 16
	cr = (32768*r - 27440*g - 5328*b + 257<<15) >> 16
	return min(max(cb, 0), 255), min(max(cr, 0), 255)
}

// generic converts any image to 4:2:0 planes: Y'CbCr per pixel, then chroma
// averaged over 2x2 pixels with edges repeated, as image/jpeg does.
func (e *Encoder) generic(m image.Image) *image.YCbCr {
	b := m.Bounds()
	r := image.Rect(0, 0, b.Dx(), b.Dy())
	if e.full == nil || e.full.Rect != r {
		e.full = image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	}
	full := e.full
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			var c color.YCbCr
			if ym, ok := m.(*image.YCbCr); ok {
				c = ym.YCbCrAt(b.Min.X+x, b.Min.Y+y)
			} else {
				R, G, B, _ := m.At(b.Min.X+x, b.Min.Y+y).RGBA()
				c.Y, c.Cb, c.Cr = color.RGBToYCbCr(uint8(R>>8), uint8(G>>8), uint8(B>>8))
			}
			o := y*full.YStride + x
			full.Y[o], full.Cb[o], full.Cr[o] = c.Y, c.Cb, c.Cr
		}
	}
	dst := e.scratch(b)
	w, h := r.Dx(), r.Dy()
	for y := 0; y < h; y++ {
		copy(dst.Y[y*dst.YStride:], full.Y[y*full.YStride:y*full.YStride+w])
	}
	for y := 0; y < h; y += 2 {
		y1 := min(y+1, h-1)
		for x := 0; x < w; x += 2 {
			x1 := min(x+1, w-1)
			o00, o01 := y*full.CStride+x, y*full.CStride+x1
			o10, o11 := y1*full.CStride+x, y1*full.CStride+x1
			cb := int(full.Cb[o00]) + int(full.Cb[o01]) + int(full.Cb[o10]) + int(full.Cb[o11])
			cr := int(full.Cr[o00]) + int(full.Cr[o01]) + int(full.Cr[o10]) + int(full.Cr[o11])
			dst.Cb[y/2*dst.CStride+x/2] = uint8((cb + 2) >> 2)
			dst.Cr[y/2*dst.CStride+x/2] = uint8((cr + 2) >> 2)
		}
	}
	return dst
}
