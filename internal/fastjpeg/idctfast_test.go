package fastjpeg

import (
	"image"
	"testing"
)

// decodeWithPath decodes scan (coded at quality q) with both tables forced to
// the given inverse DCT.
func decodeWithPath(t testing.TB, scan []byte, r image.Rectangle, ratio image.YCbCrSubsampleRatio, q int, fast bool) *image.YCbCr {
	t.Helper()
	s, _ := SubsamplingOf(ratio)
	var d Decoder
	tables := quantTables(clampQuality(q))
	for i := range d.quant {
		var steps [blockSize]uint16
		for k, v := range tables[i] {
			steps[k] = uint16(v)
		}
		d.quant[i] = decQuantPath(&steps, fast)
	}
	d.quality = clampQuality(q)
	out := image.NewYCbCr(r, ratio)
	if err := d.DecodeScan(out, r, q, s, scan); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecQuantTakesTheFastIDCTOnlyForCoarseTables(t *testing.T) {
	uniform := func(step uint16) *QuantTable {
		var q QuantTable
		for k := range q {
			q[k] = step
		}
		return &q
	}
	oneFine := uniform(40)
	oneFine[5] = ifastMinStep - 1
	for _, tc := range []struct {
		name  string
		table *QuantTable
		fast  bool
	}{
		{"a uniform table of steps ifastMinStep", uniform(ifastMinStep), true},
		{"a uniform table of steps one below", uniform(ifastMinStep - 1), false},
		{"a coarse table with one fine step", oneFine, false},
		{"a 16-bit table of large steps", uniform(4000), true},
		{"a table of the largest 16-bit steps", uniform(65535), true},
	} {
		t.Run(tc.name+" takes the fast IDCT: "+map[bool]string{false: "no", true: "yes"}[tc.fast], func(t *testing.T) {
			if got := newDecQuant16(tc.table)[dqPath] == pathFast; got != tc.fast {
				t.Fatalf("fast %v, want %v", got, tc.fast)
			}
		})
	}
	for q := 1; q <= 100; q++ {
		tables := quantTables(q)
		for i := range tables {
			fast := newDecQuant(&tables[i])[dqPath] == pathFast
			if q <= 75 && !fast {
				t.Errorf("quality %d table %d takes the exact IDCT; every quality up to 75 must take the fast one", q, i)
			}
			if (q >= 87 || q >= 80 && i == 0) && fast {
				t.Errorf("quality %d table %d takes the fast IDCT; fine tables (luminance from quality 80, both from 87) must take the exact one", q, i)
			}
		}
	}
}

func TestFastIDCTCostsNoVisibleQuality(t *testing.T) {
	var e Encoder
	for _, c := range contents[:2] {
		src := toYCbCr(c.rgba(t, 640, 480), image.YCbCrSubsampleRatio420)
		s, _ := SubsamplingOf(src.SubsampleRatio)
		for _, q := range []int{30, 50, 75} {
			t.Run(c.name+" at quality "+itoa(q)+" decodes as close to the source as with the exact IDCT", func(t *testing.T) {
				scan, err := e.AppendScan(nil, src, src.Rect, q)
				if err != nil {
					t.Fatal(err)
				}
				var d Decoder
				got := image.NewYCbCr(src.Rect, src.SubsampleRatio)
				if err := d.DecodeScan(got, got.Rect, q, s, scan); err != nil {
					t.Fatal(err)
				}
				if d.quant[0][dqPath] != pathFast || d.quant[1][dqPath] != pathFast {
					t.Fatal("the decoder did not take the fast IDCT")
				}
				exact := decodeWithPath(t, scan, src.Rect, src.SubsampleRatio, q, false)
				std := stdDecode(t, AppendEOI(append(AppendHeader(nil, 640, 480, q, s), scan...)))
				// Measured (docs/JPEG.md): at most 0.01 dB from the source's PSNR
				// with the exact IDCT, and 56 dB or more from image/jpeg's decode.
				if pf, pe := psnr(got, src), psnr(exact, src); pf < pe-0.03 {
					t.Errorf("PSNR against the source %.3f dB, exact IDCT %.3f dB", pf, pe)
				}
				if p := psnr(got, std); p < 52 {
					t.Errorf("PSNR against image/jpeg's decode %.1f dB", p)
				}
				if m := maxDiff(got, std); m > 3 {
					t.Errorf("samples differ from image/jpeg's by up to %d", m)
				}
			})
		}
	}
}
