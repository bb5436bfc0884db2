package fastjpeg

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// smoothRGBA is random low-frequency content: bilinear ramps between random
// corner colours of 16x16 cells plus a little noise, so most AC coefficients are
// zero and the runs, ZRLs and EOBs dominate the coder's work.
func smoothRGBA(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	gw, gh := w/16+2, h/16+2
	grid := make([][3]float64, gw*gh)
	for i := range grid {
		grid[i] = [3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			gx, gy := x/16, y/16
			fx, fy := float64(x%16)/16, float64(y%16)/16
			p := m.Pix[m.PixOffset(x, y):]
			for c := 0; c < 3; c++ {
				v := grid[gy*gw+gx][c]*(1-fx)*(1-fy) + grid[gy*gw+gx+1][c]*fx*(1-fy) +
					grid[(gy+1)*gw+gx][c]*(1-fx)*fy + grid[(gy+1)*gw+gx+1][c]*fx*fy
				p[c] = uint8(min(max(v+rng.Float64()*3, 0), 255))
			}
			p[3] = 255
		}
	}
	return m
}

// goldenYCbCr decodes the golden camera frames (testdata/golden) with image/jpeg
// into RGBA, the encoder's inputs for the byte-identity tests.
func goldenRGBA(t *testing.T) map[string]*image.RGBA {
	t.Helper()
	out := map[string]*image.RGBA{}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.jpg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden frames: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out["golden "+filepath.Base(f)] = rgbaOf(m)
	}
	return out
}

// scanBy codes rectangle r of img at quality q with the MCU coder or block by
// block, with or without the SIMD kernels.
func scanBy(img *image.YCbCr, r image.Rectangle, q int, byMCU, simd bool) []byte {
	var out []byte
	withSIMD(simd, func() {
		var e Encoder
		s, _ := SubsamplingOf(img.SubsampleRatio)
		e.setQuality(q)
		out = e.appendScanBy([]byte{0xaa}, img, r, s, byMCU)
	})
	return out
}

func TestMCUCoderWritesTheBlockByBlockBytes(t *testing.T) {
	images := goldenRGBA(t)
	images["photograph"] = photoRGBA(t, 333, 217)
	images["test pattern"] = patternRGBA(250, 130)
	images["smooth random"] = smoothRGBA(161, 97, 5)
	images["noise"] = noiseRGBA(97, 45, 7)
	rng := rand.New(rand.NewPCG(15, 1))
	qualities := []int{1, 2, 5, 10, 25, 50, 75, 85, 90, 95, 100}
	for range 6 {
		qualities = append(qualities, 1+rng.IntN(100))
	}
	for name, rgba := range images {
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
			img := toYCbCr(rgba, ratio)
			s, _ := SubsamplingOf(ratio)
			b := img.Rect
			rects := []image.Rectangle{
				b,                                   // the whole frame, edge MCUs on the right and bottom
				image.Rect(0, 0, 32, 16).Add(b.Min), // one interior tile
				image.Rect(16, 16, 16+41, 16+23).Add(b.Min).Intersect(b),    // a tile with ragged edges
				image.Rect(b.Dx()-18, b.Dy()-12, b.Dx(), b.Dy()).Add(b.Min), // the frame's corner
			}
			for _, q := range qualities {
				for _, r := range rects {
					t.Run(name+" "+s.String()+" quality "+itoa(q)+" "+r.String()+" codes the same bytes by MCU", func(t *testing.T) {
						want := scanBy(img, r, q, false, false) // the pure-Go reference
						for _, c := range []struct {
							byMCU, simd bool
						}{{false, true}, {true, false}, {true, true}} {
							if got := scanBy(img, r, q, c.byMCU, c.simd); !bytes.Equal(got, want) {
								t.Fatalf("by MCU %v, SIMD %v: %d bytes, block by block in Go %d; first difference at %d",
									c.byMCU, c.simd, len(got), len(want), firstDiff(got, want))
							}
						}
					})
				}
			}
		}
	}
}

