package fastjpeg

import (
	"bytes"
	"image"
	"math/rand/v2"
	"slices"
	"testing"
)

// fastTables are the quantisation tables the package builds (every quality, both
// classes) that take the fast DCT, by name.
func fastTables() map[string]*[blockSize]uint8 {
	out := map[string]*[blockSize]uint8{}
	for q := 1; q <= 100; q++ {
		tables := quantTables(q)
		for ti := range tables {
			if fastQuantOK(&tables[ti]) {
				out["quality "+itoa(q)+" table "+itoa(ti)] = &tables[ti]
			}
		}
	}
	return out
}

// namedTable is one of fastTables, in the order of quality and table index.
type namedTable struct {
	name string
	tab  *[blockSize]uint8
}

// sweptTables are the fast tables the kernel comparisons sweep: all of them in
// a plain build, every 8th (with the coarsest and the finest) under -race and
// qemu (sweepStep).
func sweptTables() []namedTable {
	var all []namedTable
	for q := 1; q <= 100; q++ {
		tables := quantTables(q)
		for ti := range tables {
			if fastQuantOK(&tables[ti]) {
				all = append(all, namedTable{"quality " + itoa(q) + " table " + itoa(ti), &tables[ti]})
			}
		}
	}
	return sample(all, 8)
}

// extremeBlocks are the sample blocks of 0s and 255s that drive the fast DCT's
// values to the ends of their ranges. Every value is (up to the multiplies'
// rounding) a linear form of the samples, extreme at such a block. A first-pass
// value depends on one column: blocks whose columns are all one of the 256
// patterns. A second-pass value of lane v sums first-pass outputs v of the
// columns with signs, each at its end when its column follows the sign pattern of
// the DCT's basis function v or its negation: blocks of those columns in each of
// the 256 ways. Random 0/255 blocks are thrown in.
func extremeBlocks(rng *rand.Rand) map[string][blockSize]byte {
	out := map[string][blockSize]byte{}
	column := func(b *[blockSize]byte, x int, pattern int) {
		for y := 0; y < 8; y++ {
			b[y*8+x] = byte(255 * (pattern >> y & 1))
		}
	}
	for p := 0; p < 256; p++ {
		var b [blockSize]byte
		for x := 0; x < 8; x++ {
			column(&b, x, p)
		}
		out["every column "+itoa(p)] = b
	}
	// basis[v] has bit y set where cos((2y+1)v*pi/16) > 0: (2y+1)v mod 32 outside
	// the half turn (8, 24).
	var basis [8]int
	for v := range basis {
		for y := 0; y < 8; y++ {
			if m := (2*y + 1) * v % 32; m < 8 || m > 24 {
				basis[v] |= 1 << y
			}
		}
	}
	for v := 0; v < 8; v++ {
		for signs := 0; signs < 256; signs++ {
			var b [blockSize]byte
			for x := 0; x < 8; x++ {
				p := basis[v]
				if signs>>x&1 != 0 {
					p ^= 255
				}
				column(&b, x, p)
			}
			out["basis "+itoa(v)+" columns signed "+itoa(signs)] = b
		}
	}
	for k := 0; k < 500; k++ {
		var b [blockSize]byte
		for i := range b {
			b[i] = byte(255 * (rng.Uint32() & 1))
		}
		out["random 0s and 255s "+itoa(k)] = b
	}
	return out
}

// mulSites are ifast1D's multiplies.
var mulSites = [5]struct {
	name string
	c    int64
}{
	{"z1 (0.707)", ifix0_707106781},
	{"z5 (0.382)", ifix0_382683433},
	{"z2 (0.541)", ifix0_541196100},
	{"z4 (0.306)", ifix0_306562965},
	{"z3 (0.707)", ifix0_707106781},
}

// widePeaks are the largest magnitudes ifastWide met: each multiply's operand,
// by pass and site (mulSites), and any value (operands included).
type widePeaks struct {
	operand [2][len(mulSites)]int64
	value   int64
}

