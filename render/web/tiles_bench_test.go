package web

import (
	"image"
	"testing"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// BenchmarkTiler measures bringing the tiles up to a 1080p frame: comparing it with the
// last one and encoding the tiles that changed (256x128 tiles, quality 80).
func BenchmarkTiler(b *testing.B) {
	a := testpic.Picture(1920, 1080, image.YCbCrSubsampleRatio420, 0)
	moved := testpic.Picture(1920, 1080, image.YCbCrSubsampleRatio420, 1) // one block moved: one tile
	inverted := testpic.Picture(1920, 1080, image.YCbCrSubsampleRatio420, 0)
	for _, p := range [][]byte{inverted.Y, inverted.Cb, inverted.Cr} {
		for i := range p {
			p[i] = 255 - p[i]
		}
	}
	for _, bc := range []struct {
		name string
		next *image.YCbCr
	}{
		{"nothing changed", a},
		{"one tile changed", moved},
		{"every tile changed", inverted},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tl := &tiler{quality: defaultQuality, tw: 256, th: 128}
			frames := [2]*receiver.Frame{receiver.NewFrame(a, 0), receiver.NewFrame(bc.next, 1)}
			if _, _, err := tl.update(frames[0], 1); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(a.Y) + len(a.Cb) + len(a.Cr)))
			b.ReportAllocs()
			gen := uint64(1)
			for i := 0; b.Loop(); i++ {
				gen++
				if _, _, err := tl.update(frames[(i+1)%2], gen); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
