package fastjpeg

import (
	"image"
	"math/rand/v2"
	"testing"
)

// FuzzDecodeScan feeds arbitrary bytes to DecodeScan: it may fail, but it must not
// panic, hang or write outside the tile.
func FuzzDecodeScan(f *testing.F) {
	var e Encoder
	src := toYCbCr(patternRGBA(40, 24), image.YCbCrSubsampleRatio420)
	scan, _ := e.AppendScan(nil, src, src.Rect, 75)
	f.Add(scan, uint8(40), uint8(24), uint8(75), false)
	f.Add([]byte{0xff, 0x00, 0x12, 0xff, 0xd9}, uint8(16), uint8(16), uint8(50), true)
	f.Add([]byte{}, uint8(1), uint8(1), uint8(1), false)
	f.Fuzz(func(t *testing.T, data []byte, w, h, q uint8, is422 bool) {
		s := S420
		if is422 {
			s = S422
		}
		// A border of 16 pixels around the tile must stay untouched.
		frame := image.NewYCbCr(image.Rect(0, 0, int(w)+32, int(h)+32), s.Ratio())
		for i := range frame.Y {
			frame.Y[i] = 0x55
		}
		r := image.Rect(16, 16, 16+int(w), 16+int(h))
		var d Decoder
		err := d.DecodeScan(frame, r, int(q), s, data)
		if r.Empty() && err == nil {
			t.Fatal("empty tile accepted")
		}
		for y := 0; y < frame.Rect.Dy(); y++ {
			for x := 0; x < frame.Rect.Dx(); x++ {
				if !image.Pt(x, y).In(r) && frame.Y[y*frame.YStride+x] != 0x55 {
					t.Fatalf("pixel (%d,%d) outside tile %v written", x, y, r)
				}
			}
		}
	})
}

// FuzzRoundTrip encodes a random image with AppendScan and decodes the payload with
// both DecodeScan and image/jpeg: both must succeed and agree.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint8(17), uint8(9), uint8(75), false, uint8(0))
	f.Add(uint64(2), uint8(64), uint8(48), uint8(100), true, uint8(255))
	f.Add(uint64(3), uint8(1), uint8(1), uint8(1), false, uint8(40))
	f.Fuzz(func(t *testing.T, seed uint64, w, h, q uint8, is422 bool, smooth uint8) {
		if w == 0 || h == 0 {
			return
		}
		ratio := image.YCbCrSubsampleRatio420
		if is422 {
			ratio = image.YCbCrSubsampleRatio422
		}
		s, _ := SubsamplingOf(ratio)
		// smooth blends noise with a gradient so the coder sees both extremes.
		rng := rand.New(rand.NewPCG(seed, 1))
		src := image.NewYCbCr(image.Rect(0, 0, int(w), int(h)), ratio)
		for _, p := range [][]byte{src.Y, src.Cb, src.Cr} {
			for i := range p {
				g := (i * 3) & 255
				p[i] = uint8((int(smooth)*g + (255-int(smooth))*int(rng.UintN(256))) / 255)
			}
		}
		var e Encoder
		scan, err := e.AppendScan(nil, src, src.Rect, int(q))
		if err != nil {
			t.Fatal(err)
		}
		got := image.NewYCbCr(src.Rect, ratio)
		var d Decoder
		if err := d.DecodeScan(got, got.Rect, int(q), s, scan); err != nil {
			t.Fatalf("DecodeScan: %v", err)
		}
		want := stdDecode(t, AppendEOI(append(AppendHeader(nil, int(w), int(h), int(q), s), scan...)))
		if m, tol := maxDiff(got, want), roundTripTolerance(int(q)); m > tol {
			t.Fatalf("DecodeScan and image/jpeg differ by up to %d, want at most %d", m, tol)
		}
	})
}

// roundTripTolerance is how far DecodeScan may stray from image/jpeg (whose IDCT
// is the IJG's accurate integer one) on a scan of quality q: 3 levels where both
// tables take the exact inverse DCT; more where one takes JDCT_IFAST (idct.go,
// decQuantOf), which libjpeg too calls less accurate. Measured on 124,000 random
// scans of noise and gradient (qualities 1..100, both subsamplings, up to 128x128
// pixels): at most 3 levels, but 5 at quality 86, whose chroma steps of 5 are the
// finest the fast path takes (the fuzzer found 4 at 86); 8 leaves room beyond.
func roundTripTolerance(q int) int {
	for _, t := range quantTables(clampQuality(q)) {
		var steps [blockSize]uint16
		for i, v := range t {
			steps[i] = uint16(v)
		}
		if dq := decQuantOf(&steps); dq[dqPath] == pathFast {
			return 8
		}
	}
	return 3
}
