package fastjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
)

func isArgs(err error) bool { return errors.Is(err, ErrArgs) }

// rgbaOf draws any image into a fresh RGBA at the origin.
func rgbaOf(m image.Image) *image.RGBA {
	b := m.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, m, b.Min, draw.Src)
	return out
}

func grayOf(m image.Image) *image.Gray {
	b := m.Bounds()
	out := image.NewGray(b)
	draw.Draw(out, b, m, b.Min, draw.Src)
	return out
}

// rgbPSNR compares the R, G and B channels of two RGBA images of one size.
func rgbPSNR(a, b *image.RGBA) float64 {
	var sum float64
	var n int
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			pa, pb := a.Pix[a.PixOffset(x, y):], b.Pix[b.PixOffset(x, y):]
			for i := 0; i < 3; i++ {
				d := float64(pa[i]) - float64(pb[i])
				sum += d * d
				n++
			}
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

// parsePPM reads the binary PPM (P6, maxval 255) djpeg writes.
func parsePPM(b []byte) (*image.RGBA, error) {
	var w, h, maxv int
	r := bytes.NewReader(b)
	if _, err := fmt.Fscanf(r, "P6\n%d %d\n%d", &w, &h, &maxv); err != nil {
		return nil, fmt.Errorf("PPM header: %w", err)
	}
	if maxv != 255 {
		return nil, fmt.Errorf("PPM maxval %d", maxv)
	}
	pix := b[len(b)-r.Len()+1:]
	if len(pix) < 3*w*h {
		return nil, fmt.Errorf("PPM has %d bytes of pixels, want %d", len(pix), 3*w*h)
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		copy(out.Pix[4*i:4*i+3], pix[3*i:])
		out.Pix[4*i+3] = 255
	}
	return out, nil
}
