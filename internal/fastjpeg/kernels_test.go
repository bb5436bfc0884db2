package fastjpeg

import (
	"bytes"
	"encoding/binary"
	"image"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// The SIMD kernels (kernels_*.s) must give exactly what the generic code gives.
// On a build or CPU without them the dispatchers are the generic code, and these
// tests still check that much.

// idctExactBound is the magnitude below which every dequantised IDCT input keeps
// the SIMD kernels bit-exact: they add in 32-bit lanes where the reference adds in
// 64 bits. Every block an 8-bit encoder's DCT produces is far below it (about
// 2^19 at most); docs/JPEG.md states it.
const idctExactBound = 1 << 22

// withSIMD runs f with useSIMD set to on, restoring it afterwards. Tests that
// call it must not run in parallel.
func withSIMD(on bool, f func()) {
	old := useSIMD
	useSIMD = on && simdAvailable
	defer func() { useSIMD = old }()
	f()
}

// sampleBlocks are 8x8 sample blocks that reach the corners of the DCT's range.
func sampleBlocks(rng *rand.Rand) map[string][blockSize]byte {
	blocks := map[string][blockSize]byte{}
	var b [blockSize]byte
	for _, v := range []byte{0, 1, 127, 128, 254, 255} {
		for i := range b {
			b[i] = v
		}
		blocks["flat "+string(rune('0'+v%10))+string(rune('a'+v/10%26))] = b
	}
	for i := range b {
		b[i] = byte(255 * ((i>>3 + i&7) & 1)) // checkerboard: the largest AC
	}
	blocks["checkerboard of 0 and 255"] = b
	for i := range b {
		b[i] = byte(255 * (i & 1))
	}
	blocks["vertical stripes"] = b
	for i := range b {
		b[i] = byte(255 * (i >> 3 & 1))
	}
	blocks["horizontal stripes"] = b
	for i := range b {
		b[i] = byte(i * 4)
	}
	blocks["ramp"] = b
	for k := 0; k < 200; k++ {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		blocks["noise "+string(rune('a'+k%26))+string(rune('a'+k/26))] = b
	}
	return blocks
}

func TestSIMDKernelsAreUsedWhereTheCPUHasThem(t *testing.T) {
	t.Logf("GOARCH %s, SIMD build %v, CPU has the kernels' instructions %v", runtime.GOARCH, simdBuild, simdAvailable)
	if simdBuild && runtime.GOARCH == "arm64" && !simdAvailable {
		t.Fatal("every arm64 CPU has NEON (ASIMD), but it was not detected")
	}
	if !simdBuild && (simdAvailable || useSIMD) {
		t.Fatal("a build without kernels claims to have them")
	}
	if useSIMD != simdAvailable {
		t.Fatalf("useSIMD %v by default, want %v", useSIMD, simdAvailable)
	}
}

func TestFDCTQuantKernelMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 4))
	blocks := sampleBlocks(rng)
	for _, q := range []int{1, 10, 50, 75, 90, 100} {
		tables := quantTables(q)
		for ti := range tables {
			rq := newEncQuant(&tables[ti])
			for _, stride := range []int{8, 13, 64} {
				t.Run("quality "+itoa(q)+" table "+itoa(ti)+" stride "+itoa(stride)+" gives the generic coefficients and mask", func(t *testing.T) {
					for name, b := range blocks {
						// The block sits at the start of a buffer of rows stride bytes
						// apart, the bytes between rows set to junk the kernel must not use.
						src := make([]byte, 7*stride+8)
						for i := range src {
							src[i] = byte(rng.Uint32())
						}
						for y := 0; y < 8; y++ {
							copy(src[y*stride:], b[y*8:y*8+8])
						}
						var want, got coefs
						var tmp [blockSize]int32
						wantNZ := fdctQuantGeneric(&want, &tmp, src, stride, &rq)
						var gotNZ uint64
						withSIMD(true, func() { gotNZ = fdctQuant(&got, &tmp, src, stride, &rq) })
						if got != want || gotNZ != wantNZ {
							t.Fatalf("%s: kernel gave %x mask %x, generic %x mask %x", name, got, gotNZ, want, wantNZ)
						}
					}
				})
			}
		}
	}
}

