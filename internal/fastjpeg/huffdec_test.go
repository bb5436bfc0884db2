package fastjpeg

import (
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// compareCoefDecoders decodes scan as MCUs of the given blocks' tables (dc[i],
// ac[i] for block i of an MCU, comp[i] its component), with a restart interval
// of restart MCUs (0: none), through huffCoefs and through refCoefs, each on
// its own reader, for at most mcus MCUs or the first error, and returns the
// first difference in coefficients, DCs, AC flags, errors or reader state, or
// "" when they agree throughout.
func compareCoefDecoders(scan []byte, dc, ac []*decTable, comp []int, restart, mcus int, q *decQuant) string {
	var br, ref bitReader
	br.reset(scan)
	ref.reset(scan)
	var blk, refBlk [blockSize]int32
	var pred, refPred [3]int32
	for m, rst := 0, 0; m < mcus; m++ {
		if restart > 0 && m > 0 && m%restart == 0 {
			err, refErr := br.restart(rst), ref.restart(rst)
			if errText(err) != errText(refErr) {
				return fmt.Sprintf("MCU %d restart: %v, reference %v", m, err, refErr)
			}
			if err != nil {
				return ""
			}
			rst++
			pred, refPred = [3]int32{}, [3]int32{}
		}
		for i := range dc {
			c := comp[i]
			d, any, err := huffCoefs(&br, &blk, q, dc[i], ac[i], pred[c])
			rd, refAny, refErr := refCoefs(&ref, &refBlk, q, dc[i], ac[i], refPred[c])
			if errText(err) != errText(refErr) {
				return fmt.Sprintf("MCU %d block %d: %v, reference %v", m, i, err, refErr)
			}
			if err != nil {
				return ""
			}
			if d != rd || any != refAny || blk != refBlk {
				return fmt.Sprintf("MCU %d block %d: DC %d AC %v %v, reference DC %d AC %v %v",
					m, i, d, any, blk, rd, refAny, refBlk)
			}
			// The readers may refill at different times: the bits consumed and
			// the next ones both hold must agree.
			top := 64 - min(br.n, ref.n)
			if 8*br.pos-int(br.n) != 8*ref.pos-int(ref.n) || br.acc>>top != ref.acc>>top {
				return fmt.Sprintf("MCU %d block %d: reader at bit %d (%#x), reference at bit %d (%#x)",
					m, i, 8*br.pos-int(br.n), br.acc, 8*ref.pos-int(ref.n), ref.acc)
			}
			pred[c], refPred[c] = d, rd
		}
		if br.short() {
			return ""
		}
	}
	return ""
}

// testQuant is a dequantiser whose steps differ at every zig-zag position, so a
// coefficient stored at the wrong position or scaled by the wrong step shows.
func testQuant() *decQuant {
	var q decQuant
	for k := range q {
		q[k] = int32(3 + 7*k)
	}
	return &q
}

// codedBlock is one block as a test encoder chose it: the DC difference and
// the AC coefficients in zig-zag order.
type codedBlock struct {
	diff int32
	zz   [blockSize]int32
}

// bitSink writes a scan's bits most significant first, stuffing a zero after
// every 0xFF byte (§F.1.2.3), and pads the last byte with ones.
type bitSink struct {
	out  []byte
	acc  uint64
	nbit uint
}

func (w *bitSink) put(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | uint64(v>>uint(i)&1)
		if w.nbit++; w.nbit == 8 {
			b := byte(w.acc)
			w.out = append(w.out, b)
			if b == 0xff {
				w.out = append(w.out, 0)
			}
			w.acc, w.nbit = 0, 0
		}
	}
}

func (w *bitSink) flush() []byte {
	for w.nbit != 0 {
		w.put(1, 1)
	}
	return w.out
}

// sizeOf is a coefficient's magnitude category (§F.1.2.1.1), 0 for 0.
func sizeOf(v int32) uint {
	if v < 0 {
		v = -v
	}
	s := uint(0)
	for ; v != 0; v >>= 1 {
		s++
	}
	return s
}

// putCoef writes the symbol of run and v's size with code/size, then v's size low bits.
func (w *bitSink) putCoef(code *[256]uint16, size *[256]uint8, run int, v int32) {
	s := sizeOf(v)
	sym := uint8(run<<4) | uint8(s)
	w.put(uint32(code[sym]), uint(size[sym]))
	if s > 0 {
		if v < 0 {
			v--
		}
		w.put(uint32(v)&(1<<s-1), s)
	}
}