// ifastWide is fdctQuantFastGeneric's DCT, without quantisation, in 64-bit
// arithmetic with x*c / 2^15 multiplies rounded half up: what the 16-bit lanes
// compute when nothing wraps. It records the magnitudes it meets in pk.
func ifastWide(src []byte, stride int, pk *widePeaks) (out [blockSize]int64) {
	pass := func(d *[8]int64, pi int) {
		mul := func(x int64, site int) int64 {
			pk.operand[pi][site] = max(pk.operand[pi][site], x, -x)
			return (x*mulSites[site].c + 1<<14) >> 15
		}
		t0, t7 := d[0]+d[7], d[0]-d[7]
		t1, t6 := d[1]+d[6], d[1]-d[6]
		t2, t5 := d[2]+d[5], d[2]-d[5]
		t3, t4 := d[3]+d[4], d[3]-d[4]
		t10, t13 := t0+t3, t0-t3
		t11, t12 := t1+t2, t1-t2
		d[0], d[4] = t10+t11, t10-t11
		z1 := mul(t12+t13, 0)
		d[2], d[6] = t13+z1, t13-z1
		t10, t11, t12 = t4+t5, t5+t6, t6+t7
		z5 := mul(t10-t12, 1)
		z2 := mul(t10, 2) + z5
		z4 := mul(t12, 3) + t12 + z5
		z3 := mul(t11, 4)
		z11, z13 := t7+z3, t7-z3
		d[5], d[3] = z13+z2, z13-z2
		d[1], d[7] = z11+z4, z11-z4
		for _, v := range [...]int64{t0, t1, t2, t3, t4, t5, t6, t7, t10, t11, t12, t13, z11, z13, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]} {
			pk.value = max(pk.value, v, -v)
		}
	}
	var w [8][8]int64
	for x := 0; x < 8; x++ {
		var d [8]int64
		for y := range d {
			d[y] = (int64(src[y*stride+x]) - 128) << ifastFracBits
		}
		pass(&d, 0)
		w[x] = d
	}
	for v := 0; v < 8; v++ {
		var d [8]int64
		for x := range d {
			d[x] = w[x][v]
		}
		pass(&d, 1)
		for u, c := range d {
			out[u*8+v] = c
		}
	}
	return out
}

// quantWide divides c by d, rounding half away from zero: what fastQuant promises.
func quantWide(c int64, d uint32) int64 {
	a := c
	if a < 0 {
		a = -a
	}
	q := (a + int64(d/2)) / int64(d)
	if c < 0 {
		return -q
	}
	return q
}

func TestFastDCTStaysIn16Bits(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 6))
	blocks := extremeBlocks(rng)
	for name, b := range sampleBlocks(rng) {
		blocks[name] = b
	}
	// Every value must stay below 2^15, so that the kernels' 16-bit lanes compute
	// what the reference computes in 32 bits and ifastWide in 64 (compared too).
	// extremeBlocks holds the blocks that drive each value to its end (see there).
	var pk widePeaks
	for name, b := range blocks {
		wide := ifastWide(b[:], 8, &pk)
		got := ifastDCT(b[:], 8)
		for p := range got {
			if int64(got[p]) != wide[p] {
				t.Fatalf("%s: output %d is %d in the reference, %d in 64 bits", name, p, got[p], wide[p])
			}
		}
	}
	for pi := range pk.operand {
		for i, site := range mulSites {
			t.Logf("pass %d multiply %s: largest operand %d", pi+1, site.name, pk.operand[pi][i])
		}
	}
	t.Logf("largest value over %d blocks: %d (int16 holds 32767)", len(blocks), pk.value)
	// A margin for the multiplies' rounding, which the linear forms leave out.
	if pk.value > 32767-256 {
		t.Errorf("a value of %d is within 256 of int16's limit", pk.value)
	}
}