// dctInputs are dequantised IDCT inputs: the DCT of sample blocks at several
// qualities, as a decoder sees them, and random coefficients up to idctExactBound.
func dctInputs(rng *rand.Rand) map[string][blockSize]int32 {
	out := map[string][blockSize]int32{}
	for _, q := range []int{1, 50, 75, 100} {
		tables := quantTables(q)
		eq, dq := newEncQuant(&tables[0]), newDecQuant(&tables[0])
		for name, b := range sampleBlocks(rng) {
			var c coefs
			var tmp [blockSize]int32
			fdctQuantGeneric(&c, &tmp, b[:], 8, &eq)
			var blk [blockSize]int32
			for k, n := range unzig {
				blk[n] = c.at(coefOf[k]) * dq[k]
			}
			out[name+" at quality "+itoa(q)] = blk
		}
	}
	for k := 0; k < 300; k++ {
		var blk [blockSize]int32
		amp := int32(1) << (4 + k%19) // 16 .. 2^22
		for i := range blk {
			if rng.IntN(4) == 0 || k%3 == 0 {
				blk[i] = rng.Int32N(2*amp) - amp
			}
		}
		out["random coefficients "+itoa(k)] = blk
	}
	var dc [blockSize]int32
	dc[0] = idctExactBound - 1
	out["DC at the bound"] = dc
	dc[0] = -(idctExactBound - 1)
	out["negative DC at the bound"] = dc
	return out
}

func TestIDCTKernelMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 5))
	inputs := dctInputs(rng)
	for _, stride := range []int{8, 11, 64} {
		t.Run("stride "+itoa(stride)+" gives the generic pixels and writes nothing else", func(t *testing.T) {
			for name, blk := range inputs {
				want := make([]byte, 7*stride+8+16)
				for i := range want {
					want[i] = byte(rng.Uint32())
				}
				got := bytes.Clone(want)
				b1, b2 := blk, blk
				idctGeneric(&b1, want[8:], stride)
				withSIMD(true, func() { idct(&b2, got[8:], stride) })
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: kernel wrote\n%v\ngeneric\n%v", name, got, want)
				}
			}
		})
	}
}

func TestCodecIsTheSameWithAndWithoutSIMD(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  *image.RGBA
	}{
		{"photograph", photoRGBA(t, 333, 217)},
		{"test pattern", patternRGBA(250, 130)},
		{"noise", noiseRGBA(97, 33, 7)},
	} {
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
			img := toYCbCr(tc.img, ratio)
			s, _ := SubsamplingOf(ratio)
			for _, q := range []int{20, 75, 100} {
				t.Run(tc.name+" "+s.String()+" quality "+itoa(q)+" codes and decodes to the same bytes", func(t *testing.T) {
					var scans [2][]byte
					var frames [2]*image.YCbCr
					for i, on := range []bool{false, true} {
						withSIMD(on, func() {
							var e Encoder
							var d Decoder
							var err error
							if scans[i], err = e.AppendScan(nil, img, img.Rect, q); err != nil {
								t.Fatal(err)
							}
							frames[i] = image.NewYCbCr(img.Rect, ratio)
							if err := d.DecodeScan(frames[i], img.Rect, q, s, scans[0]); err != nil {
								t.Fatal(err)
							}
						})
					}
					if !bytes.Equal(scans[0], scans[1]) {
						t.Fatalf("scans differ: %d bytes generic, %d with SIMD", len(scans[0]), len(scans[1]))
					}
					for _, p := range [][2][]byte{{frames[0].Y, frames[1].Y}, {frames[0].Cb, frames[1].Cb}, {frames[0].Cr, frames[1].Cr}} {
						if !bytes.Equal(p[0], p[1]) {
							t.Fatal("decoded planes differ")
						}
					}
				})
			}
		}
	}
}

