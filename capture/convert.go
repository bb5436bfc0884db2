package capture

import (
	"fmt"
	"image"
	"image/color"
	"runtime"
	"sync"
)

// keepsSubsampling reports whether frames of this ratio go out as they are; every
// other ratio is converted to 4:2:0 once, here, so the encoder sees only two shapes.
func keepsSubsampling(r image.YCbCrSubsampleRatio) bool {
	return r == image.YCbCrSubsampleRatio420 || r == image.YCbCrSubsampleRatio422
}

// normalize returns img as a 4:2:0 or 4:2:2 *image.YCbCr whose bounds start at
// (0, 0): the image itself when it already is one, otherwise a 4:2:0 copy. Gray
// becomes neutral chroma; anything else (RGB or CMYK JPEGs) goes through color.
func normalize(img image.Image) (*image.YCbCr, error) {
	switch m := img.(type) {
	case *image.YCbCr:
		if keepsSubsampling(m.SubsampleRatio) && m.Rect.Min == (image.Point{}) {
			return m, nil
		}
		return to420(m), nil
	case *image.Gray:
		return grayTo420(m), nil
	case nil:
		return nil, fmt.Errorf("no image")
	default:
		b := img.Bounds()
		if b.Empty() {
			return nil, fmt.Errorf("empty %T image", img)
		}
		return anyTo420(img), nil
	}
}

// to420 resamples src's chroma onto a 4:2:0 grid by averaging the chroma samples
// under each 2x2 block of luma. It handles every ratio image.YCbCr knows, so it is
// the slow general path; 4:2:0 and 4:2:2 never come through here in practice.
func to420(src *image.YCbCr) *image.YCbCr {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		copy(dst.Y[y*dst.YStride:y*dst.YStride+w], src.Y[src.YOffset(b.Min.X, b.Min.Y+y):])
	}
	cw, ch := (w+1)/2, (h+1)/2
	parallelRows(ch, 32, func(y0, y1 int) {
		for cy := y0; cy < y1; cy++ {
			for cx := 0; cx < cw; cx++ {
				var sb, sr, n int
				for dy := 0; dy < 2; dy++ {
					y := 2*cy + dy
					if y >= h {
						break
					}
					for dx := 0; dx < 2; dx++ {
						x := 2*cx + dx
						if x >= w {
							break
						}
						o := src.COffset(b.Min.X+x, b.Min.Y+y)
						sb += int(src.Cb[o])
						sr += int(src.Cr[o])
						n++
					}
				}
				i := cy*dst.CStride + cx
				dst.Cb[i] = uint8((sb + n/2) / n)
				dst.Cr[i] = uint8((sr + n/2) / n)
			}
		}
	})
	return dst
}

// grayTo420 gives a monochrome picture neutral chroma.
func grayTo420(src *image.Gray) *image.YCbCr {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		copy(dst.Y[y*dst.YStride:y*dst.YStride+w], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):])
	}
	fillNeutralChroma(dst)
	return dst
}

// fillNeutralChroma sets every chroma sample to 128, no colour.
func fillNeutralChroma(img *image.YCbCr) {
	for i := range img.Cb {
		img.Cb[i] = 128
	}
	copy(img.Cr, img.Cb)
}

// anyTo420 converts through color.YCbCrModel pixel by pixel: slow, and only for
// pictures no camera or video file should produce (an RGB or CMYK JPEG).
func anyTo420(src image.Image) *image.YCbCr {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	full := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.YCbCrModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.YCbCr)
			full.Y[y*full.YStride+x] = c.Y
			full.Cb[y*full.CStride+x] = c.Cb
			full.Cr[y*full.CStride+x] = c.Cr
		}
	}
	return to420(full)
}

// parallelRows runs fn over [0, rows) split into one band per CPU, each band at
// least minRows tall, and returns when every band is done. Small jobs run inline:
// a goroutine costs more than converting a few rows.
func parallelRows(rows, minRows int, fn func(y0, y1 int)) {
	n := runtime.GOMAXPROCS(0)
	if minRows < 1 {
		minRows = 1
	}
	if most := rows / minRows; n > most {
		n = most
	}
	if n <= 1 {
		fn(0, rows)
		return
	}
	band := (rows + n - 1) / n
	var wg sync.WaitGroup
	for y0 := 0; y0 < rows; y0 += band {
		wg.Add(1)
		go func(y0, y1 int) {
			defer wg.Done()
			fn(y0, y1)
		}(y0, min(rows, y0+band))
	}
	wg.Wait()
}