func TestFastQuantDividesExactly(t *testing.T) {
	// Every divisor the fast tables produce, every coefficient the DCT can give
	// (|x| < 2^15, TestFastDCTStaysIn16Bits): jquanti's multiplies, and the
	// generic code's one, are the rounded division.
	divisors := map[uint32]bool{}
	for _, tab := range fastTables() {
		for k, n := range unzig {
			divisors[ifastDivisor(tab[k], n)] = true
		}
	}
	t.Run("every divisor of the fast tables rounds each coefficient to nearest, half away from zero", func(t *testing.T) {
		for d := range divisors {
			if d < 2 {
				t.Fatalf("divisor %d: the fast path needs at least %d", d, minFastDivisor)
			}
			recip, corr, scale := reciprocalOf(d)
			half, magic := divMagic(d)
			for x := -32767; x <= 32767; x++ {
				want := quantWide(int64(x), d)
				if got := quantFast(int16(x), recip, corr, scale); int64(got) != want {
					t.Fatalf("%d / %d: jquanti's way %d, want %d (recip %d corr %d scale %d)", x, d, got, want, recip, corr, scale)
				}
				if got := quantDiv(int32(x), half, magic); int64(got) != want {
					t.Fatalf("%d / %d: one multiply %d, want %d", x, d, got, want)
				}
			}
		}
	})
	t.Logf("%d distinct divisors", len(divisors))
}

func TestFastQuantChoosesCoarseTables(t *testing.T) {
	for _, tc := range []struct {
		quality int
		fast    [2]bool
	}{
		{50, [2]bool{true, true}},
		{75, [2]bool{true, true}},
		{87, [2]bool{true, true}},
		{88, [2]bool{false, true}},
		{90, [2]bool{false, true}},
		{92, [2]bool{false, true}},
		{93, [2]bool{false, false}},
		{100, [2]bool{false, false}},
	} {
		t.Run("quality "+itoa(tc.quality)+" takes the expected path", func(t *testing.T) {
			var e Encoder
			e.setQuality(tc.quality)
			if e.fast != tc.fast {
				t.Fatalf("fast %v, want %v", e.fast, tc.fast)
			}
		})
	}
}

func TestFastDCTKernelMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 7))
	blocks := sampleBlocks(rng)
	for name, b := range extremeBlocks(rng) {
		blocks[name] = b
	}
	for _, nt := range sweptTables() {
		tname, fq := nt.name, newFastQuant(nt.tab)
		for _, stride := range []int{8, 13} {
			t.Run(tname+" stride "+itoa(stride)+" gives the generic coefficients and mask", func(t *testing.T) {
				src := make([]byte, 7*stride+8)
				for name, b := range blocks {
					// Junk between the rows, which the kernel must not use.
					for i := range src {
						src[i] = byte(rng.Uint32())
					}
					for y := 0; y < 8; y++ {
						copy(src[y*stride:], b[y*8:y*8+8])
					}
					var want, got coefs
					wantNZ := fdctQuantFastGeneric(&want, src, stride, &fq)
					var gotNZ uint64
					withSIMD(true, func() { gotNZ = fdctQuantFast(&got, src, stride, &fq) })
					if got != want || gotNZ != wantNZ {
						t.Fatalf("%s: kernel gave %x mask %x, generic %x mask %x", name, got, gotNZ, want, wantNZ)
					}
					var pos uint64
					for p, c := range want {
						if c != 0 {
							pos |= 1 << p
						}
					}
					if zigOfPos(pos) != wantNZ {
						t.Fatalf("%s: mask %x does not mark the non-zero coefficients %x", name, wantNZ, zigOfPos(pos))
					}
				}
			})
		}
	}
}