// randomBlocks draws n blocks of coefficients with every kind of run and
// magnitude (up to maxAC in size), zero runs past 16 (ZRL), blocks ending at
// 63 without an end of block, and all-zero blocks.
func randomBlocks(rng *rand.Rand, n int, maxAC uint) []codedBlock {
	bs := make([]codedBlock, n)
	for i := range bs {
		b := &bs[i]
		b.diff = int32(rng.IntN(2047) - 1023)
		if rng.IntN(4) == 0 {
			b.diff = int32(rng.IntN(7) - 3)
		}
		density := rng.Float64()
		for k := 1; k < blockSize; k++ {
			if rng.Float64() < density*density {
				s := 1 + uint(rng.IntN(int(maxAC)))
				if rng.IntN(2) == 0 {
					s = 1 + uint(rng.IntN(3)) // mostly small, as photos
				}
				v := int32(1<<(s-1) + rng.IntN(1<<(s-1)))
				if rng.IntN(2) == 0 {
					v = -v
				}
				b.zz[k] = v
			}
		}
	}
	return bs
}

// encodeBlocks codes blocks with the DC and AC tables of spec, one component,
// each block's DC a difference from the previous one.
func encodeBlocks(blocks []codedBlock, dcSpec, acSpec huffSpec) []byte {
	dcCode, dcSize := canonicalCodes(dcSpec)
	acCode, acSize := canonicalCodes(acSpec)
	var w bitSink
	for _, b := range blocks {
		w.putCoef(&dcCode, &dcSize, 0, b.diff)
		run := 0
		for k := 1; k < blockSize; k++ {
			if b.zz[k] == 0 {
				run++
				continue
			}
			for ; run >= 16; run -= 16 {
				w.put(uint32(acCode[0xf0]), uint(acSize[0xf0]))
			}
			w.putCoef(&acCode, &acSize, run, b.zz[k])
			run = 0
		}
		if run > 0 {
			w.put(uint32(acCode[0x00]), uint(acSize[0x00]))
		}
	}
	return w.flush()
}

// randomHuffman returns Annex K.2 tables for skewed random symbol counts, so
// that codes of many lengths up to 16 bits and AC sizes up to maxAC occur.
func randomHuffman(rng *rand.Rand, maxAC int) (dc, ac huffSpec) {
	var c SymbolCounts
	for s := 0; s <= 11; s++ {
		c[0][s] = uint32(rng.ExpFloat64() * 1000)
	}
	for run := 0; run < 16; run++ {
		for size := 1; size <= maxAC; size++ {
			c[1][run<<4|size] = uint32(rng.ExpFloat64() * rng.ExpFloat64() * 1e4 / float64(1+run*size))
		}
	}
	c[1][0x00], c[1][0xf0] = uint32(rng.IntN(5000)), uint32(rng.IntN(50))
	h := OptimalHuffman(&c)
	return huffSpec{h[0].Count, h[0].Symbol}, huffSpec{h[1].Count, h[1].Symbol}
}

// coefPaths are huffCoefs's two paths: the assembly loop where this machine
// has it, and the Go loop alone (every other machine's).
var coefPaths = []struct {
	name string
	simd bool
}{{"with the assembly loop where there is one", true}, {"with the Go loop", false}}

func TestHuffCoefsDecodesWhatWasCoded(t *testing.T) {
	for _, p := range coefPaths {
		withSIMD(p.simd, func() {
			t.Run(p.name, testHuffCoefsDecodesWhatWasCoded)
		})
	}
}

func testHuffCoefsDecodesWhatWasCoded(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 9))
	q := testQuant()
	for _, tc := range []struct {
		name   string
		dc, ac huffSpec
	}{
		{"the Annex K.3 luminance tables", huffSpecs[hLumDC], huffSpecs[hLumAC]},
		{"the Annex K.3 chrominance tables", huffSpecs[hChromDC], huffSpecs[hChromAC]},
	} {
		t.Run(tc.name+" decode random blocks to their coefficients", func(t *testing.T) {
			checkCoded(t, rng, tc.dc, tc.ac, q)
		})
	}
	t.Run("random optimal tables with codes up to 16 bits decode random blocks to their coefficients", func(t *testing.T) {
		for range 40 {
			dc, ac := randomHuffman(rng, maxACSize)
			checkCoded(t, rng, dc, ac, q)
		}
	})
}