// FuzzKernels compares the SIMD kernels with the generic code on arbitrary sample
// blocks, quantiser qualities and IDCT inputs (bounded by idctExactBound).
func FuzzKernels(f *testing.F) {
	f.Add(bytes.Repeat([]byte{255, 0}, 100), uint8(75), uint8(8))
	f.Add(bytes.Repeat([]byte{128}, 200), uint8(100), uint8(20))
	f.Add([]byte{}, uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, quality, pad uint8) {
		stride := 8 + int(pad%64)
		src := make([]byte, 7*stride+8)
		copy(src, data)
		tables := quantTables(int(quality%100) + 1)
		rq := newEncQuant(&tables[int(pad>>7)])
		var want, got coefs
		var tmp [blockSize]int32
		wantNZ := fdctQuantGeneric(&want, &tmp, src, stride, &rq)
		var gotNZ uint64
		withSIMD(true, func() { gotNZ = fdctQuant(&got, &tmp, src, stride, &rq) })
		if got != want || gotNZ != wantNZ {
			t.Fatalf("fdctQuant: kernel %x mask %x, generic %x mask %x", got, gotNZ, want, wantNZ)
		}

		// IDCT inputs: four bytes per coefficient from the data, cut to the bound.
		var blk [blockSize]int32
		for i := range blk {
			if 4*i+4 <= len(data) {
				v := int32(uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24)
				blk[i] = v % idctExactBound
			}
		}
		outG, outS := make([]byte, 7*stride+8), make([]byte, 7*stride+8)
		b1, b2 := blk, blk
		idctGeneric(&b1, outG, stride)
		withSIMD(true, func() { idct(&b2, outS, stride) })
		if !bytes.Equal(outG, outS) {
			t.Fatalf("idct of %v: kernel %v, generic %v", blk, outS, outG)
		}
	})
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// BenchmarkKernels times one 8x8 block through each kernel, generic and SIMD,
// over 1024 blocks of the photograph (so the data is in cache, as in the codec).
func BenchmarkKernels(b *testing.B) {
	img := toYCbCr(photoRGBA(b, 256, 256), image.YCbCrSubsampleRatio420)
	tables := quantTables(benchQuality)
	rq := newEncQuant(&tables[0])
	var steps [blockSize]uint16
	for k, v := range tables[0] {
		steps[k] = uint16(v)
	}
	dq, fq := decQuantPath(&steps, false), decQuantPath(&steps, true)
	type block struct {
		off      int
		blk, fst [blockSize]int32 // dequantised for idct and idctFast
	}
	var blocks []block
	for y := 0; y < 256; y += 8 {
		for x := 0; x < 256; x += 8 {
			o := y*img.YStride + x
			var c coefs
			var tmp [blockSize]int32
			fdctQuantGeneric(&c, &tmp, img.Y[o:], img.YStride, &rq)
			bl := block{off: o}
			for k, n := range unzig {
				bl.blk[n] = c.at(coefOf[k]) * dq[k]
				bl.fst[n] = c.at(coefOf[k]) * fq[k]
			}
			blocks = append(blocks, bl)
		}
	}
	out := make([]byte, len(img.Y))
	for _, simd := range []bool{false, true} {
		kind := map[bool]string{false: "generic", true: "simd"}[simd]
		b.Run("fdctQuant/"+kind, func(b *testing.B) {
			withSIMD(simd, func() {
				defer threadCPU(b)()
				var c coefs
				var tmp [blockSize]int32
				var sink uint64
				for i := 0; b.Loop(); i++ {
					sink += fdctQuant(&c, &tmp, img.Y[blocks[i&1023].off:], img.YStride, &rq)
				}
				_ = sink
			})
		})
		b.Run("idct/"+kind, func(b *testing.B) {
			withSIMD(simd, func() {
				defer threadCPU(b)()
				for i := 0; b.Loop(); i++ {
					bl := &blocks[i&1023]
					blk := bl.blk
					idct(&blk, out[bl.off:], img.YStride)
				}
			})
		})
		b.Run("idctFast/"+kind, func(b *testing.B) {
			withSIMD(simd, func() {
				defer threadCPU(b)()
				for i := 0; b.Loop(); i++ {
					bl := &blocks[i&1023]
					idctFast(&bl.fst, out[bl.off:], img.YStride)
				}
			})
		})
		// One op is a pair of blocks.
		b.Run("idctFast2/"+kind, func(b *testing.B) {
			withSIMD(simd, func() {
				defer threadCPU(b)()
				for i := 0; b.Loop(); i += 2 {
					ba, bb := &blocks[i&1023], &blocks[(i+1)&1023]
					idctFast2(&ba.fst, &bb.fst, out[ba.off:], img.YStride, out[bb.off:], img.YStride)
				}
			})
		})
	}
}

