package tile

import (
	"image"
	"math"
)

// PSNR is the peak signal-to-noise ratio in dB between two Y'CbCr images of the
// same size over all three planes (chroma weighted by its sample count); +Inf when
// they are identical. The receiver's quality checks and benchmarks use it.
func PSNR(a, b *image.YCbCr) float64 {
	if a.Rect.Dx() != b.Rect.Dx() || a.Rect.Dy() != b.Rect.Dy() {
		return 0
	}
	var sum float64
	var n int
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h; y++ {
		ra := a.Y[a.YOffset(a.Rect.Min.X, a.Rect.Min.Y+y):]
		rb := b.Y[b.YOffset(b.Rect.Min.X, b.Rect.Min.Y+y):]
		for x := 0; x < w; x++ {
			d := float64(ra[x]) - float64(rb[x])
			sum += d * d
		}
		n += w
	}
	if a.SubsampleRatio == b.SubsampleRatio {
		cr := chromaRect(image.Rect(0, 0, w, h), a.SubsampleRatio)
		for y := 0; y < cr.Dy(); y++ {
			oa := a.COffset(a.Rect.Min.X, a.Rect.Min.Y) + y*a.CStride
			ob := b.COffset(b.Rect.Min.X, b.Rect.Min.Y) + y*b.CStride
			for x := 0; x < cr.Dx(); x++ {
				d1 := float64(a.Cb[oa+x]) - float64(b.Cb[ob+x])
				d2 := float64(a.Cr[oa+x]) - float64(b.Cr[ob+x])
				sum += d1*d1 + d2*d2
			}
			n += 2 * cr.Dx()
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}
