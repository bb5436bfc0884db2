package sender

import (
	"fmt"
	"image"
	"math/rand/v2"
	"testing"

	"github.com/hrvs/hrvs/internal/testrig"
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
	}{{"unchanged", clone(ref)}, {"all changed", clone(ref)}, {"changed under the threshold", clone(ref)}} {
		switch c.name {
		case "all changed":
			for i := range c.cur.Y {
				c.cur.Y[i] += 20
			}
		case "changed under the threshold": // every sample is compared
			for i := range c.cur.Y {
				c.cur.Y[i] += uint8(i % 3)
			}
			for i := range c.cur.Cb {
				c.cur.Cb[i] -= uint8(i % 2)
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

// changedBySums is the change test as its comment states it, without shortcuts:
// every block's mean absolute difference, luma then chroma, against the limit.
func changedBySums(cur, ref *image.YCbCr, r image.Rectangle, threshold int) bool {
	cw, chH := chromaScale(cur.SubsampleRatio)
	for by := r.Min.Y; by < r.Max.Y; by += changeBlock {
		for bx := r.Min.X; bx < r.Max.X; bx += changeBlock {
			blk := image.Rect(bx, by, min(bx+changeBlock, r.Max.X), min(by+changeBlock, r.Max.Y))
			sum := 0
			for y := blk.Min.Y; y < blk.Max.Y; y++ {
				for x := blk.Min.X; x < blk.Max.X; x++ {
					sum += absDiff(cur.Y[cur.YOffset(x, y)], ref.Y[ref.YOffset(x, y)])
				}
			}
			if sum > threshold*blk.Dx()*blk.Dy() {
				return true
			}
			// The chroma samples of the band's rows under this block.
			band := image.Rect(r.Min.X, by, r.Max.X, min(by+changeBlock, r.Max.Y))
			cx0, cx1 := blk.Min.X/cw, min((blk.Max.X+cw-1)/cw, (band.Max.X+cw-1)/cw)
			cy0, cy1 := band.Min.Y/chH, (band.Max.Y+chH-1)/chH
			sum = 0
			for y := cy0; y < cy1; y++ {
				for x := cx0; x < cx1; x++ {
					o := y*cur.CStride + x
					sum += absDiff(cur.Cb[o], ref.Cb[o]) + absDiff(cur.Cr[o], ref.Cr[o])
				}
			}
			if sum > 2*threshold*(cx1-cx0)*(cy1-cy0) {
				return true
			}
		}
	}
	return false
}

// The shortcuts of changed (skipping equal rows, stopping at the first block over
// its limit) never change its answer: random edits of random size and strength,
// near the limit as often as not, get the answer of the plain sums.
func TestChangeTestAgreesWithPlainSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 15))
	// The race detector finds nothing in this single-goroutine comparison and slows it
	// ten times over: a third of the trials under -race, and build.sh runs all of them
	// without it. Each answer must come up in a tenth of the trials either way.
	trials := 3000
	if testrig.Race {
		trials = 1000
	}
	for _, sub := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
		t.Run(sub.String()+": random edits agree", func(t *testing.T) {
			ref := textured(400, 200, sub)
			tiles := []image.Rectangle{image.Rect(0, 0, 256, 128), image.Rect(64, 32, 320, 160), image.Rect(256, 128, 400, 200)}
			agreed := map[bool]int{}
			for trial := range trials {
				cur := clone(ref)
				for range 1 + rng.IntN(4) {
					x0, y0 := rng.IntN(400), rng.IntN(200)
					x1, y1 := min(400, x0+1+rng.IntN(40)), min(200, y0+1+rng.IntN(40))
					d := uint8(1 + rng.IntN(12))
					chroma := rng.IntN(3) == 0
					for y := y0; y < y1; y++ {
						for x := x0; x < x1; x++ {
							if chroma {
								cur.Cb[cur.COffset(x, y)] += d
							} else {
								cur.Y[cur.YOffset(x, y)] += d
							}
						}
					}
				}
				r := tiles[trial%len(tiles)]
				th := rng.IntN(6)
				want := changedBySums(cur, ref, r, th)
				if got := changed(cur, ref, r, th); got != want {
					t.Fatalf("trial %d: changed = %v, plain sums say %v (tile %v, threshold %d)", trial, got, want, r, th)
				}
				agreed[want]++
			}
			if agreed[true] < trials/10 || agreed[false] < trials/10 {
				t.Fatalf("the trials tested too few of one answer: %v", agreed)
			}
		})
	}
}

// sad's lanes give |a-b| for every pair of samples, in every position of a word
// and in the samples after the last whole word.
func TestSADOfEveryPairOfSamples(t *testing.T) {
	for _, n := range []int{16, 13, 8, 5} {
		t.Run(fmt.Sprintf("a row of %d samples sums exactly", n), func(t *testing.T) {
			a, b := make([]uint8, n), make([]uint8, n)
			for x := range 256 {
				for y := range 256 {
					want := 0
					for i := range n {
						a[i], b[i] = uint8(x+i*29), uint8(y+i*53)
						want += absDiff(a[i], b[i])
					}
					if got := sad(a, b); got != want {
						t.Fatalf("sad(%v, %v) = %d, want %d", a, b, got, want)
					}
				}
			}
		})
	}
}
