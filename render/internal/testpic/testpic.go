// Package testpic makes the pictures the render tests show and compares what came out
// against them. It is imported by tests only.
package testpic

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"os"
	"os/exec"
	"testing"

	"github.com/hrvs/hrvs/net/receiver"
)

// Bars are the 75% colour bars in Y'CbCr the pictures start with, left to right.
var Bars = [...][3]uint8{
	{180, 128, 128}, {162, 44, 142}, {131, 156, 44}, {112, 72, 58},
	{84, 184, 198}, {65, 100, 212}, {35, 212, 114}, {16, 128, 128},
}

// Picture draws a deterministic w x h picture with the given subsampling: colour bars on
// the top third, a luma and chroma gradient below, and a block whose place depends on seq
// so consecutive pictures differ.
func Picture(w, h int, sub image.YCbCrSubsampleRatio, seq uint32) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), sub)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yy, cb, cr := sample(x, y, w, h, seq)
			img.Y[img.YOffset(x, y)] = yy
			c := img.COffset(x, y)
			img.Cb[c], img.Cr[c] = cb, cr
		}
	}
	return img
}

func sample(x, y, w, h int, seq uint32) (yy, cb, cr uint8) {
	bs := max(w/32, 4)
	bx := int(seq*7) % max(w-bs, 1)
	if x >= bx && x < bx+bs && y >= h-2*bs && y < h-bs {
		return 235, 128, 128
	}
	if y < h/3 {
		b := Bars[x*len(Bars)/w]
		return b[0], b[1], b[2]
	}
	yy = uint8(16 + x*219/w)
	cb = uint8(64 + y*128/h)
	cr = uint8(192 - x*128/w)
	return
}

// Frame wraps Picture in a receiver frame holding one reference.
func Frame(w, h int, sub image.YCbCrSubsampleRatio, seq uint32) *receiver.Frame {
	return receiver.NewFrame(Picture(w, h, sub, seq), seq)
}

// RGBA converts img to RGBA with the standard library's conversion.
func RGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

// PSNR compares the RGB channels of a and b over the size of a, in dB; identical
// pictures give +Inf.
func PSNR(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	var sum float64
	var n int
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range [3]float64{
				float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8),
			} {
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

// Shrink scales img down to w x h by averaging the source pixels each destination pixel
// covers (area filter), the reference for a picture shown smaller than it is.
func Shrink(img image.Image, w, h int) *image.RGBA {
	src := RGBA(img)
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := 0; x < w; x++ {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var r, g, b, n int
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					p := src.Pix[sy*src.Stride+4*sx:]
					r, g, b, n = r+int(p[0]), g+int(p[1]), b+int(p[2]), n+1
				}
			}
			out.SetRGBA(x, y, color.RGBA{uint8(r / n), uint8(g / n), uint8(b / n), 255})
		}
	}
	return out
}

// Strict reports whether tests that need a display or an outside program must run:
// HRVS_DISPLAY_TESTS=1 turns their skips into failures, as CI wants.
func Strict() bool { return os.Getenv("HRVS_DISPLAY_TESTS") == "1" }

// NeedTool returns the path of an outside program the test needs, failing the test
// when it is missing: ./build.sh test installs every such program, and a test that
// skipped itself would hide the missing install step.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (./build.sh test installs it): %v", name, err)
	}
	return p
}
