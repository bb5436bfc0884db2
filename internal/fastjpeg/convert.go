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
		if !covers(m, b) {
			return dst, fmt.Errorf("%w: image planes too short for %v", ErrArgs, b)
		}
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
// arithmetic. Each chroma sample comes from the sums of its 2x2 pixels (an odd last
// column or row counts twice), one conversion instead of four: image/jpeg converts
// each pixel and averages, which can differ from this by one level.
func rgbaTo420(dst *image.YCbCr, src *image.RGBA) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	for y := 0; y < h; y += 2 {
		y1 := min(y+1, h-1)
		r0 := src.Pix[y*src.Stride : y*src.Stride+4*w]
		r1 := src.Pix[y1*src.Stride : y1*src.Stride+4*w]
		l0 := dst.Y[y*dst.YStride : y*dst.YStride+w]
		l1 := dst.Y[y1*dst.YStride : y1*dst.YStride+w]
		cb := dst.Cb[y/2*dst.CStride : y/2*dst.CStride+(w+1)/2]
		cr := dst.Cr[y/2*dst.CStride : y/2*dst.CStride+(w+1)/2]
		for x := 0; x < w; x += 2 {
			x1 := min(x+1, w-1)
			a, b := r0[4*x:4*x+3:4*x+3], r0[4*x1:4*x1+3:4*x1+3]
			c, d := r1[4*x:4*x+3:4*x+3], r1[4*x1:4*x1+3:4*x1+3]
			l0[x], l0[x1] = luma(a[0], a[1], a[2]), luma(b[0], b[1], b[2])
			l1[x], l1[x1] = luma(c[0], c[1], c[2]), luma(d[0], d[1], d[2])
			rs := int32(a[0]) + int32(b[0]) + int32(c[0]) + int32(d[0])
			gs := int32(a[1]) + int32(b[1]) + int32(c[1]) + int32(d[1])
			bs := int32(a[2]) + int32(b[2]) + int32(c[2]) + int32(d[2])
			// The sums are 4x the mean: the same constants and 2 more bits of shift;
			// 257<<15 in color.RGBToYCbCr is the +128 offset plus its rounding.
			vb := (-11056*rs - 21712*gs + 32768*bs + 257<<17) >> 18
			vr := (32768*rs - 27440*gs - 5328*bs + 257<<17) >> 18
			cb[x/2] = uint8(min(max(vb, 0), 255))
			cr[x/2] = uint8(min(max(vr, 0), 255))
		}
	}
}

// luma is color.RGBToYCbCr's Y'.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*int32(r) + 38470*int32(g) + 7471*int32(b) + 1<<15) >> 16)
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