// TestFastDCTPairKernelMatchesGeneric runs fdctQuantFast2 on pairs of blocks,
// each with its own stride (the encoder pairs a block of the plane with an edge
// block), and wants each block's coefficients and mask from the generic code.
func TestFastDCTPairKernelMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 8))
	blocks := sampleBlocks(rng)
	for name, b := range extremeBlocks(rng) {
		blocks[name] = b
	}
	var names []string
	for name := range blocks {
		names = append(names, name)
	}
	slices.Sort(names)
	fill := func(b [blockSize]byte, stride int) []byte {
		src := make([]byte, 7*stride+8)
		for i := range src { // junk between the rows, which the kernel must not use
			src[i] = byte(rng.Uint32())
		}
		for y := 0; y < 8; y++ {
			copy(src[y*stride:], b[y*8:y*8+8])
		}
		return src
	}
	// Each table is checked at two pairs of strides, SIMD off and on, with every
	// block: under -race (raceSample) a third of sweptTables' sample, the coarsest
	// and the finest among them; qemu takes sweptTables' sample, and the plain
	// build every fast table.
	for _, nt := range raceSample(sweptTables(), 3) {
		tname, fq := nt.name, newFastQuant(nt.tab)
		for _, strides := range [][2]int{{13, 8}, {8, 40}} {
			for _, simd := range []bool{false, true} {
				t.Run(tname+" strides "+itoa(strides[0])+" and "+itoa(strides[1])+" simd "+map[bool]string{false: "off", true: "on"}[simd]+" give each block its generic coefficients and mask", func(t *testing.T) {
					for i, na := range names {
						nb := names[(i*7+3)%len(names)] // a different block in the other lane
						srcA, srcB := fill(blocks[na], strides[0]), fill(blocks[nb], strides[1])
						var wantA, wantB, gotA, gotB coefs
						wantNZA := fdctQuantFastGeneric(&wantA, srcA, strides[0], &fq)
						wantNZB := fdctQuantFastGeneric(&wantB, srcB, strides[1], &fq)
						var nzA, nzB uint64
						withSIMD(simd, func() {
							nzA, nzB = fdctQuantFast2(&gotA, &gotB, srcA, strides[0], srcB, strides[1], &fq)
						})
						if gotA != wantA || nzA != wantNZA {
							t.Fatalf("%s (with %s): block A %x mask %x, generic %x mask %x", na, nb, gotA, nzA, wantA, wantNZA)
						}
						if gotB != wantB || nzB != wantNZB {
							t.Fatalf("%s (with %s): block B %x mask %x, generic %x mask %x", nb, na, gotB, nzB, wantB, wantNZB)
						}
					}
				})
			}
		}
	}
}

// TestFastDCTCostsNoVisibleQuality encodes the photograph with the fast and the
// exact DCT at qualities that take the fast one: the loss stays within
// fastLossDB and the size within 1%.
func TestFastDCTCostsNoVisibleQuality(t *testing.T) {
	const fastLossDB = 0.05
	img := toYCbCr(photoRGBA(t, 640, 360), image.YCbCrSubsampleRatio420)
	for _, q := range []int{50, 75, 87} {
		t.Run("quality "+itoa(q)+" loses at most 0.05 dB and 1% in size", func(t *testing.T) {
			var res [2]struct {
				size int
				psnr float64
			}
			for i, fast := range []bool{false, true} {
				var e Encoder
				e.setQuality(q)
				if !e.fast[0] || !e.fast[1] {
					t.Fatalf("quality %d does not take the fast DCT", q)
				}
				e.fast = [2]bool{fast, fast}
				scan, err := e.AppendScan(nil, img, img.Rect, q)
				if err != nil {
					t.Fatal(err)
				}
				var d Decoder
				out := image.NewYCbCr(img.Rect, img.SubsampleRatio)
				if err := d.DecodeScan(out, img.Rect, q, S420, scan); err != nil {
					t.Fatal(err)
				}
				res[i].size, res[i].psnr = len(scan), psnr(img, out)
			}
			t.Logf("exact %d bytes %.3f dB, fast %d bytes %.3f dB", res[0].size, res[0].psnr, res[1].size, res[1].psnr)
			if res[1].psnr < res[0].psnr-fastLossDB {
				t.Fatalf("fast DCT %.3f dB, exact %.3f dB", res[1].psnr, res[0].psnr)
			}
			if d := float64(res[1].size)/float64(res[0].size) - 1; d > 0.01 || d < -0.01 {
				t.Fatalf("fast DCT %d bytes, exact %d", res[1].size, res[0].size)
			}
		})
	}
}

