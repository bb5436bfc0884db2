package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// compareMCUDecoder decodes scan as MCUs of the given blocks' tables (dc[i],
// ac[i] for block i of an MCU, comp[i] its component) through coefsMCU, runs
// of up to mcuBlocks blocks a call, and through huffCoefs, a block a call,
// each on its own reader, for at most mcus MCUs or the first error, and
// returns the first difference in blocks decoded, coefficients, DCs, AC
// flags, errors or reader state, or "" when they agree throughout.
func compareMCUDecoder(scan []byte, dc, ac []*decTable, comp []int, mcus int, q *decQuant) string {
	var br, ref bitReader
	br.reset(scan)
	ref.reset(scan)
	var blks [mcuBlocks][blockSize]int32
	var runs []coefRun
	for at := 0; at < len(dc); at += mcuBlocks {
		r := coefRun{blk: &blks, n: min(len(dc)-at, mcuBlocks)}
		for i := range r.n {
			r.set(i, dc[at+i], ac[at+i], q, comp[at+i])
		}
		runs = append(runs, r)
	}
	var refBlk [blockSize]int32
	var pred, refPred [3]int32
	for m := 0; m < mcus; m++ {
		for j := range runs {
			r := &runs[j]
			// Garbage in the buffers: coefsMCU clears each block it decodes.
			for i := range blks {
				for k := range blks[i] {
					blks[i][k] = int32(m*7 + i + k)
				}
			}
			r.pred = pred
			n, err := coefsMCU(&br, r)
			for i := range r.n {
				c := r.comp[i]
				rd, refAny, refErr := huffCoefs(&ref, &refBlk, q, r.dcT[i], r.acT[i], refPred[c])
				if refErr != nil {
					if n != i || errText(err) != errText(refErr) {
						return fmt.Sprintf("MCU %d run %d: %d blocks, error %v; reference fails block %d: %v", m, j, n, err, i, refErr)
					}
					return ""
				}
				if i >= n {
					return fmt.Sprintf("MCU %d run %d: %d blocks, error %v; reference decodes block %d", m, j, n, err, i)
				}
				if r.ac[i] != refAny || blks[i] != refBlk {
					return fmt.Sprintf("MCU %d run %d block %d: AC %v %v, reference DC %d AC %v %v", m, j, i, r.ac[i], blks[i], rd, refAny, refBlk)
				}
				refPred[c] = rd
			}
			if err != nil || n != r.n {
				return fmt.Sprintf("MCU %d run %d: %d blocks, error %v; the reference decodes them all", m, j, n, err)
			}
			if pred = r.pred; pred != refPred {
				return fmt.Sprintf("MCU %d run %d: predictions %v, reference %v", m, j, pred, refPred)
			}
			// The readers may refill at different times: the bits consumed
			// and the next ones both hold must agree.
			top := 64 - min(br.n, ref.n)
			if 8*br.pos-int(br.n) != 8*ref.pos-int(ref.n) || br.acc>>top != ref.acc>>top {
				return fmt.Sprintf("MCU %d run %d: reader at bit %d (%#x), reference at bit %d (%#x)",
					m, j, 8*br.pos-int(br.n), br.acc, 8*ref.pos-int(ref.n), ref.acc)
			}
		}
		if br.short() {
			return ""
		}
	}
	return ""
}

// mcuLayouts are the MCUs decode takes: 4:2:0 and 4:2:2 with the Annex K.3
// tables.
var mcuLayouts = []struct {
	name   string
	dc, ac []*decTable
	comp   []int
}{
	{"4:2:0", []*decTable{decLumDC, decLumDC, decLumDC, decLumDC, decChromDC, decChromDC},
		[]*decTable{decLumAC, decLumAC, decLumAC, decLumAC, decChromAC, decChromAC}, []int{0, 0, 0, 0, 1, 2}},
	{"4:2:2", []*decTable{decLumDC, decLumDC, decChromDC, decChromDC},
		[]*decTable{decLumAC, decLumAC, decChromAC, decChromAC}, []int{0, 0, 1, 2}},
}

func TestCoefsMCUDecodesAsHuffCoefs(t *testing.T) {
	for _, p := range coefPaths {
		withSIMD(p.simd, func() {
			t.Run(p.name, testCoefsMCUDecodesAsHuffCoefs)
		})
	}
}

