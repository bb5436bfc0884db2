package ycbcr

import (
	"image"
	"testing"
)

func TestPlaneSizesMatchTheStandardLibrary(t *testing.T) {
	for _, r := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		for _, wh := range [][2]int{{1920, 1080}, {1, 1}, {17, 9}, {7680, 4321}} {
			img := image.NewYCbCr(image.Rect(0, 0, wh[0], wh[1]), r)
			if got, want := Bytes(wh[0], wh[1], r), int64(len(img.Y)+len(img.Cb)+len(img.Cr)); got != want {
				t.Errorf("%s %dx%d: %d bytes, image.NewYCbCr has %d", Name(r), wh[0], wh[1], got, want)
			}
		}
	}
	if Name(image.YCbCrSubsampleRatio422) != "4:2:2" {
		t.Fatal(Name(image.YCbCrSubsampleRatio422))
	}
}