// firstDiff is the index of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// mcuFromBytes fills an MCU's coefficients, masks and DC differences from data
// (two bytes a value, zero past its end), in the ranges a baseline DCT gives: AC
// coefficients within ±1023, DC differences within ±2047. A coefficient is kept
// non-zero in nz only where it is non-zero, as the DCT reports it, unless
// sparse's bit clears it.
func mcuFromBytes(data []byte, sparse uint64) *mcuCoefs {
	var m mcuCoefs
	v := func(i int) int16 {
		if 2*i+2 > len(data) {
			return 0
		}
		return int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	for b := range mcuBlocks {
		for k := 1; k < blockSize; k++ {
			c := v(b*blockSize+k) % 1024
			if sparse>>(uint(k+b)%64)&1 != 0 {
				c = 0
			}
			m.vals[b][coefOf[k]] = c
			if c != 0 {
				m.nz[b] |= 1 << k
			}
		}
		m.diff[b] = int64(v(b*blockSize) % 2048)
		m.nz[b] |= uint64(b & 1) // bit 0 is the DC's and must be ignored
	}
	return &m
}

// checkCodeBlocks codes m with codeBlocks (the assembly where useSIMD) and
// codeBlocksGeneric from the same state and compares bytes and state, and that
// nothing is written past maxMCUBytes.
func checkCodeBlocks(t *testing.T, m *mcuCoefs, s bitState, n, nlum int) {
	t.Helper()
	const guard = 64
	var outs [2][]byte
	var states [2]bitState
	for i := range outs {
		buf := bytes.Repeat([]byte{0x5a}, maxMCUBytes+guard)
		st := s
		var k int
		if i == 0 {
			k = codeBlocksGeneric(buf[:maxMCUBytes], &st, m, n, nlum, encLum, encChrom)
		} else {
			withSIMD(true, func() { k = codeBlocks(buf[:maxMCUBytes], &st, m, n, nlum, encLum, encChrom) })
		}
		if k > maxMCUBytes || !bytes.Equal(buf[maxMCUBytes:], bytes.Repeat([]byte{0x5a}, guard)) {
			t.Fatalf("coder %d wrote past maxMCUBytes (%d bytes reported)", i, k)
		}
		outs[i], states[i] = buf[:k], st
	}
	if !bytes.Equal(outs[0], outs[1]) || states[0].acc<<uint(states[0].free) != states[1].acc<<uint(states[1].free) || states[0].free != states[1].free {
		t.Fatalf("codeBlocks wrote %x state %+v, codeBlocksGeneric %x state %+v", outs[1], states[1], outs[0], states[0])
	}
}

func TestCodeBlocksMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	data := make([]byte, 2*mcuBlocks*blockSize)
	for i := range 400 {
		for j := range data {
			data[j] = uint8(rng.Uint32())
		}
		sparse := rng.Uint64() | rng.Uint64() // about three quarters zero
		if i%4 == 0 {
			sparse = 0 // dense: every flush and stuffing path
		}
		if i%5 == 0 {
			for j := range data {
				data[j] = 0xff // all ones: 0xFF bytes to stuff
			}
		}
		n, nlum := 6, 4
		if i%2 == 1 {
			n, nlum = 4, 2
		}
		free := rng.IntN(65)
		s := bitState{acc: rng.Uint64(), free: free}
		t.Run("random MCU "+itoa(i)+" of "+itoa(n)+" blocks from "+itoa(free)+" free bits codes the generic bytes", func(t *testing.T) {
			checkCodeBlocks(t, mcuFromBytes(data, sparse), s, n, nlum)
		})
	}
}

// FuzzCodeBlocks compares codeBlocks (the MCU-per-call coder, in assembly on
// amd64) with codeBlocksGeneric on arbitrary MCUs and accumulator states.
func FuzzCodeBlocks(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0xff, 0x03}, 400), uint64(0), uint64(0), uint8(64), false)
	f.Add([]byte{1, 0, 2, 0}, ^uint64(0)>>1, uint64(0x0123456789abcdef), uint8(3), true)
	f.Add([]byte{}, uint64(0), ^uint64(0), uint8(0), false)
	f.Fuzz(func(t *testing.T, data []byte, sparse, acc uint64, free uint8, four bool) {
		n, nlum := 6, 4
		if four {
			n, nlum = 4, 2
		}
		checkCodeBlocks(t, mcuFromBytes(data, sparse), bitState{acc: acc, free: int(free % 65)}, n, nlum)
	})
}
