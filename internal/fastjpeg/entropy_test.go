package fastjpeg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// The entropy coder (bitWriter.code for the encoder's blocks, bitWriter.codeZZ
// for re-tiled ones) must write exactly the bytes the former coder
// (entropy_ref_test.go) wrote, for every block the encoder or a camera's scan
// can give it: AC coefficients within ±1023 (10 bits, ITU T.81 Table F.1) and DC
// differences within ±2047, any Huffman table that codes every symbol.

// coderBlock is one block as the coder takes it: quantised coefficients in the
// DCT's column order (coefs) and in zigzag order, the zigzag mask of its non-zero
// coefficients, its DC and which class's tables code it.
type coderBlock struct {
	c      coefs
	zz     [blockSize]int16
	nz     uint64
	dc     int32
	chroma bool
}

// newCoderBlock builds a block from zigzag coefficients.
func newCoderBlock(zz *[blockSize]int16, chroma bool) coderBlock {
	b := coderBlock{zz: *zz, dc: int32(zz[0]), chroma: chroma}
	for k, v := range zz {
		b.c[coefOf[k]] = v
		if v != 0 {
			b.nz |= 1 << k
		}
	}
	return b
}

// randomBlock draws a block whose non-zero AC coefficients are k with
// probability density (so low densities give long runs and ZRLs), of random sizes
// up to 10 bits, with a DC in -1024..1023.
func randomBlock(rng *rand.Rand, density float64, chroma bool) coderBlock {
	var zz [blockSize]int16
	zz[0] = int16(rng.IntN(2048) - 1024)
	for k := 1; k < blockSize; k++ {
		if rng.Float64() < density {
			size := 1 + rng.IntN(maxACSize)
			v := int16(1<<(size-1) + rng.IntN(1<<(size-1)))
			if rng.IntN(2) == 0 {
				v = -v
			}
			zz[k] = v
		}
	}
	return newCoderBlock(&zz, chroma)
}

// photoBlocks are the quantised blocks of a 1080p 4:2:0 encode of the
// photograph at benchQuality, in scan order: what the coder sees in the
// benchmarks.
func photoBlocks(t testing.TB) []coderBlock {
	img := toYCbCr(photoRGBA(t, 1920, 1080), image.YCbCrSubsampleRatio420)
	var e Encoder
	e.setQuality(benchQuality)
	py := plane{img.Y, img.YStride, img.Rect.Dx(), img.Rect.Dy()}
	pcb := plane{img.Cb, img.CStride, (img.Rect.Dx() + 1) / 2, (img.Rect.Dy() + 1) / 2}
	pcr := plane{img.Cr, img.CStride, pcb.w, pcb.h}
	var out []coderBlock
	add := func(p *plane, x, y, qi int) {
		var c coefs
		var nz uint64
		if x+8 <= p.w && y+8 <= p.h {
			nz = fdctQuant(&c, &e.blk, p.pix[y*p.stride+x:], p.stride, &e.quant[qi])
		} else {
			e.loadEdge(p, x, y)
			nz = fdctQuant(&c, &e.blk, e.edge[:], 8, &e.quant[qi])
		}
		var zz [blockSize]int16
		for k := range zz {
			zz[k] = int16(c.at(coefOf[k]))
		}
		b := newCoderBlock(&zz, qi == 1)
		if b.c != c || b.nz|1 != nz|1 {
			t.Fatalf("block (%d,%d): rebuilt coefficients or mask differ from the DCT's", x, y)
		}
		out = append(out, b)
	}
	for my := 0; my < py.h; my += 16 {
		for mx := 0; mx < py.w; mx += 16 {
			add(&py, mx, my, 0)
			add(&py, mx+8, my, 0)
			add(&py, mx, my+8, 0)
			add(&py, mx+8, my+8, 0)
			add(&pcb, mx/2, my/2, 1)
			add(&pcr, mx/2, my/2, 1)
		}
	}
	return out
}