// fastInputs are inputs of the fast IDCT: the DCT of sample blocks dequantised by
// fast decQuants (standard tables at coarse qualities, and a 16-bit table), and
// random int32 blocks of every magnitude, including ones that saturate 16 bits
// and sums that wrap.
func fastInputs(rng *rand.Rand) map[string][blockSize]int32 {
	out := map[string][blockSize]int32{}
	// The tables' steps in zig-zag order: standard ones at coarse qualities, and a
	// 16-bit one as a camera's DQT may carry.
	var tables []QuantTable
	for _, q := range []int{10, 50, 75} {
		for _, t8 := range quantTables(q) {
			var t QuantTable
			for k, v := range t8 {
				t[k] = uint16(v)
			}
			tables = append(tables, t)
		}
	}
	var wide QuantTable
	for k := range wide {
		wide[k] = uint16(5 + k*900)
	}
	tables = append(tables, wide)
	one := quantTables(100) // steps of 1: the DCT's own coefficients
	eq := newEncQuant(&one[0])
	for i := range tables {
		dq := newDecQuant16(&tables[i])
		if dq[dqPath] != pathFast {
			panic("a coarse table did not take the fast IDCT")
		}
		for name, b := range sampleBlocks(rng) {
			var c coefs
			var tmp [blockSize]int32
			fdctQuantGeneric(&c, &tmp, b[:], 8, &eq)
			var blk [blockSize]int32
			for k, n := range unzig {
				// What the decoder holds: the coefficient quantised by the table's
				// step, times the fast multiplier.
				step := int32(tables[i][k])
				blk[n] = c.at(coefOf[k]) / step * dq[k]
			}
			out[name+" dequantised by fast table "+itoa(i)] = blk
		}
	}
	for k := 0; k < 400; k++ {
		var blk [blockSize]int32
		amp := int64(1) << (4 + k%28) // 16 .. 2^31
		for i := range blk {
			if rng.IntN(4) == 0 || k%3 == 0 {
				blk[i] = int32(rng.Int64N(2*amp) - amp)
			}
		}
		out["random coefficients "+itoa(k)] = blk
	}
	for _, dc := range []int32{-1 << 31, -40000, -32768, -32767, -4113, -4112, -1, 0, 1, 28655, 28656, 32767, 40000, 1<<31 - 1} {
		var blk [blockSize]int32
		blk[0] = dc
		out["DC "+itoa(int(dc))] = blk
	}
	return out
}

func TestIDCTFastKernelMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 6))
	inputs := fastInputs(rng)
	for _, stride := range []int{8, 11, 64} {
		t.Run("stride "+itoa(stride)+" gives the generic pixels, writes nothing else and keeps blk", func(t *testing.T) {
			for name, blk := range inputs {
				checkIDCTFast(t, name, blk, stride, rng)
			}
		})
	}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, strides := range [][2]int{{8, 8}, {64, 8}, {8, 11}, {1920, 960}} {
		t.Run("the pair kernel at strides "+itoa(strides[0])+" and "+itoa(strides[1])+" gives each block the generic pixels, writes nothing else and keeps both blocks", func(t *testing.T) {
			// Every input in each lane, beside another one chosen at random.
			for _, a := range names {
				b := names[rng.IntN(len(names))]
				checkIDCTFast2(t, a, b, inputs[a], inputs[b], strides[0], strides[1], rng)
				checkIDCTFast2(t, b, a, inputs[b], inputs[a], strides[0], strides[1], rng)
			}
		})
	}
}

// junk fills b with random bytes, eight from each draw: the rows a kernel must not
// write around its block. At a 1920-byte stride that is some 13 KB a block, and a
// draw per byte made the fill, not the kernels, most of the comparison's time.
func junk(b []byte, rng *rand.Rand) {
	var w [8]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(b[i:], w[:])
	}
}

// checkIDCTFast2 fails t unless idctFast2 writes, for the blocks a and b, the
// pixels two calls of idctFastGeneric write, only where they should, leaving
// both blocks as they were.
func checkIDCTFast2(t *testing.T, nameA, nameB string, a, b [blockSize]int32, strideA, strideB int, rng *rand.Rand) {
	t.Helper()
	wantA, wantB := make([]byte, 7*strideA+8+16), make([]byte, 7*strideB+8+16)
	junk(wantA, rng)
	junk(wantB, rng)
	gotA, gotB := bytes.Clone(wantA), bytes.Clone(wantB)
	a1, a2, b1, b2 := a, a, b, b
	idctFastGeneric(&a1, wantA[8:], strideA)
	idctFastGeneric(&b1, wantB[8:], strideB)
	withSIMD(true, func() { idctFast2(&a2, &b2, gotA[8:], strideA, gotB[8:], strideB) })
	if !bytes.Equal(gotA, wantA) {
		t.Fatalf("%s beside %s: the pair kernel wrote the first block\n%v\ngeneric\n%v", nameA, nameB, gotA, wantA)
	}
	if !bytes.Equal(gotB, wantB) {
		t.Fatalf("%s beside %s: the pair kernel wrote the second block\n%v\ngeneric\n%v", nameB, nameA, gotB, wantB)
	}
	if a2 != a || b2 != b {
		t.Fatalf("%s and %s: a block was changed", nameA, nameB)
	}
}

