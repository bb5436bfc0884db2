package capture

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// encodeYCbCr is the reference for a source's code values of an R'G'B' colour
// (components 0..1), written from BT.709-6 / BT.601-7 directly, not through the
// converter's matrices.
func encodeYCbCr(r, g, b float64, c Colour) (y, cb, cr uint8) {
	kr, kb := 0.299, 0.114
	if c.Matrix == MatrixBT709 {
		kr, kb = 0.2126, 0.0722
	}
	ey := kr*r + (1-kr-kb)*g + kb*b
	ecb := (b - ey) / 1.8556
	if c.Matrix == MatrixBT601 {
		ecb = (b - ey) / 1.772
	}
	ecr := (r - ey) / 1.5748
	if c.Matrix == MatrixBT601 {
		ecr = (r - ey) / 1.402
	}
	q := func(v float64) uint8 { return uint8(math.Round(v)) }
	if c.Range == RangeLimited {
		return q(16 + 219*ey), q(128 + 224*ecb), q(128 + 224*ecr)
	}
	return q(255 * ey), q(128 + 255*ecb), q(128 + 255*ecr)
}

// uniform returns a w x h picture of one colour.
func uniform(w, h int, sub image.YCbCrSubsampleRatio, y, cb, cr uint8) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), sub)
	for i := range img.Y {
		img.Y[i] = y
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = cb, cr
	}
	return img
}

func near(a, b uint8, tol int) bool { return math.Abs(float64(int(a)-int(b))) <= float64(tol) }

func TestColourMatrix(t *testing.T) {
	t.Run("BT.709 to BT.601 is the documented matrix", func(t *testing.T) {
		m, err := matrixTo601(MatrixBT709)
		if err != nil {
			t.Fatal(err)
		}
		want := [3][3]float64{{1, 0.1016, 0.1961}, {0, 0.9899, -0.1107}, {0, -0.0725, 0.9834}}
		for i := range 3 {
			for j := range 3 {
				if math.Abs(m[i][j]-want[i][j]) > 0.00006 {
					t.Fatalf("m[%d][%d] = %.5f, want %.4f (whole: %.6f)", i, j, m[i][j], want[i][j], m)
				}
			}
		}
	})
	t.Run("BT.601 to itself is the identity", func(t *testing.T) {
		m, _ := matrixTo601(MatrixBT601)
		for i := range 3 {
			for j := range 3 {
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(m[i][j]-want) > 1e-12 {
					t.Fatalf("m = %v", m)
				}
			}
		}
	})
	t.Run("unknown ranges and matrices are refused", func(t *testing.T) {
		if _, err := NewColourConverter(Colour{Range: 7}); err == nil {
			t.Fatal("range 7 accepted")
		}
		if _, err := NewColourConverter(Colour{Matrix: 9}); err == nil {
			t.Fatal("matrix 9 accepted")
		}
	})
	t.Run("JFIF's own colour needs no converter", func(t *testing.T) {
		cv, err := NewColourConverter(Colour{})
		if err != nil || cv != nil {
			t.Fatalf("got %v, %v; want nil, nil", cv, err)
		}
		img := uniform(4, 4, image.YCbCrSubsampleRatio420, 16, 20, 30)
		cv.Convert(img) // a nil converter converts nothing
		if img.Y[0] != 16 || img.Cb[0] != 20 {
			t.Fatal("a nil converter changed the picture")
		}
	})
}