// skewedTables are complete Huffman tables whose rarest symbols have 16-bit
// codes, so that codes plus value bits reach the coder's limits (27 bits for a
// DC, 26 for an AC coefficient).
func skewedTables(t testing.TB) *TableSet {
	var dc, ac [257]int64
	for s := 0; s <= 11; s++ {
		dc[s] = 1 << (2 * (11 - s)) // DC size 11 gets a long code
	}
	for rs := 0; rs < 256; rs++ {
		run, size := rs>>4, rs&15
		if size <= maxACSize && (size != 0 || run == 0 || run == 15) {
			ac[rs] = int64(1) << max(0, 40-3*run-2*size)
		}
	}
	h := [4]HuffTable{optimalTable(&dc), optimalTable(&ac)}
	h[2], h[3] = h[0], h[1]
	ts, err := NewTableSet(&Tables{Quant: StandardTables(75).Quant, Huff: h})
	if err != nil {
		t.Fatal(err)
	}
	if !ts.CanEncode() {
		t.Fatal("skewed tables cannot code every symbol")
	}
	longest := 0
	for l := range h[1].Count {
		if h[1].Count[l] > 0 {
			longest = l + 1
		}
	}
	if longest != 16 {
		t.Fatalf("skewed AC table's longest code is %d bits, want 16", longest)
	}
	return ts
}

// codeAll codes blocks with both coders, each starting from the same prefix of
// bits (so that every alignment of the first code is reached), DC predictions
// chained as the encoder chains them, and returns both padded outputs. The new
// coder hands its bits back to the bitWriter every seventh block, as a mix of
// Transcode and AppendTile would.
func codeAll(blocks []coderBlock, tables [2]*encTables, prefix uint64, prefixBits uint, zigzag bool) (got, want []byte) {
	w := bitWriter{buf: make([]byte, 0, 16)}
	r := refWriter{buf: make([]byte, 0, 16)}
	if prefixBits > 0 {
		w.acc, w.n = prefix<<(64-prefixBits), prefixBits
		r.acc, r.n = w.acc, w.n
	}
	hs := w.begin()
	var pw, pr [2]int32
	for i := range blocks {
		b := &blocks[i]
		ci := 0
		if b.chroma {
			ci = 1
		}
		w.pos = hs.pos
		w.reserve(maxTileMCUBytes)
		r.reserve(maxTileMCUBytes)
		if zigzag {
			hs = hs.code(w.buf, &b.zz, &zigzagOrder, b.nz&^1, b.dc-pw[ci], tables[ci])
			pr[ci] = r.codeZZ(&b.zz, b.nz, pr[ci], tables[ci])
		} else {
			hs = hs.code(w.buf, (*[blockSize]int16)(&b.c), &coefOf, b.nz&^1, b.dc-pw[ci], tables[ci])
			r.code(&b.c, b.nz&^1, b.dc-pr[ci], tables[ci])
			pr[ci] = b.dc
		}
		pw[ci] = b.dc
		if i%7 == 6 {
			w.end(hs)
			hs = w.begin()
		}
	}
	w.pos = hs.pos
	w.reserve(16)
	w.end(hs)
	w.reserve(16)
	r.reserve(16)
	w.pad()
	r.pad()
	return w.buf[:w.pos], r.buf[:r.pos]
}

func TestCoderMatchesFormerCoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	skew := skewedTables(t)
	tableSets := []struct {
		name   string
		tables [2]*encTables
	}{
		{"Annex K tables", [2]*encTables{encLum, encChrom}},
		{"tables with 16-bit codes", skew.enc},
	}
	var random []coderBlock
	for _, d := range []float64{0, 0.02, 0.1, 0.3, 0.7, 1} {
		for i := 0; i < 300; i++ {
			random = append(random, randomBlock(rng, d, i%3 == 2))
		}
	}
	// Blocks at the limits: every coefficient ±1023, DC differences of ±2047,
	// only the last coefficient, runs of exactly 16 and 32 zeros.
	var edge []coderBlock
	var zz [blockSize]int16
	for k := range zz {
		zz[k] = 1023 * int16(1-2*(k&1))
	}
	zz[0] = -1024
	edge = append(edge, newCoderBlock(&zz, false))
	zz = [blockSize]int16{1023}
	edge = append(edge, newCoderBlock(&zz, false))
	zz = [blockSize]int16{-1024, 63: -1}
	edge = append(edge, newCoderBlock(&zz, true))
	zz = [blockSize]int16{0, 17: 5, 49: -7, 63: 1023}
	edge = append(edge, newCoderBlock(&zz, true))
	zz = [blockSize]int16{1023, 16: -1, 33: 2}
	edge = append(edge, newCoderBlock(&zz, false))
	zz = [blockSize]int16{1: 1}
	edge = append(edge, newCoderBlock(&zz, false))

	corpora := []struct {
		name   string
		blocks []coderBlock
	}{
		{"random blocks of every density", random},
		{"blocks at the limits of the ranges", edge},
		{"the photograph's blocks", photoBlocks(t)},
	}
	for _, simd := range []bool{false, true} {
		for _, ts := range tableSets {
			for _, c := range corpora {
				name := ts.name + " code " + c.name + " to the same bytes, in the encoder's order and in zigzag order"
				if simd {
					name += ", with the assembly coder where there is one"
				}
				t.Run(name, func(t *testing.T) {
					withSIMD(simd, func() { compareCoders(t, c.blocks, ts.tables) })
				})
			}
		}
	}
}

func TestAppendScanMatchesFormerEncoder(t *testing.T) {
	images := []struct {
		name string
		rgba *image.RGBA
	}{
		{"the photograph", photoRGBA(t, 333, 217)},
		{"the test pattern", patternRGBA(250, 130)},
		{"random noise", noiseRGBA(97, 71, 3)},
	}
	for _, simd := range []bool{false, true} {
		for _, im := range images {
			for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
				img := toYCbCr(im.rgba, ratio)
				s, _ := SubsamplingOf(ratio)
				name := fmt.Sprintf("%s in %v codes to the former encoder's bytes", im.name, s)
				if simd {
					name += ", with the SIMD kernels where there are some"
				}
				t.Run(name, func(t *testing.T) {
					withSIMD(simd, func() {
						for _, q := range []int{1, 20, 75, 100} {
							for _, r := range []image.Rectangle{img.Rect, image.Rect(16, 16, 16+33, 16+47)} {
								var e, re Encoder
								got, err := e.AppendScan(nil, img, r, q)
								if err != nil {
									t.Fatal(err)
								}
								want := (&refWriter{}).appendScan(&re, img, r, s, q)
								if !bytes.Equal(got, want) {
									t.Fatalf("quality %d, %v: %d bytes, want %d", q, r, len(got), len(want))
								}
							}
						}
					})
				})
			}
		}
	}
}

// compareCoders codes blocks with the new and the former coder, from every
// alignment of a few bits already pending, in the encoder's and in zigzag order.
func compareCoders(t *testing.T, blocks []coderBlock, tables [2]*encTables) {
	rng := rand.New(rand.NewPCG(15, 2))
	for _, zigzag := range []bool{false, true} {
		for _, pb := range []uint{0, 1, 7, 8, 13, 31} {
			got, want := codeAll(blocks, tables, rng.Uint64()&(1<<pb-1), pb, zigzag)
			if !bytes.Equal(got, want) {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Fatalf("zigzag %v, after %d prefix bits: %d bytes, want %d; first difference at byte %d", zigzag, pb, len(got), len(want), i)
			}
			if len(want) < len(blocks) {
				t.Fatalf("%d bytes for %d blocks: the corpus codes to almost nothing", len(want), len(blocks))
			}
		}
	}
}

