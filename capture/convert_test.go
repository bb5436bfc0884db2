package capture

import (
	"image"
	"image/color"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Run("4:2:0 and 4:2:2 pass through as they are", func(t *testing.T) {
		for _, sub := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
			img := image.NewYCbCr(image.Rect(0, 0, 8, 8), sub)
			got, err := normalize(img)
			if err != nil || got != img {
				t.Fatalf("%v: got a copy or %v", sub, err)
			}
		}
	})
	t.Run("4:4:4 chroma is averaged over 2x2 blocks", func(t *testing.T) {
		src := image.NewYCbCr(image.Rect(0, 0, 3, 3), image.YCbCrSubsampleRatio444)
		for i := range src.Cb {
			src.Cb[i] = uint8(10 * i) // 0 10 20 / 30 40 50 / 60 70 80
			src.Cr[i] = 200
			src.Y[i] = uint8(i)
		}
		got, err := normalize(src)
		if err != nil {
			t.Fatal(err)
		}
		if got.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			t.Fatalf("got %v", got.SubsampleRatio)
		}
		want := []uint8{20, 35, 65, 80} // (0+10+30+40)/4, (20+50)/2, (60+70)/2, 80
		for i, w := range want {
			if got.Cb[i] != w || got.Cr[i] != 200 {
				t.Fatalf("Cb %v Cr %v, want Cb %v", got.Cb, got.Cr, want)
			}
		}
		for i := 0; i < 9; i++ {
			if got.Y[(i/3)*got.YStride+i%3] != uint8(i) {
				t.Fatal("Y changed")
			}
		}
	})
	t.Run("gray gets neutral chroma", func(t *testing.T) {
		g := image.NewGray(image.Rect(0, 0, 5, 3))
		g.SetGray(4, 2, color.Gray{Y: 99})
		got, err := normalize(g)
		if err != nil {
			t.Fatal(err)
		}
		if got.Y[2*got.YStride+4] != 99 || got.Cb[0] != 128 || got.Cr[len(got.Cr)-1] != 128 {
			t.Fatal("wrong samples")
		}
	})
	t.Run("an RGB picture is converted", func(t *testing.T) {
		m := image.NewRGBA(image.Rect(0, 0, 4, 4))
		for i := 0; i < len(m.Pix); i += 4 {
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = 255, 0, 0, 255
		}
		got, err := normalize(m)
		if err != nil {
			t.Fatal(err)
		}
		y, cb, cr := color.RGBToYCbCr(255, 0, 0)
		if got.Y[0] != y || got.Cb[0] != cb || got.Cr[0] != cr {
			t.Fatalf("got %d %d %d want %d %d %d", got.Y[0], got.Cb[0], got.Cr[0], y, cb, cr)
		}
	})
	t.Run("a sub-image is rebased to start at (0,0)", func(t *testing.T) {
		src := image.NewYCbCr(image.Rect(0, 0, 8, 8), image.YCbCrSubsampleRatio420)
		src.Y[src.YOffset(2, 2)] = 77
		sub := src.SubImage(image.Rect(2, 2, 6, 6)).(*image.YCbCr)
		got, err := normalize(sub)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rect != image.Rect(0, 0, 4, 4) || got.Y[0] != 77 {
			t.Fatalf("got %v Y0 %d", got.Rect, got.Y[0])
		}
	})
}