// checkIDCTFast fails t unless the kernel and idctFastGeneric write the same
// pixels for blk, only where they should, leaving blk as it was.
func checkIDCTFast(t *testing.T, name string, blk [blockSize]int32, stride int, rng *rand.Rand) {
	t.Helper()
	want := make([]byte, 7*stride+8+16)
	junk(want, rng)
	got := bytes.Clone(want)
	b1, b2 := blk, blk
	idctFastGeneric(&b1, want[8:], stride)
	withSIMD(true, func() { idctFast(&b2, got[8:], stride) })
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: kernel wrote\n%v\ngeneric\n%v", name, got, want)
	}
	if b1 != blk || b2 != blk {
		t.Fatalf("%s: the block was changed", name)
	}
}

// TestDCOnlyShortcutMatchesTheKernels holds the decoder's flat fill of a block
// with no AC coefficient (decode.go) to what each path's IDCT would write.
func TestDCOnlyShortcutMatchesTheKernels(t *testing.T) {
	for _, path := range []struct {
		name string
		idct func(*[blockSize]int32, []byte, int)
		flat func(int32) byte
		dcs  []int32 // checked besides every DC in -70000..70000
	}{
		{"exact", idct, func(dc int32) byte { return pixel(int64(dc)) }, []int32{-(idctExactBound - 1), idctExactBound - 1}},
		{"fast", idctFast, ifastFlat, []int32{-1 << 31, 1<<31 - 1, -1 << 20, 1 << 20}},
	} {
		for _, simd := range []bool{false, true} {
			t.Run("the "+path.name+" IDCT with SIMD "+map[bool]string{false: "off", true: "on"}[simd]+" gives every DC the shortcut's flat block", func(t *testing.T) {
				withSIMD(simd, func() {
					var out [blockSize]byte
					check := func(dc int32) {
						var blk [blockSize]int32
						blk[0] = dc
						path.idct(&blk, out[:], 8)
						want := path.flat(dc)
						for i, v := range out {
							if v != want {
								t.Fatalf("DC %d: pixel %d is %d, the shortcut gives %d", dc, i, v, want)
							}
						}
					}
					for dc := int32(-70000); dc <= 70000; dc++ {
						check(dc)
					}
					for _, dc := range path.dcs {
						check(dc)
					}
				})
			})
		}
	}
}

// FuzzIDCTFast compares the fast IDCT kernels, one block and a pair, with the
// generic reference on arbitrary int32 blocks (four bytes a coefficient, no
// bound; the pair's second block is the bytes after the first's 256) and
// strides.
func FuzzIDCTFast(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0xff, 0x7f, 0, 0}, 64), uint8(0))
	f.Add(bytes.Repeat([]byte{0, 0x80, 0xff, 0xff}, 64), uint8(3))
	f.Add([]byte{0x10, 0x10}, uint8(17))
	f.Fuzz(func(t *testing.T, data []byte, pad uint8) {
		var blk [blockSize]int32
		for i := range blk {
			if 4*i+4 <= len(data) {
				blk[i] = int32(uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24)
			}
		}
		rng := rand.New(rand.NewPCG(uint64(pad), 1))
		checkIDCTFast(t, "fuzzed block", blk, 8+int(pad%64), rng)
		var blk2 [blockSize]int32
		for i := range blk2 {
			if j := 4*blockSize + 4*i; j+4 <= len(data) {
				blk2[i] = int32(uint32(data[j]) | uint32(data[j+1])<<8 | uint32(data[j+2])<<16 | uint32(data[j+3])<<24)
			}
		}
		checkIDCTFast2(t, "fuzzed block", "second fuzzed block", blk, blk2, 8+int(pad%64), 8+int(pad/64)*7, rng)
	})
}