func testCoefsMCUDecodesAsHuffCoefs(t *testing.T) {
	scans, dcs, acs, comps, _ := goldenScans(t)
	q := testQuant()
	rng := rand.New(rand.NewPCG(15, 30))
	for i, scan := range scans {
		t.Run(fmt.Sprintf("golden scan %d decodes a whole MCU a call as a block a call", i), func(t *testing.T) {
			if d := compareMCUDecoder(scan, dcs[i], acs[i], comps[i], 1<<20, q); d != "" {
				t.Fatal(d)
			}
		})
		t.Run(fmt.Sprintf("golden scan %d corrupted 200 ways decodes the same", i), func(t *testing.T) {
			for j := range 200 {
				b := corrupt(rng, scan, 1+j%8)
				if d := compareMCUDecoder(b, dcs[i], acs[i], comps[i], 1<<20, q); d != "" {
					t.Fatalf("corruption %d: %s", j, d)
				}
			}
		})
	}
	for _, l := range mcuLayouts {
		t.Run("random bytes decode the same as "+l.name+" MCUs of the Annex K.3 tables", func(t *testing.T) {
			for j := range 3000 {
				b := make([]byte, rng.IntN(300))
				for k := range b {
					b[k] = byte(rng.UintN(256))
				}
				b = corrupt(rng, b, rng.IntN(10))
				if d := compareMCUDecoder(b, l.dc, l.ac, l.comp, 1<<20, q); d != "" {
					t.Fatalf("random scan %d (% x): %s", j, b, d)
				}
			}
		})
	}
	t.Run("random bytes decode the same with random incomplete tables, 6 blocks an MCU", func(t *testing.T) {
		for j := range 500 {
			dc, ac := randomPrefixTable(rng, true), randomPrefixTable(rng, false)
			b := make([]byte, rng.IntN(300))
			for k := range b {
				b[k] = byte(rng.UintN(256))
			}
			dcs, acs := []*decTable{dc, dc, dc, dc, dc, dc}, []*decTable{ac, ac, ac, ac, ac, ac}
			if d := compareMCUDecoder(b, dcs, acs, []int{0, 0, 0, 0, 0, 0}, 1<<20, q); d != "" {
				t.Fatalf("random scan %d (% x): %s", j, b, d)
			}
		}
	})
	t.Run("random blocks coded with random optimal tables (codes up to 16 bits, long values, ZRL) decode the same", func(t *testing.T) {
		for j := range 60 {
			dcSpec, acSpec := randomHuffman(rng, maxACSize)
			scan := encodeBlocks(randomBlocks(rng, 6*40, maxACSize), dcSpec, acSpec)
			dc, ac := newDecTable(dcSpec), newDecTable(acSpec)
			dcs, acs := []*decTable{dc, dc, dc, dc, dc, dc}, []*decTable{ac, ac, ac, ac, ac, ac}
			if d := compareMCUDecoder(scan, dcs, acs, []int{0, 1, 0, 2, 1, 0}, 40, q); d != "" {
				t.Fatalf("table pair %d: %s", j, d)
			}
			for k := range 20 {
				if d := compareMCUDecoder(corrupt(rng, scan, 1+k%4), dcs, acs, []int{0, 1, 0, 2, 1, 0}, 40, q); d != "" {
					t.Fatalf("table pair %d, corruption %d: %s", j, k, d)
				}
			}
		}
	})
}

// decodeBothWays decodes scan into two copies of a frame filled with 7s,
// through decode's MCU loop and its block-by-block one (with the kernels of
// this machine), and returns the first difference in errors or samples, or ""
// when they agree.
func decodeBothWays(rect, r image.Rectangle, s Subsampling, scan []byte, dq *[3]decQuant, ht *[4]*decTable) string {
	var out [2]*image.YCbCr
	var errs [2]error
	for i, mcus := range []bool{false, true} {
		dst := image.NewYCbCr(rect, s.Ratio())
		for _, p := range [][]byte{dst.Y, dst.Cb, dst.Cr} {
			for j := range p {
				p[j] = 7
			}
		}
		var d Decoder
		errs[i] = d.decode(dst, r, s, scan, &dq[0], &dq[1], &dq[2], ht, mcus)
		out[i] = dst
	}
	if errText(errs[0]) != errText(errs[1]) {
		return fmt.Sprintf("error %v, block by block %v", errs[1], errs[0])
	}
	for i, p := range [][2][]byte{{out[1].Y, out[0].Y}, {out[1].Cb, out[0].Cb}, {out[1].Cr, out[0].Cr}} {
		if !bytes.Equal(p[0], p[1]) {
			j := 0
			for p[0][j] == p[1][j] {
				j++
			}
			return fmt.Sprintf("plane %d differs first at byte %d: %d, block by block %d (error %v)", i, j, p[0][j], p[1][j], errs[0])
		}
	}
	return ""
}

