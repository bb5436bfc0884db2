package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// content is one kind of test picture at a given size.
type content struct {
	name string
	rgba func(t testing.TB, w, h int) *image.RGBA
}

var contents = []content{
	{"the test pattern", func(_ testing.TB, w, h int) *image.RGBA { return patternRGBA(w, h) }},
	{"a photograph", photoRGBA},
	{"random noise", func(_ testing.TB, w, h int) *image.RGBA { return noiseRGBA(w, h, uint64(w*h)) }},
}

// sizes are mostly not multiples of 8 or 16, so every edge case of padding shows.
var sizes = []image.Point{{1, 1}, {7, 5}, {17, 9}, {33, 47}, {250, 130}, {333, 217}}

// lumaPSNR is the PSNR of the Y planes alone.
func lumaPSNR(a, b *image.YCbCr) float64 {
	var sum float64
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := float64(a.Y[y*a.YStride+x]) - float64(b.Y[y*b.YStride+x])
			sum += d * d
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(w*h)))
}

// closeEnough reports whether PSNR got is within the bound of reference PSNR want:
// a mean squared error at most 5% above the reference's plus 0.1, which is one
// pixel in ten off by one; it matters only near quality 100 (about 60 dB), where
// the two DCTs' last-bit rounding decides and a difference cannot be seen.
func closeEnough(got, want float64) bool {
	mse := func(p float64) float64 { return 255 * 255 / math.Pow(10, p/10) }
	return mse(got) <= 1.05*mse(want)+0.1
}

func TestAppendScanDecodesLikeImageJPEG(t *testing.T) {
	var e Encoder
	for _, c := range contents {
		for _, sz := range sizes {
			// Under -race (raceSample) the lowest quality and the highest; the
			// plain build takes all four.
			for _, q := range raceSample([]int{50, 75, 90, 100}, 3) {
				name := fmt.Sprintf("%s at %dx%d quality %d", c.name, sz.X, sz.Y, q)
				t.Run(name+" decodes with image/jpeg as well as image/jpeg's own 4:2:0 and is no bigger", func(t *testing.T) {
					src := toYCbCr(c.rgba(t, sz.X, sz.Y), image.YCbCrSubsampleRatio420)
					scan, err := e.AppendScan(nil, src, src.Rect, q)
					if err != nil {
						t.Fatal(err)
					}
					file := AppendEOI(append(AppendHeader(nil, sz.X, sz.Y, q, S420), scan...))
					std := stdEncode(t, src, q)
					got, want := psnr(src, stdDecode(t, file)), psnr(src, stdDecode(t, std))
					if !closeEnough(got, want) {
						t.Errorf("PSNR %.2f dB, image/jpeg's own %.2f dB", got, want)
					}
					stdScan := len(std) - len(file) + len(scan)
					// Tiny images are a handful of bytes: allow one byte either way.
					if d := float64(len(scan)-stdScan) / float64(stdScan); d > 0.03 && len(scan)-stdScan > 1 {
						t.Errorf("scan %d bytes, image/jpeg's %d (%+.1f%%)", len(scan), stdScan, 100*d)
					}
				})
				t.Run(name+" in 4:2:2 keeps image/jpeg's luma quality", func(t *testing.T) {
					src := toYCbCr(c.rgba(t, sz.X, sz.Y), image.YCbCrSubsampleRatio422)
					scan, err := e.AppendScan(nil, src, src.Rect, q)
					if err != nil {
						t.Fatal(err)
					}
					file := AppendEOI(append(AppendHeader(nil, sz.X, sz.Y, q, S422), scan...))
					dec := stdDecode(t, file)
					if dec.SubsampleRatio != image.YCbCrSubsampleRatio422 {
						t.Fatalf("decoded as %v, want 4:2:2", dec.SubsampleRatio)
					}
					got, want := lumaPSNR(src, dec), lumaPSNR(src, stdDecode(t, stdEncode(t, src, q)))
					if !closeEnough(got, want) {
						t.Errorf("luma PSNR %.2f dB, image/jpeg's own %.2f dB", got, want)
					}
					if all := psnr(src, dec); all < want-6 {
						t.Errorf("PSNR over all planes %.2f dB, far below luma's %.2f", all, want)
					}
				})
			}
		}
	}
}

func TestAppendScanOfARectangleEqualsTheCroppedImage(t *testing.T) {
	frame := toYCbCr(patternRGBA(200, 120), image.YCbCrSubsampleRatio420)
	frame422 := toYCbCr(patternRGBA(200, 120), image.YCbCrSubsampleRatio422)
	var e Encoder
	for _, tc := range []struct {
		name string
		img  *image.YCbCr
		r    image.Rectangle
	}{
		{"an interior 4:2:0 tile", frame, image.Rect(64, 32, 128, 96)},
		{"a 4:2:0 tile clipped by the frame's corner", frame, image.Rect(192, 112, 200, 120)},
		{"an interior 4:2:2 tile", frame422, image.Rect(16, 8, 80, 40)},
		{"a 4:2:2 tile of odd size", frame422, image.Rect(176, 104, 199, 119)},
	} {
		t.Run(tc.name+" codes exactly as the same pixels copied to their own image", func(t *testing.T) {
			got, err := e.AppendScan(nil, tc.img, tc.r, 80)
			if err != nil {
				t.Fatal(err)
			}
			crop := image.NewYCbCr(image.Rect(0, 0, tc.r.Dx(), tc.r.Dy()), tc.img.SubsampleRatio)
			for y := 0; y < tc.r.Dy(); y++ {
				copy(crop.Y[y*crop.YStride:], tc.img.Y[tc.img.YOffset(tc.r.Min.X, tc.r.Min.Y+y):][:tc.r.Dx()])
			}
			cw, ch := chromaSize(tc.r.Dx(), tc.r.Dy(), tc.img.SubsampleRatio)
			for y := 0; y < ch; y++ {
				o := tc.img.COffset(tc.r.Min.X, tc.r.Min.Y) + y*tc.img.CStride
				copy(crop.Cb[y*crop.CStride:], tc.img.Cb[o:o+cw])
				copy(crop.Cr[y*crop.CStride:], tc.img.Cr[o:o+cw])
			}
			want, err := e.AppendScan(nil, crop, crop.Rect, 80)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("scan of the rectangle (%d bytes) differs from the crop's (%d bytes)", len(got), len(want))
			}
		})
	}
}

