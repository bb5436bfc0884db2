package sender

import (
	"image"
	"math/rand/v2"
	"testing"
)

func textured(w, h int, sub image.YCbCrSubsampleRatio) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), sub)
	for i := range img.Y {
		img.Y[i] = uint8(i*7 + i/w*3)
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(100+i%50), uint8(90+i%70)
	}
	return img
}

func clone(m *image.YCbCr) *image.YCbCr {
	c := *m
	c.Y, c.Cb, c.Cr = append([]uint8(nil), m.Y...), append([]uint8(nil), m.Cb...), append([]uint8(nil), m.Cr...)
	return &c
}

func TestChangeTest(t *testing.T) {
	r := image.Rect(64, 32, 320, 160) // a 256x128 tile not at the origin
	for _, sub := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
		cases := []struct {
			name      string
			edit      func(m *image.YCbCr)
			threshold int
			want      bool
		}{
			{"an identical tile is unchanged", func(m *image.YCbCr) {}, 4, false},
			{"an identical tile is unchanged even at threshold 0", func(m *image.YCbCr) {}, 0, false},
			{"one pixel off by 50 is below a threshold of 4", func(m *image.YCbCr) { m.Y[m.YOffset(100, 40)] += 50 }, 4, false},
			{"one pixel off by 50 is a change at threshold 0", func(m *image.YCbCr) { m.Y[m.YOffset(100, 40)] += 50 }, 0, true},
			{"a 16x16 block brighter by 10 is a change", func(m *image.YCbCr) {
				for y := 144; y < 160; y++ {
					for x := 304; x < 320; x++ {
						m.Y[m.YOffset(x, y)] += 10
					}
				}
			}, 4, true},
			{"sensor noise of sigma 1.5 is not a change", func(m *image.YCbCr) {
				rng := rand.New(rand.NewPCG(1, 1))
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						v := int(m.Y[m.YOffset(x, y)]) + int(rng.NormFloat64()*1.5)
						m.Y[m.YOffset(x, y)] = uint8(max(0, min(255, v)))
					}
				}
			}, 4, false},
			{"a colour change with the same luma is a change", func(m *image.YCbCr) {
				for y := 80; y < 96; y++ {
					for x := 128; x < 144; x++ {
						m.Cr[m.COffset(x, y)] += 40
					}
				}
			}, 4, true},
			{"a change outside the tile is not this tile's", func(m *image.YCbCr) {
				for y := 0; y < 32; y++ {
					for x := 0; x < 64; x++ {
						m.Y[m.YOffset(x, y)] += 100
					}
				}
			}, 0, false},
		}
		for _, c := range cases {
			t.Run(sub.String()+": "+c.name, func(t *testing.T) {
				ref := textured(384, 192, sub)
				cur := clone(ref)
				c.edit(cur)
				if got := changed(cur, ref, r, c.threshold); got != c.want {
					t.Fatalf("changed = %v, want %v", got, c.want)
				}
			})
		}
	}
}

func BenchmarkChangeTest1080p(b *testing.B) {
	ref := textured(1920, 1080, image.YCbCrSubsampleRatio420)
	for _, c := range []struct {
		name string
		cur  *image.YCbCr
	}{{"unchanged", clone(ref)}, {"all changed", textured(1920, 1080, image.YCbCrSubsampleRatio420)}} {
		if c.name == "all changed" {
			for i := range c.cur.Y {
				c.cur.Y[i] += 20
			}
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ref.Y) + 2*len(ref.Cb)))
			for b.Loop() {
				for y := 0; y < 1080; y += 128 {
					for x := 0; x < 1920; x += 256 {
						changed(c.cur, ref, image.Rect(x, y, min(x+256, 1920), min(y+128, 1080)), 4)
					}
				}
			}
		})
	}
}