func TestDecodeByMCUWritesWhatBlockByBlockWrites(t *testing.T) {
	for _, simd := range []bool{true, false} {
		withSIMD(simd, func() {
			t.Run(fmt.Sprintf("with the SIMD kernels %v", simd && simdAvailable), testDecodeByMCU)
		})
	}
}

func testDecodeByMCU(t *testing.T) {
	var e Encoder
	rng := rand.New(rand.NewPCG(15, 31))
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
		s, _ := SubsamplingOf(ratio)
		for _, c := range contents {
			frame := toYCbCr(c.rgba(t, 216, 136), ratio)
			for _, q := range []int{30, 75, 95, 100} {
				qt := quantTables(q)
				dq := [3]decQuant{newDecQuant(&qt[0]), newDecQuant(&qt[1]), newDecQuant(&qt[1])}
				for _, r := range []image.Rectangle{frame.Rect, image.Rect(0, 0, 70, 38), image.Rect(16, 8, 202, 131), image.Rect(2, 2, 12, 6)} {
					t.Run(fmt.Sprintf("%s at %v q%d, tile %v, and 100 corruptions of it decode the same", c.name, ratio, q, r), func(t *testing.T) {
						scan, err := e.AppendScan(nil, frame, r, q)
						if err != nil {
							t.Fatal(err)
						}
						if d := decodeBothWays(frame.Rect, r, s, scan, &dq, &stdDec); d != "" {
							t.Fatal(d)
						}
						// A tenth of them under -race and qemu (sweepStep): the plain build runs all.
						for j := range 100 / sweepStep(10) {
							if d := decodeBothWays(frame.Rect, r, s, corrupt(rng, scan, 1+j%6), &dq, &stdDec); d != "" {
								t.Fatalf("corruption %d: %s", j, d)
							}
						}
					})
				}
			}
		}
		t.Run(fmt.Sprintf("random bytes with random incomplete tables at %v decode the same", ratio), func(t *testing.T) {
			dq := [3]decQuant{*testQuant(), *testQuant(), *testQuant()}
			dq[1][dqPath], dq[2][dqPath] = pathFast, pathExact
			for j := range 400 / sweepStep(10) {
				ht := [4]*decTable{randomPrefixTable(rng, true), randomPrefixTable(rng, false), randomPrefixTable(rng, true), randomPrefixTable(rng, false)}
				b := make([]byte, rng.IntN(400))
				for k := range b {
					b[k] = byte(rng.UintN(256))
				}
				if d := decodeBothWays(image.Rect(0, 0, 48, 40), image.Rect(2, 4, 48, 38), s, b, &dq, &ht); d != "" {
					t.Fatalf("random scan %d: %s", j, d)
				}
			}
		})
	}
}

// FuzzDecodeByMCU decodes arbitrary scans, with the Annex K.3 tables or
// random valid ones, through decode's MCU loop and its block-by-block one:
// the errors and every sample of the frame must agree.
func FuzzDecodeByMCU(f *testing.F) {
	var e Encoder
	src := toYCbCr(patternRGBA(40, 24), image.YCbCrSubsampleRatio420)
	scan, _ := e.AppendScan(nil, src, src.Rect, 75)
	f.Add(scan, uint8(40), uint8(24), uint8(75), false, uint64(0))
	f.Add(scan, uint8(40), uint8(24), uint8(75), true, uint64(3))
	f.Add([]byte{0xff, 0x00, 0x12, 0xff, 0xd9}, uint8(16), uint8(16), uint8(50), true, uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, w, h, q uint8, is422 bool, tables uint64) {
		s := S420
		if is422 {
			s = S422
		}
		qt := quantTables(clampQuality(int(q)))
		dq := [3]decQuant{newDecQuant(&qt[0]), newDecQuant(&qt[1]), newDecQuant(&qt[1])}
		ht := stdDec
		if tables != 0 {
			rng := rand.New(rand.NewPCG(tables, 2))
			ht = [4]*decTable{randomPrefixTable(rng, true), randomPrefixTable(rng, false), randomPrefixTable(rng, true), randomPrefixTable(rng, false)}
		}
		r := image.Rect(2, 2, 2+int(w%128)+1, 2+int(h%128)+1)
		if d := decodeBothWays(image.Rect(0, 0, 136, 136), r, s, data, &dq, &ht); d != "" {
			t.Fatal(d)
		}
	})
}