func TestColourConvert(t *testing.T) {
	limited601 := Colour{Range: RangeLimited}
	for _, tc := range []struct {
		name string
		from Colour
		in   [3]uint8
		want [3]uint8
		tol  int
		sub  image.YCbCrSubsampleRatio
		w, h int
	}{
		{"limited black 16 becomes 0", limited601, [3]uint8{16, 128, 128}, [3]uint8{0, 128, 128}, 0, image.YCbCrSubsampleRatio420, 6, 4},
		{"limited white 235 becomes 255", limited601, [3]uint8{235, 128, 128}, [3]uint8{255, 128, 128}, 0, image.YCbCrSubsampleRatio422, 6, 4},
		{"limited 75% white 180 becomes 191", limited601, [3]uint8{180, 128, 128}, [3]uint8{191, 128, 128}, 0, image.YCbCrSubsampleRatio420, 5, 3},
		{"limited chroma extremes 16 and 240 become 0 and 255", limited601, [3]uint8{126, 16, 240}, [3]uint8{128, 0, 255}, 1, image.YCbCrSubsampleRatio444, 3, 3},
		{"footroom and headroom are clamped", limited601, [3]uint8{4, 128, 128}, [3]uint8{0, 128, 128}, 0, image.YCbCrSubsampleRatio420, 2, 2},
		{"limited 601 75% bars' yellow", limited601, [3]uint8{162, 44, 142}, [3]uint8{170, 32, 144}, 1, image.YCbCrSubsampleRatio420, 8, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cv, err := NewColourConverter(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			img := uniform(tc.w, tc.h, tc.sub, tc.in[0], tc.in[1], tc.in[2])
			cv.Convert(img)
			for i := range img.Y {
				if !near(img.Y[i], tc.want[0], tc.tol) {
					t.Fatalf("Y[%d] = %d, want %d", i, img.Y[i], tc.want[0])
				}
			}
			for i := range img.Cb {
				if !near(img.Cb[i], tc.want[1], tc.tol) || !near(img.Cr[i], tc.want[2], tc.tol) {
					t.Fatalf("Cb, Cr[%d] = %d, %d, want %d, %d", i, img.Cb[i], img.Cr[i], tc.want[1], tc.want[2])
				}
			}
		})
	}

	// Known colours encoded in each source colour must arrive as the JFIF values
	// Go's image/color gives for the same R'G'B'.
	colours := [][3]uint8{{200, 100, 50}, {30, 160, 220}, {128, 128, 128}, {240, 240, 20}, {90, 10, 120}}
	for _, from := range []Colour{
		{Range: RangeLimited, Matrix: MatrixBT709},
		{Range: RangeFull, Matrix: MatrixBT709},
		{Range: RangeLimited, Matrix: MatrixBT601},
	} {
		t.Run(from.String()+" colours arrive with their Rec.601 full-range values", func(t *testing.T) {
			cv, err := NewColourConverter(from)
			if err != nil {
				t.Fatal(err)
			}
			for _, rgb := range colours {
				y, cb, cr := encodeYCbCr(float64(rgb[0])/255, float64(rgb[1])/255, float64(rgb[2])/255, from)
				img := uniform(4, 2, image.YCbCrSubsampleRatio420, y, cb, cr)
				cv.Convert(img)
				wy, wcb, wcr := color.RGBToYCbCr(rgb[0], rgb[1], rgb[2])
				if !near(img.Y[0], wy, 2) || !near(img.Cb[0], wcb, 2) || !near(img.Cr[0], wcr, 2) {
					t.Fatalf("RGB %v as %v (%d %d %d) arrives as %d %d %d, want %d %d %d",
						rgb, from, y, cb, cr, img.Y[0], img.Cb[0], img.Cr[0], wy, wcb, wcr)
				}
			}
		})
	}
	t.Run("each luma sample takes the chroma of its own block", func(t *testing.T) {
		// left half a BT.709 red-ish colour, right half a blue-ish one, 4:2:0
		from := Colour{Range: RangeLimited, Matrix: MatrixBT709}
		cv, _ := NewColourConverter(from)
		img := image.NewYCbCr(image.Rect(0, 0, 8, 4), image.YCbCrSubsampleRatio420)
		a, b := [3]uint8{200, 60, 40}, [3]uint8{40, 80, 220}
		for y := 0; y < 4; y++ {
			for x := 0; x < 8; x++ {
				c := a
				if x >= 4 {
					c = b
				}
				yy, cb, cr := encodeYCbCr(float64(c[0])/255, float64(c[1])/255, float64(c[2])/255, from)
				img.Y[img.YOffset(x, y)] = yy
				img.Cb[img.COffset(x, y)], img.Cr[img.COffset(x, y)] = cb, cr
			}
		}
		cv.Convert(img)
		for _, x := range []int{0, 3, 4, 7} {
			c := a
			if x >= 4 {
				c = b
			}
			wy, _, _ := color.RGBToYCbCr(c[0], c[1], c[2])
			if got := img.Y[img.YOffset(x, 3)]; !near(got, wy, 2) {
				t.Fatalf("Y at x=%d is %d, want %d", x, got, wy)
			}
		}
	})
}

func BenchmarkColourConvert(b *testing.B) {
	for _, tc := range []struct {
		name string
		from Colour
	}{
		{"1080p 4:2:0 limited BT.601", Colour{Range: RangeLimited}},
		{"1080p 4:2:0 limited BT.709", Colour{Range: RangeLimited, Matrix: MatrixBT709}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cv, err := NewColourConverter(tc.from)
			if err != nil {
				b.Fatal(err)
			}
			img := testPicture(b, 1920, 1080, image.YCbCrSubsampleRatio420, 3)
			b.SetBytes(int64(len(img.Y) + 2*len(img.Cb)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cv.Convert(img)
			}
		})
	}
}
