package fastjpeg

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// errText is an error's message, "" for none, so two decoders' errors compare.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// compareBlockDecoders decodes scan as MCUs of the given blocks' tables (dc[i],
// ac[i] for block i of an MCU, pred[i] its component), with a restart interval
// of restart MCUs (0: none), through CoefFrame.block on the unstuffed-segment
// reader and through refBlock on the byte-wise one, for at most mcus MCUs or the
// first error, and returns the first difference in coefficients, DCs, errors or
// truncation, or "" when they agree throughout.
func compareBlockDecoders(scan []byte, dc, ac []*decTable, comp []int, restart, mcus int) string {
	f := CoefFrame{coef: make([]int16, blockSize), nz: make([]uint64, 1)}
	f.br.reset(scan)
	ref := refBitReader{data: scan}
	var zz [blockSize]int16
	var pred, refPred [3]int32
	for m, rst := 0, 0; m < mcus; m++ {
		if restart > 0 && m > 0 && m%restart == 0 {
			err, refErr := f.br.restart(rst), ref.restart(rst)
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
			d, err := f.block(0, dc[i], ac[i], pred[c])
			rd, rnz, refErr := refBlock(&ref, &zz, dc[i], ac[i], refPred[c])
			if errText(err) != errText(refErr) {
				return fmt.Sprintf("MCU %d block %d: %v, reference %v", m, i, err, refErr)
			}
			if err != nil {
				return ""
			}
			if d != rd || f.nz[0] != rnz || *f.block64(0) != zz {
				return fmt.Sprintf("MCU %d block %d: DC %d nz %#x %v, reference DC %d nz %#x %v",
					m, i, d, f.nz[0], *f.block64(0), rd, rnz, zz)
			}
			pred[c], refPred[c] = d, rd
		}
		if short, refShort := f.br.short(), ref.over > ref.n; short != refShort {
			return fmt.Sprintf("MCU %d: short %v, reference %v", m, short, refShort)
		} else if short {
			return ""
		}
	}
	return ""
}

// goldenScans are the golden frames' entropy-coded data with their tables laid
// out per MCU block, as decodeInterleaved uses them.
func goldenScans(t testing.TB) (scans [][]byte, dcs, acs [][]*decTable, comps [][]int, restarts []int) {
	names, err := filepath.Glob("testdata/golden/*.jpg")
	if err != nil || len(names) == 0 {
		t.Fatalf("golden frames: %v", err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f CoefFrame
		if err := f.prepare(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var dc, ac []*decTable
		var comp []int
		for c := 0; c < f.hd.ncomp; c++ {
			sc := &f.hd.comp[c]
			for range int(sc.h) * int(sc.v) {
				dc, ac, comp = append(dc, f.dec[sc.td]), append(ac, f.dec[4+sc.ta]), append(comp, c)
			}
		}
		if f.gray {
			dc, ac, comp = dc[:1], ac[:1], comp[:1]
		}
		scans, dcs, acs, comps, restarts = append(scans, f.hd.scan), append(dcs, dc), append(acs, ac), append(comps, comp), append(restarts, f.restart)
	}
	return scans, dcs, acs, comps, restarts
}

// corrupt returns a copy of scan with n random changes of the kinds that
// exercise the reader: random bytes, 0xFF 0x00 stuffing, markers, 0xFF fill,
// and a cut.
func corrupt(rng *rand.Rand, scan []byte, n int) []byte {
	b := append([]byte(nil), scan...)
	for range n {
		if len(b) < 2 {
			break
		}
		i := rng.IntN(len(b) - 1)
		switch rng.IntN(6) {
		case 0:
			b[i] = byte(rng.UintN(256))
		case 1:
			b[i], b[i+1] = 0xff, 0x00
		case 2:
			b[i], b[i+1] = 0xff, byte(markerRST0+rng.IntN(8))
		case 3:
			b[i], b[i+1] = 0xff, 0xff
		case 4:
			b[i] = 0xff
		case 5:
			b = b[:i+1]
		}
	}
	return b
}

func TestBitReaderDecodesAsTheByteWiseReader(t *testing.T) {
	scans, dcs, acs, comps, restarts := goldenScans(t)
	std := []*decTable{decLumDC, decLumDC, decChromDC, decChromDC}
	stdAC := []*decTable{decLumAC, decLumAC, decChromAC, decChromAC}
	rng := rand.New(rand.NewPCG(14, 14))
	for i, scan := range scans {
		t.Run(fmt.Sprintf("golden scan %d decodes to the same coefficients, errors and end", i), func(t *testing.T) {
			if d := compareBlockDecoders(scan, dcs[i], acs[i], comps[i], restarts[i], 1<<20); d != "" {
				t.Fatal(d)
			}
		})
		t.Run(fmt.Sprintf("golden scan %d corrupted 200 ways decodes the same", i), func(t *testing.T) {
			for j := range 200 {
				b := corrupt(rng, scan, 1+j%8)
				if d := compareBlockDecoders(b, dcs[i], acs[i], comps[i], restarts[i], 1<<20); d != "" {
					t.Fatalf("corruption %d: %s", j, d)
				}
			}
		})
	}
	t.Run("random bytes with stuffing and markers decode the same with Annex K.3 tables", func(t *testing.T) {
		for j := range 2000 {
			b := make([]byte, rng.IntN(300))
			for k := range b {
				b[k] = byte(rng.UintN(256))
			}
			b = corrupt(rng, b, rng.IntN(10))
			if d := compareBlockDecoders(b, std, stdAC, []int{0, 0, 1, 2}, j%3, 1<<20); d != "" {
				t.Fatalf("random scan %d (% x): %s", j, b, d)
			}
		}
	})
}

// FuzzBitReader decodes arbitrary scans with the unstuffed-segment reader and the
// byte-wise reference: coefficients, errors and truncation must agree.
func FuzzBitReader(f *testing.F) {
	scans, _, _, _, _ := goldenScans(f)
	for _, s := range scans {
		f.Add(s[:min(len(s), 600)], uint8(0))
	}
	f.Add([]byte{0x12, 0xff, 0x00, 0xff, 0xd0, 0x34, 0xff, 0xff, 0xd1}, uint8(1))
	f.Add([]byte{}, uint8(2))
	dc := []*decTable{decLumDC, decLumDC, decChromDC, decChromDC}
	ac := []*decTable{decLumAC, decLumAC, decChromAC, decChromAC}
	f.Fuzz(func(t *testing.T, scan []byte, restart uint8) {
		if d := compareBlockDecoders(scan, dc, ac, []int{0, 0, 1, 2}, int(restart%5), 1<<20); d != "" {
			t.Fatal(d)
		}
	})
}