// FuzzCoder codes blocks made of the fuzzer's bytes (two per coefficient,
// folded into the ranges) with the new and the former coder: the bytes must be
// the same.
func FuzzCoder(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0x00, 0x01}, uint8(0), false)
	f.Add(bytes.Repeat([]byte{0x7f, 0xff, 0x80, 0x01}, 40), uint8(5), true)
	f.Add(bytes.Repeat([]byte{0, 0, 0, 0, 0, 0, 0, 3}, 70), uint8(31), false)
	skew := skewedTables(f)
	f.Fuzz(func(t *testing.T, data []byte, prefixBits uint8, skewed bool) {
		var blocks []coderBlock
		for len(data) > 0 {
			var zz [blockSize]int16
			for k := 0; k < blockSize && len(data) >= 2; k++ {
				v := int16(binary.BigEndian.Uint16(data))
				data = data[2:]
				if k == 0 {
					zz[k] = v%1024 - int16(v&1) // -1024..1023
				} else if v < 0 {
					zz[k] = v % 1024 // zero half the time, else -1023..1023
				}
			}
			if len(data) == 1 {
				data = nil
			}
			blocks = append(blocks, newCoderBlock(&zz, len(blocks)%3 == 2))
		}
		tables := [2]*encTables{encLum, encChrom}
		if skewed {
			tables = skew.enc
		}
		pb := uint(prefixBits) % 32
		for _, zigzag := range []bool{false, true} {
			got, want := codeAll(blocks, tables, 0x5a5a5a5a&(1<<pb-1), pb, zigzag)
			if !bytes.Equal(got, want) {
				t.Fatalf("zigzag %v: %x, want %x", zigzag, got, want)
			}
		}
	})
}

// BenchmarkCoder times the entropy coder alone, new and former, on 4096 of the
// photograph's 1080p 4:2:0 blocks at quality 75 (every 11th block, so that they
// stay in the L2 cache as the encoder's one block in L1 does), in ns per block.
func BenchmarkCoder(b *testing.B) {
	type benchBlock struct {
		c      coefs
		nz     uint64
		dc     int32
		chroma bool
	}
	all := photoBlocks(b)
	var blocks []benchBlock
	var zblocks [][blockSize]int16
	for i := 0; i < len(all) && len(blocks) < 4096; i += 11 {
		blocks = append(blocks, benchBlock{all[i].c, all[i].nz &^ 1, all[i].dc, all[i].chroma})
		zblocks = append(zblocks, all[i].zz)
	}
	tables := [2]*encTables{encLum, encChrom}
	run := func(b *testing.B, code func(buf []byte) []byte) {
		buf := code(nil)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		defer threadCPU(b)()
		b.ResetTimer()
		for b.Loop() {
			buf = code(buf[:0])
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(blocks)), "ns/block")
	}
	codeNew := func(buf []byte) []byte {
		w := bitWriter{buf: buf[:cap(buf)], pos: len(buf)}
		hs := w.begin()
		var pred [2]int32
		for i := range blocks {
			bl := &blocks[i]
			ci := 0
			if bl.chroma {
				ci = 1
			}
			w.pos = hs.pos
			w.reserve(maxMCUBytes)
			hs = hs.code(w.buf, (*[blockSize]int16)(&bl.c), &coefOf, bl.nz, bl.dc-pred[ci], tables[ci])
			pred[ci] = bl.dc
		}
		w.pos = hs.pos
		w.reserve(16)
		w.end(hs)
		w.reserve(16)
		w.pad()
		return w.buf[:w.pos]
	}
	b.Run("new", func(b *testing.B) { run(b, codeNew) })
	b.Run("new-generic", func(b *testing.B) { withSIMD(false, func() { run(b, codeNew) }) })
	b.Run("former", func(b *testing.B) {
		run(b, func(buf []byte) []byte {
			w := refWriter{buf: buf[:cap(buf)], pos: len(buf)}
			var pred [2]int32
			for i := range blocks {
				bl := &blocks[i]
				ci := 0
				if bl.chroma {
					ci = 1
				}
				w.reserve(maxMCUBytes)
				w.code(&bl.c, bl.nz, bl.dc-pred[ci], tables[ci])
				pred[ci] = bl.dc
			}
			w.reserve(16)
			w.pad()
			return w.buf[:w.pos]
		})
	})
}
