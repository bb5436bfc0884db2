package fastjpeg

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// photoPath is a natural photograph (a forest path, 2560x1600) from Debian's
// plasma-workspace-wallpapers package, which the build installs for the tests.
const photoPath = "/usr/share/wallpapers/Path/contents/images/2560x1600.jpg"

// Loading and converting the photo takes a while; tests share one copy, read only.
var photo = sync.OnceValues(func() (*image.RGBA, error) {
	b, err := os.ReadFile(photoPath)
	if err != nil {
		return nil, err
	}
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	rgba := image.NewRGBA(m.Bounds())
	draw.Draw(rgba, rgba.Rect, m, m.Bounds().Min, draw.Src)
	return rgba, nil
})

// photoRGBA returns a w x h crop of the photograph, repeated where it is larger.
// The crop starts at (5, 3): the photo was itself a JPEG, and re-coding its own
// 8x8 grid at a similar quality is nearly lossless, which would flatter any codec.
func photoRGBA(t testing.TB, w, h int) *image.RGBA {
	t.Helper()
	p, err := photo()
	if err != nil {
		t.Fatalf("photograph for the tests (apt-get install plasma-workspace-wallpapers): %v", err)
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx, sy := (x+5)%p.Rect.Dx(), (y+3)%p.Rect.Dy()
			copy(out.Pix[out.PixOffset(x, y):][:4], p.Pix[p.PixOffset(sx, sy):])
		}
	}
	return out
}

// patternRGBA draws a test card: smooth gradients, hard-edged colour bars, a
// checkerboard, thin lines and blocky "text", the features that break codecs.
func patternRGBA(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var c color.RGBA
			switch {
			case y < h/3: // horizontal and vertical gradients
				c = color.RGBA{uint8(255 * x / max(w-1, 1)), uint8(255 * y / max(h/3, 1)), uint8(255 - 255*x/max(w-1, 1)), 255}
			case y < 2*h/3: // colour bars with a checkerboard in the middle third
				bars := []color.RGBA{{255, 255, 255, 255}, {255, 255, 0, 255}, {0, 255, 255, 255}, {0, 255, 0, 255},
					{255, 0, 255, 255}, {255, 0, 0, 255}, {0, 0, 255, 255}, {0, 0, 0, 255}}
				c = bars[x*len(bars)/w]
				if x > w/3 && x < 2*w/3 && (x/4+y/4)%2 == 0 {
					c = color.RGBA{20, 20, 20, 255}
				}
			default: // thin lines and a radial ring pattern
				dx, dy := float64(x-w/2), float64(y-5*h/6)
				v := uint8(128 + 127*math.Sin(math.Hypot(dx, dy)/3))
				c = color.RGBA{v, v / 2, 255 - v, 255}
				if x%7 == 0 || y%11 == 0 {
					c = color.RGBA{255, 255, 255, 255}
				}
			}
			m.SetRGBA(x, y, c)
		}
	}
	// "Text": a 5x7 glyph grid of random on/off cells in black on white panels.
	rng := rand.New(rand.NewPCG(1, 2))
	for gy := 4; gy+9 < h/3; gy += 12 {
		for gx := 4; gx+7 < w/2; gx += 8 {
			for j := 0; j < 7; j++ {
				for i := 0; i < 5; i++ {
					c := color.RGBA{250, 250, 250, 255}
					if rng.IntN(2) == 0 {
						c = color.RGBA{0, 0, 0, 255}
					}
					m.SetRGBA(gx+i, gy+j, c)
				}
			}
		}
	}
	return m
}

// noiseRGBA is uniform random noise: the worst case for size and for the coder.
func noiseRGBA(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.Uint32())
	}
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 255
	}
	return m
}

// toYCbCr converts m to Y'CbCr planes of the given ratio with color.RGBToYCbCr,
// chroma taken as the rounded mean of the pixels each sample covers.
func toYCbCr(m *image.RGBA, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	r := m.Rect
	out := image.NewYCbCr(r, ratio)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := m.Pix[m.PixOffset(x, y):]
			yy, _, _ := color.RGBToYCbCr(p[0], p[1], p[2])
			out.Y[out.YOffset(x, y)] = yy
		}
	}
	sx, sy := 2, 2
	if ratio == image.YCbCrSubsampleRatio422 {
		sy = 1
	}
	for cy := 0; cy*sy < r.Dy(); cy++ {
		for cx := 0; cx*sx < r.Dx(); cx++ {
			var sb, sr, n int
			for j := 0; j < sy; j++ {
				for i := 0; i < sx; i++ {
					x, y := min(cx*sx+i, r.Dx()-1), min(cy*sy+j, r.Dy()-1)
					p := m.Pix[m.PixOffset(r.Min.X+x, r.Min.Y+y):]
					_, cb, cr := color.RGBToYCbCr(p[0], p[1], p[2])
					sb += int(cb)
					sr += int(cr)
					n++
				}
			}
			o := cy*out.CStride + cx
			out.Cb[o], out.Cr[o] = uint8((sb+n/2)/n), uint8((sr+n/2)/n)
		}
	}
	return out
}

// psnr is the PSNR in dB between two Y'CbCr images of the same size and ratio over
// all three planes; +Inf when they are equal.
func psnr(a, b *image.YCbCr) float64 {
	if a.Rect.Size() != b.Rect.Size() || a.SubsampleRatio != b.SubsampleRatio {
		return 0
	}
	var sum float64
	var n int
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h; y++ {
		ra, rb := a.Y[a.YOffset(a.Rect.Min.X, a.Rect.Min.Y+y):], b.Y[b.YOffset(b.Rect.Min.X, b.Rect.Min.Y+y):]
		for x := 0; x < w; x++ {
			d := float64(ra[x]) - float64(rb[x])
			sum += d * d
		}
		n += w
	}
	cw, ch := chromaSize(w, h, a.SubsampleRatio)
	for y := 0; y < ch; y++ {
		oa := a.COffset(a.Rect.Min.X, a.Rect.Min.Y) + y*a.CStride
		ob := b.COffset(b.Rect.Min.X, b.Rect.Min.Y) + y*b.CStride
		for x := 0; x < cw; x++ {
			d1 := float64(a.Cb[oa+x]) - float64(b.Cb[ob+x])
			d2 := float64(a.Cr[oa+x]) - float64(b.Cr[ob+x])
			sum += d1*d1 + d2*d2
		}
		n += 2 * cw
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

// chromaSize is the chroma plane size of a w x h image starting at an even origin.
func chromaSize(w, h int, r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	}
	return w, h
}

// stdDecode decodes a whole JPEG file with image/jpeg into Y'CbCr.
func stdDecode(t testing.TB, b []byte) *image.YCbCr {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("image/jpeg cannot decode: %v", err)
	}
	y, ok := m.(*image.YCbCr)
	if !ok {
		t.Fatalf("image/jpeg decoded a %T, want *image.YCbCr", m)
	}
	return y
}

// stdEncode encodes with image/jpeg.
func stdEncode(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatalf("image/jpeg encode: %v", err)
	}
	return buf.Bytes()
}