// checkCoded codes random blocks with dc and ac, decodes them with huffCoefs
// and fails unless every block's dequantised coefficients, DC and AC flag are
// the coded ones and the reader ends on the scan's last byte.
func checkCoded(t *testing.T, rng *rand.Rand, dcSpec, acSpec huffSpec, q *decQuant) {
	t.Helper()
	blocks := randomBlocks(rng, 300, maxACSize)
	scan := encodeBlocks(blocks, dcSpec, acSpec)
	dcT, acT := newDecTable(dcSpec), newDecTable(acSpec)
	var br bitReader
	br.reset(scan)
	var blk [blockSize]int32
	pred := int32(0)
	for i, b := range blocks {
		dc, any, err := huffCoefs(&br, &blk, q, dcT, acT, pred)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		var want [blockSize]int32
		wantAny := false
		want[0] = (pred + b.diff) * q[0]
		for k := 1; k < blockSize; k++ {
			want[unzig[k]] = b.zz[k] * q[k]
			wantAny = wantAny || b.zz[k] != 0
		}
		if dc != pred+b.diff || any != wantAny || blk != want {
			t.Fatalf("block %d: DC %d AC %v %v, coded DC %d AC %v %v", i, dc, any, blk, pred+b.diff, wantAny, want)
		}
		pred = dc
	}
	if br.short() || (8*br.pos-int(br.n)+7)/8 != len(scan)-stuffed(scan) {
		t.Fatalf("reader ends at bit %d of %d bytes (short %v)", 8*br.pos-int(br.n), len(scan), br.short())
	}
}

// stuffed counts the stuffed zero bytes of scan.
func stuffed(scan []byte) int {
	n := 0
	for i := 0; i+1 < len(scan); i++ {
		if scan[i] == 0xff && scan[i+1] == 0 {
			n++
			i++
		}
	}
	return n
}

func TestHuffCoefsMatchesFormerDecoder(t *testing.T) {
	for _, p := range coefPaths {
		withSIMD(p.simd, func() {
			t.Run(p.name, testHuffCoefsMatchesFormerDecoder)
		})
	}
}

func testHuffCoefsMatchesFormerDecoder(t *testing.T) {
	scans, dcs, acs, comps, restarts := goldenScans(t)
	q := testQuant()
	rng := rand.New(rand.NewPCG(15, 10))
	for i, scan := range scans {
		t.Run(fmt.Sprintf("golden scan %d decodes to the same coefficients, errors and end", i), func(t *testing.T) {
			if d := compareCoefDecoders(scan, dcs[i], acs[i], comps[i], restarts[i], 1<<20, q); d != "" {
				t.Fatal(d)
			}
		})
		t.Run(fmt.Sprintf("golden scan %d corrupted 200 ways decodes the same", i), func(t *testing.T) {
			for j := range 200 {
				b := corrupt(rng, scan, 1+j%8)
				if d := compareCoefDecoders(b, dcs[i], acs[i], comps[i], restarts[i], 1<<20, q); d != "" {
					t.Fatalf("corruption %d: %s", j, d)
				}
			}
		})
	}
	std := []*decTable{decLumDC, decLumDC, decChromDC, decChromDC}
	stdAC := []*decTable{decLumAC, decLumAC, decChromAC, decChromAC}
	t.Run("random bytes decode the same with Annex K.3 tables", func(t *testing.T) {
		for j := range 3000 {
			b := make([]byte, rng.IntN(300))
			for k := range b {
				b[k] = byte(rng.UintN(256))
			}
			b = corrupt(rng, b, rng.IntN(10))
			if d := compareCoefDecoders(b, std, stdAC, []int{0, 0, 1, 2}, j%3, 1<<20, q); d != "" {
				t.Fatalf("random scan %d (% x): %s", j, b, d)
			}
		}
	})
	t.Run("random bytes decode the same with random incomplete tables", func(t *testing.T) {
		for j := range 500 {
			dc, ac := randomPrefixTable(rng, true), randomPrefixTable(rng, false)
			b := make([]byte, rng.IntN(300))
			for k := range b {
				b[k] = byte(rng.UintN(256))
			}
			if d := compareCoefDecoders(b, []*decTable{dc}, []*decTable{ac}, []int{0}, 0, 1<<20, q); d != "" {
				t.Fatalf("random scan %d (% x): %s", j, b, d)
			}
		}
	})
}

// randomPrefixTable is a valid (checkHuff) but random Huffman table: random
// counts that fit Annex C, often leaving codes unused, with random symbols
// (DC: 0..11; AC: any byte, so also sizes 11..15 and undefined size-0 runs).
func randomPrefixTable(rng *rand.Rand, dc bool) *decTable {
	var h HuffTable
	room, n := 1, 0 // codes left at the current length
	maxSyms := 256
	if dc {
		maxSyms = 12
	}
	for l := 1; l <= 16; l++ {
		room *= 2
		c := min(rng.IntN(room+1), maxSyms-n, 255)
		if rng.IntN(3) == 0 {
			c = 0
		}
		h.Count[l-1] = uint8(c)
		n += c
		room -= c
	}
	if n == 0 {
		h.Count[1], n = 1, 1
	}
	sym := make([]uint8, n)
	perm := rng.Perm(maxSyms)
	for i := range sym {
		sym[i] = uint8(perm[i])
	}
	h.Symbol = sym
	s, err := checkHuff(&h, dc)
	if err != nil {
		panic(err)
	}
	return newDecTable(s)
}