// FuzzFastDCT compares the SIMD kernels (one block and two a call) with the generic code, and both with the
// wide arithmetic, on arbitrary sample blocks and the fast qualities' tables.
func FuzzFastDCT(f *testing.F) {
	f.Add(bytes.Repeat([]byte{255, 0}, 40), uint8(75), uint8(8))
	f.Add(bytes.Repeat([]byte{0, 0, 255, 255}, 20), uint8(10), uint8(3))
	f.Add([]byte{}, uint8(1), uint8(0))
	var tabs []*[blockSize]uint8
	for _, tab := range fastTables() {
		tabs = append(tabs, tab)
	}
	f.Fuzz(func(t *testing.T, data []byte, table, pad uint8) {
		stride := 8 + int(pad%64)
		src := make([]byte, 7*stride+8)
		copy(src, data)
		tab := tabs[int(table)%len(tabs)]
		fq := newFastQuant(tab)
		var want, got coefs
		wantNZ := fdctQuantFastGeneric(&want, src, stride, &fq)
		var gotNZ uint64
		withSIMD(true, func() { gotNZ = fdctQuantFast(&got, src, stride, &fq) })
		if got != want || gotNZ != wantNZ {
			t.Fatalf("kernel %x mask %x, generic %x mask %x", got, gotNZ, want, wantNZ)
		}
		// The pair kernel, with the block in either lane and a second block
		// (the data's bytes reversed, stride 8) in the other.
		srcB := make([]byte, blockSize)
		for i := range srcB {
			srcB[i] = src[len(src)-1-i%len(src)]
		}
		var wantB coefs
		wantNZB := fdctQuantFastGeneric(&wantB, srcB, 8, &fq)
		for _, aFirst := range []bool{true, false} {
			var gotA, gotB coefs
			var nzA, nzB uint64
			withSIMD(true, func() {
				if aFirst {
					nzA, nzB = fdctQuantFast2(&gotA, &gotB, src, stride, srcB, 8, &fq)
				} else {
					nzB, nzA = fdctQuantFast2(&gotB, &gotA, srcB, 8, src, stride, &fq)
				}
			})
			if gotA != want || nzA != wantNZ || gotB != wantB || nzB != wantNZB {
				t.Fatalf("pair kernel (block first %v) %x mask %x and %x mask %x, generic %x mask %x and %x mask %x",
					aFirst, gotA, nzA, gotB, nzB, want, wantNZ, wantB, wantNZB)
			}
		}
		var pk widePeaks
		wide := ifastWide(src, stride, &pk)
		for k, n := range unzig {
			p := transpose(n)
			if w := quantWide(wide[p], ifastDivisor(tab[k], n)); int64(want[p]) != w {
				t.Fatalf("coefficient %d: %d in 16-bit lanes, %d in 64 bits", p, want[p], w)
			}
		}
	})
}

// BenchmarkFastDCT times one 8x8 block through the exact DCT kernel and the fast
// one, generic and SIMD, and two blocks through the fast pair (fast2), over
// 1024 blocks of the photograph at quality 75.
func BenchmarkFastDCT(b *testing.B) {
	img := toYCbCr(photoRGBA(b, 256, 256), image.YCbCrSubsampleRatio420)
	tables := quantTables(benchQuality)
	rq, fq := newEncQuant(&tables[0]), newFastQuant(&tables[0])
	var offs []int
	for y := 0; y < 256; y += 8 {
		for x := 0; x < 256; x += 8 {
			offs = append(offs, y*img.YStride+x)
		}
	}
	for _, simd := range []bool{false, true} {
		kind := map[bool]string{false: "generic", true: "simd"}[simd]
		b.Run("exact/"+kind, func(b *testing.B) {
			withSIMD(simd, func() {
				defer threadCPU(b)()
				var c coefs
				var tmp [blockSize]int32
				var sink uint64
				for i := 0; b.Loop(); i++ {
					sink += fdctQuant(&c, &tmp, img.Y[offs[i&1023]:], img.YStride, &rq)
				}
				_ = sink
			})
		})
		b.Run("fast/"+kind, func(b *testing.B) {
			withSIMD(simd, func() {
				defer threadCPU(b)()
				var c coefs
				var sink uint64
				for i := 0; b.Loop(); i++ {
					sink += fdctQuantFast(&c, img.Y[offs[i&1023]:], img.YStride, &fq)
				}
				_ = sink
			})
		})
		// One op is two blocks, as the encoder pairs them; ns/block compares with
		// fast's ns/op.
		b.Run("fast2/"+kind, func(b *testing.B) {
			withSIMD(simd, func() {
				defer threadCPU(b)()
				var c, c2 coefs
				var sink uint64
				for i := 0; b.Loop(); i += 2 {
					a, d := fdctQuantFast2(&c, &c2, img.Y[offs[i&1023]:], img.YStride, img.Y[offs[(i+1)&1023]:], img.YStride, &fq)
					sink += a + d
				}
				_ = sink
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/block")
			})
		})
	}
}