func TestAppendScanRejectsBadArguments(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio420)
	var e Encoder
	for _, tc := range []struct {
		name string
		img  *image.YCbCr
		r    image.Rectangle
	}{
		{"a rectangle outside the image", img, image.Rect(48, 48, 80, 80)},
		{"an empty rectangle", img, image.Rect(16, 16, 16, 32)},
		{"a rectangle starting between chroma samples", img, image.Rect(1, 0, 17, 16)},
		{"a 4:4:4 image", image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio444), image.Rect(0, 0, 16, 16)},
		{"an image whose planes are too short", &image.YCbCr{Y: make([]byte, 100), Cb: make([]byte, 10), Cr: make([]byte, 10),
			YStride: 16, CStride: 8, SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, 16, 16)}, image.Rect(0, 0, 16, 16)},
	} {
		t.Run(tc.name+" is an argument error and leaves dst alone", func(t *testing.T) {
			dst := []byte{1, 2, 3}
			out, err := e.AppendScan(dst, tc.img, tc.r, 75)
			if err == nil || !isArgs(err) {
				t.Fatalf("err = %v, want ErrArgs", err)
			}
			if !bytes.Equal(out, dst) {
				t.Fatalf("dst changed to %x", out)
			}
		})
	}
}

func TestAppendJPEG(t *testing.T) {
	var e Encoder
	rgba := photoRGBA(t, 301, 203)
	for _, tc := range []struct {
		name string
		img  image.Image
		more bool // 4:2:2 codes twice the chroma blocks of image/jpeg's 4:2:0
	}{
		{"an RGBA photograph", rgba, false},
		{"a 4:2:0 photograph", toYCbCr(rgba, image.YCbCrSubsampleRatio420), false},
		{"a 4:2:2 photograph", toYCbCr(rgba, image.YCbCrSubsampleRatio422), true},
		{"a 4:4:4 photograph (generic path)", toYCbCr(rgba, image.YCbCrSubsampleRatio444), false},
		{"a grey pattern (generic path)", grayOf(patternRGBA(99, 51)), false},
		{"an RGBA sub-image at an odd origin", rgba.SubImage(image.Rect(3, 5, 120, 77)), false},
	} {
		t.Run(tc.name+" is as good as image/jpeg's file", func(t *testing.T) {
			got, err := e.AppendJPEG(nil, tc.img, 85)
			if err != nil {
				t.Fatal(err)
			}
			stdImg := tc.img
			if _, ok := stdImg.(*image.Gray); ok {
				stdImg = rgbaOf(stdImg) // image/jpeg would write one component
			}
			std := stdEncode(t, stdImg, 85)
			ref := toYCbCr(rgbaOf(tc.img), image.YCbCrSubsampleRatio420)
			g, s := stdDecode(t, got), stdDecode(t, std)
			if g.Rect.Size() != tc.img.Bounds().Size() {
				t.Fatalf("decoded size %v, want %v", g.Rect.Size(), tc.img.Bounds().Size())
			}
			if a, b := lumaPSNR(ref, g), lumaPSNR(ref, s); !closeEnough(a, b) {
				t.Errorf("luma PSNR %.2f dB, image/jpeg's %.2f", a, b)
			}
			if !tc.more && float64(len(got)) > 1.03*float64(len(std))+16 {
				t.Errorf("%d bytes, image/jpeg's %d", len(got), len(std))
			}
		})
	}
}

func TestDjpegDecodesAppendJPEG(t *testing.T) {
	dir := t.TempDir()
	var e Encoder
	for _, tc := range []struct {
		name string
		img  image.Image
		ppm  bool
	}{
		{"a 4:2:0 photograph of odd size", toYCbCr(photoRGBA(t, 321, 199), image.YCbCrSubsampleRatio420), true},
		{"a 4:2:2 test pattern of odd size", toYCbCr(patternRGBA(161, 97), image.YCbCrSubsampleRatio422), true},
		{"RGBA noise", noiseRGBA(64, 40, 3), true},
	} {
		t.Run("djpeg decodes "+tc.name+" to the pixels image/jpeg sees", func(t *testing.T) {
			b, err := e.AppendJPEG(nil, tc.img, 90)
			if err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, "in.jpg")
			if err := os.WriteFile(in, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("djpeg", "-dct", "int", "-nosmooth", "-pnm", in).Output()
			if err != nil {
				t.Fatalf("djpeg (apt-get install libjpeg-turbo-progs): %v", err)
			}
			dj, err := parsePPM(out)
			if err != nil {
				t.Fatal(err)
			}
			ref := rgbaOf(stdDecode(t, b))
			if dj.Rect.Size() != ref.Rect.Size() {
				t.Fatalf("djpeg size %v, want %v", dj.Rect.Size(), ref.Rect.Size())
			}
			if p := rgbPSNR(dj, ref); p < 35 {
				t.Errorf("djpeg's and image/jpeg's pixels differ: PSNR %.1f dB", p)
			}
		})
	}
}