// FuzzHuffCoefs decodes arbitrary scans with huffCoefs (both paths) and the
// former decoder, with the Annex K.3 tables or a random valid table pair:
// coefficients, errors and the reader's position must agree.
func FuzzHuffCoefs(f *testing.F) {
	scans, _, _, _, _ := goldenScans(f)
	for _, s := range scans {
		f.Add(s[:min(len(s), 600)], uint8(0), uint64(0))
	}
	f.Add([]byte{0x12, 0xff, 0x00, 0xff, 0xd0, 0x34, 0xff, 0xff, 0xd1}, uint8(1), uint64(1))
	f.Add([]byte{}, uint8(2), uint64(2))
	q := testQuant()
	dc := []*decTable{decLumDC, decLumDC, decChromDC, decChromDC}
	ac := []*decTable{decLumAC, decLumAC, decChromAC, decChromAC}
	f.Fuzz(func(t *testing.T, scan []byte, restart uint8, tables uint64) {
		dcs, acs, comps := dc, ac, []int{0, 0, 1, 2}
		if tables != 0 {
			rng := rand.New(rand.NewPCG(tables, 1))
			dcs, acs, comps = []*decTable{randomPrefixTable(rng, true)}, []*decTable{randomPrefixTable(rng, false)}, []int{0}
		}
		for _, p := range coefPaths {
			withSIMD(p.simd, func() {
				if d := compareCoefDecoders(scan, dcs, acs, comps, int(restart%5), 1<<20, q); d != "" {
					t.Fatalf("%s: %s", p.name, d)
				}
			})
		}
	})
}

// BenchmarkHuffman times the entropy decoding alone of a 1080p photo coded at
// benchQuality (4:2:0, one scan, as DecodeScan walks it): huffCoefs with its
// assembly loop where this machine has one (combined), with the Go loop alone
// (combined-go, every other machine's path), and the former loop (refCoefs).
func BenchmarkHuffman(b *testing.B) {
	const w, h = 1920, 1080
	img := toYCbCr(photoRGBA(b, w, h), image.YCbCrSubsampleRatio420)
	var e Encoder
	scan, err := e.AppendScan(nil, img, img.Rect, benchQuality)
	if err != nil {
		b.Fatal(err)
	}
	qt := quantTables(benchQuality)
	qy, qc := newDecQuant(&qt[0]), newDecQuant(&qt[1])
	mcus := (w + 15) / 16 * ((h + 15) / 16)
	for _, dec := range []struct {
		name string
		simd bool
		fn   func(*bitReader, *[blockSize]int32, *decQuant, *decTable, *decTable, int32) (int32, bool, error)
	}{{"combined", true, huffCoefs}, {"combined-go", false, huffCoefs}, {"former", false, refCoefs}} {
		b.Run("1080p/"+dec.name, func(b *testing.B) {
			old := useSIMD
			useSIMD = dec.simd && simdAvailable
			defer func() { useSIMD = old }()
			var br bitReader
			var blk [blockSize]int32
			b.SetBytes(int64(len(scan)))
			b.ReportAllocs()
			defer threadCPU(b)()
			for b.Loop() {
				br.reset(scan)
				var y, cb, cr int32
				for range mcus {
					for range 4 {
						if y, _, err = dec.fn(&br, &blk, &qy, decLumDC, decLumAC, y); err != nil {
							b.Fatal(err)
						}
					}
					if cb, _, err = dec.fn(&br, &blk, &qc, decChromDC, decChromAC, cb); err != nil {
						b.Fatal(err)
					}
					if cr, _, err = dec.fn(&br, &blk, &qc, decChromDC, decChromAC, cr); err != nil {
						b.Fatal(err)
					}
				}
				if br.short() {
					b.Fatal("scan ended early")
				}
			}
			b.ReportMetric(float64(len(scan)), "scan-bytes")
		})
	}
	// The same with coefsMCU, a whole MCU a call, as the decoder takes it
	// where the assembly loop runs (else it is the Go loop, a block a call).
	b.Run("1080p/mcu", func(b *testing.B) {
		var br bitReader
		var blks [mcuBlocks][blockSize]int32
		r := coefRun{blk: &blks, n: 6}
		for i := range 4 {
			r.set(i, decLumDC, decLumAC, &qy, 0)
		}
		r.set(4, decChromDC, decChromAC, &qc, 1)
		r.set(5, decChromDC, decChromAC, &qc, 2)
		b.SetBytes(int64(len(scan)))
		b.ReportAllocs()
		defer threadCPU(b)()
		for b.Loop() {
			br.reset(scan)
			r.pred = [3]int32{}
			for range mcus {
				if _, err := coefsMCU(&br, &r); err != nil {
					b.Fatal(err)
				}
			}
			if br.short() {
				b.Fatal("scan ended early")
			}
		}
		b.ReportMetric(float64(len(scan)), "scan-bytes")
	})
}
