package window

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
)

func BenchmarkCPUConvertDrawDraw1080p(b *testing.B) {
	img := image.NewYCbCr(image.Rect(0, 0, 1920, 1080), image.YCbCrSubsampleRatio420)
	dst := image.NewRGBA(img.Rect)
	b.ReportAllocs()
	b.SetBytes(int64(len(dst.Pix)))
	for b.Loop() {
		draw.Draw(dst, dst.Rect, img, image.Point{}, draw.Src)
	}
}

func BenchmarkCPUConvertPerPixel1080p(b *testing.B) {
	img := image.NewYCbCr(image.Rect(0, 0, 1920, 1080), image.YCbCrSubsampleRatio420)
	dst := image.NewRGBA(img.Rect)
	b.ReportAllocs()
	b.SetBytes(int64(len(dst.Pix)))
	for b.Loop() {
		for y := 0; y < 1080; y++ {
			for x := 0; x < 1920; x++ {
				c := img.COffset(x, y)
				r, g, bl := color.YCbCrToRGB(img.Y[img.YOffset(x, y)], img.Cb[c], img.Cr[c])
				i := dst.PixOffset(x, y)
				dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = r, g, bl, 255
			}
		}
	}
}
