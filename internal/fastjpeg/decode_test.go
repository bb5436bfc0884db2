package fastjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// maxDiff is the largest difference between corresponding samples of two Y'CbCr
// images of one size and ratio.
func maxDiff(a, b *image.YCbCr) int {
	d := 0
	w, h := a.Rect.Dx(), a.Rect.Dy()
	cw, ch := chromaSize(w, h, a.SubsampleRatio)
	cmp := func(p, q []byte, ps, qs, w, h int) {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				d = max(d, abs(int(p[y*ps+x])-int(q[y*qs+x])))
			}
		}
	}
	ay, by := a.Y[a.YOffset(a.Rect.Min.X, a.Rect.Min.Y):], b.Y[b.YOffset(b.Rect.Min.X, b.Rect.Min.Y):]
	cmp(ay, by, a.YStride, b.YStride, w, h)
	ac, bc := a.COffset(a.Rect.Min.X, a.Rect.Min.Y), b.COffset(b.Rect.Min.X, b.Rect.Min.Y)
	cmp(a.Cb[ac:], b.Cb[bc:], a.CStride, b.CStride, cw, ch)
	cmp(a.Cr[ac:], b.Cr[bc:], a.CStride, b.CStride, cw, ch)
	return d
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestIDCTMatchesTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name string
		n    int // non-zero coefficients
		amp  int
	}{
		{"sparse small coefficients", 4, 20},
		{"dense small coefficients", 64, 10},
		{"a few large coefficients", 3, 400},
	} {
		t.Run(tc.name+" come out within one level of a float IDCT", func(t *testing.T) {
			for iter := 0; iter < 200; iter++ {
				var coef [blockSize]float64
				for i := 0; i < tc.n; i++ {
					coef[rng.IntN(blockSize)] = float64(rng.IntN(2*tc.amp+1) - tc.amp)
				}
				coef[0] = float64(rng.IntN(2000) - 1000)
				var blk [blockSize]int32
				for n := range blk {
					blk[n] = int32(math.Round(coef[n] * aanScale[n>>3] * aanScale[n&7] * (1 << dqBits)))
				}
				var out [blockSize]byte
				idct(&blk, out[:], 8)
				for y := 0; y < 8; y++ {
					for x := 0; x < 8; x++ {
						var s float64
						for v := 0; v < 8; v++ {
							for u := 0; u < 8; u++ {
								cu, cv := 1.0, 1.0
								if u == 0 {
									cu = math.Sqrt2 / 2
								}
								if v == 0 {
									cv = math.Sqrt2 / 2
								}
								s += cu * cv * coef[v*8+u] * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) *
									math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
							}
						}
						want := min(max(math.Round(s/4+128), 0), 255)
						if d := math.Abs(float64(out[y*8+x]) - want); d > 1 {
							t.Fatalf("sample (%d,%d) = %d, want %v", x, y, out[y*8+x], want)
						}
					}
				}
			}
		})
	}
}

func TestDecodeScanMatchesImageJPEG(t *testing.T) {
	var e Encoder
	var d Decoder
	for _, c := range contents {
		for _, sz := range sizes {
			for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
				for _, q := range []int{30, 75, 95} {
					s, _ := SubsamplingOf(ratio)
					name := fmt.Sprintf("%s %dx%d %v quality %d", c.name, sz.X, sz.Y, s, q)
					src := toYCbCr(c.rgba(t, sz.X, sz.Y), ratio)
					scan, err := e.AppendScan(nil, src, src.Rect, q)
					if err != nil {
						t.Fatal(err)
					}
					t.Run(name+" decodes to image/jpeg's pixels", func(t *testing.T) {
						want := stdDecode(t, AppendEOI(append(AppendHeader(nil, sz.X, sz.Y, q, s), scan...)))
						got := image.NewYCbCr(src.Rect, ratio)
						if err := d.DecodeScan(got, got.Rect, q, s, scan); err != nil {
							t.Fatal(err)
						}
						if m := maxDiff(got, want); m > 2 {
							t.Errorf("samples differ by up to %d", m)
						}
						if p := psnr(got, want); p < 48 {
							t.Errorf("PSNR against image/jpeg's decode %.1f dB", p)
						}
					})
				}
			}
		}
	}
}

func TestDecodeScanReadsImageJPEGPayloads(t *testing.T) {
	var d Decoder
	for _, c := range contents {
		for _, sz := range []image.Point{{64, 48}, {301, 203}} {
			t.Run(fmt.Sprintf("%s %dx%d coded by image/jpeg decodes to image/jpeg's pixels", c.name, sz.X, sz.Y), func(t *testing.T) {
				src := toYCbCr(c.rgba(t, sz.X, sz.Y), image.YCbCrSubsampleRatio420)
				file := stdEncode(t, src, 80)
				hdr := AppendHeader(nil, sz.X, sz.Y, 80, S420)
				scan := file[len(hdr) : len(file)-2]
				got := image.NewYCbCr(src.Rect, src.SubsampleRatio)
				if err := d.DecodeScan(got, got.Rect, 80, S420, scan); err != nil {
					t.Fatal(err)
				}
				want := stdDecode(t, file)
				if m := maxDiff(got, want); m > 2 {
					t.Errorf("samples differ by up to %d", m)
				}
			})
		}
	}
}

func TestDecodeScanIntoAFrame(t *testing.T) {
	frame := toYCbCr(photoRGBA(t, 200, 120), image.YCbCrSubsampleRatio420)
	var e Encoder
	var d Decoder
	for _, r := range []image.Rectangle{image.Rect(64, 32, 128, 96), image.Rect(192, 112, 200, 120), image.Rect(0, 0, 200, 16)} {
		t.Run(fmt.Sprintf("tile %v lands in place and touches nothing else", r), func(t *testing.T) {
			scan, err := e.AppendScan(nil, frame, r, 90)
			if err != nil {
				t.Fatal(err)
			}
			dst := image.NewYCbCr(frame.Rect, frame.SubsampleRatio)
			for i := range dst.Y {
				dst.Y[i] = 7
			}
			if err := d.DecodeScan(dst, r, 90, S420, scan); err != nil {
				t.Fatal(err)
			}
			if p := psnr(frame.SubImage(r).(*image.YCbCr), dst.SubImage(r).(*image.YCbCr)); p < 35 {
				t.Errorf("PSNR of the tile %.1f dB", p)
			}
			for y := 0; y < frame.Rect.Dy(); y++ {
				for x := 0; x < frame.Rect.Dx(); x++ {
					if !image.Pt(x, y).In(r) && dst.Y[y*dst.YStride+x] != 7 {
						t.Fatalf("pixel (%d,%d) outside the tile was written", x, y)
					}
				}
			}
		})
	}
}

func TestDecodeScanRejectsBadInput(t *testing.T) {
	var e Encoder
	var d Decoder
	src := toYCbCr(photoRGBA(t, 48, 32), image.YCbCrSubsampleRatio420)
	scan, err := e.AppendScan(nil, src, src.Rect, 75)
	if err != nil {
		t.Fatal(err)
	}
	dst := image.NewYCbCr(src.Rect, src.SubsampleRatio)
	t.Run("every truncation of a scan is a clear error", func(t *testing.T) {
		for n := 0; n < len(scan); n++ {
			err := d.DecodeScan(dst, dst.Rect, 75, S420, scan[:n])
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%d of %d bytes: err = %v, want ErrShort or ErrCorrupt", n, len(scan), err)
			}
		}
	})
	t.Run("a scan of all one-bits is corrupt", func(t *testing.T) {
		bad := []byte{0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00}
		if err := d.DecodeScan(dst, dst.Rect, 75, S420, bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	for _, tc := range []struct {
		name string
		dst  *image.YCbCr
		r    image.Rectangle
		s    Subsampling
	}{
		{"a 4:2:2 scan into a 4:2:0 frame", dst, dst.Rect, S422},
		{"an unknown subsampling", dst, dst.Rect, 7},
		{"a rectangle outside the frame", dst, image.Rect(32, 16, 64, 48), S420},
		{"a rectangle at an odd origin", dst, image.Rect(1, 1, 17, 17), S420},
		{"an empty rectangle", dst, image.Rectangle{}, S420},
		{"a frame whose planes are too short", &image.YCbCr{Y: make([]byte, 100), Cb: make([]byte, 10), Cr: make([]byte, 10),
			YStride: 48, CStride: 24, SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: dst.Rect}, dst.Rect, S420},
	} {
		t.Run(tc.name+" is an argument error", func(t *testing.T) {
			if err := d.DecodeScan(tc.dst, tc.r, 75, tc.s, scan); !errors.Is(err, ErrArgs) {
				t.Fatalf("err = %v, want ErrArgs", err)
			}
		})
	}
}

// TestPairedIDCTDecodesAsOneBlockACall holds the decoder's pairing of fast-path
// blocks (Decoder.held, idctFast2) to the one-block generic path: every sample
// of the frame, inside the tile and out, the same, for tiles whose edges cut
// blocks (both of a pair through the edge buffers), that leave an odd block to
// the end, and with a Decoder that a truncated scan left holding a block.
func TestPairedIDCTDecodesAsOneBlockACall(t *testing.T) {
	if runtime.GOARCH == "amd64" && simdAvailable {
		withSIMD(true, func() {
			if !pairIDCT() {
				t.Fatal("an AVX2 machine does not pair the fast IDCT's blocks")
			}
		})
	}
	var e Encoder
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
		s, _ := SubsamplingOf(ratio)
		for _, c := range contents[1:] {
			frame := toYCbCr(c.rgba(t, 216, 136), ratio)
			for _, r := range []image.Rectangle{frame.Rect, image.Rect(0, 0, 70, 38), image.Rect(16, 8, 202, 131), image.Rect(200, 120, 208, 128), image.Rect(2, 2, 12, 6)} {
				t.Run(fmt.Sprintf("%s at %v, tile %v, decodes as one block a call", c.name, ratio, r), func(t *testing.T) {
					scan, err := e.AppendScan(nil, frame, r, 50)
					if err != nil {
						t.Fatal(err)
					}
					decode := func(simd bool) *image.YCbCr {
						dst := image.NewYCbCr(frame.Rect, ratio)
						for _, p := range [][]byte{dst.Y, dst.Cb, dst.Cr} {
							for i := range p {
								p[i] = 7
							}
						}
						var d Decoder
						withSIMD(simd, func() {
							// A truncated scan first: the error leaves whatever
							// block was held behind.
							for n := len(scan) / 3; n > 0; n /= 2 {
								_ = d.DecodeScan(image.NewYCbCr(frame.Rect, ratio), r, 50, s, scan[:n])
							}
							if err := d.DecodeScan(dst, r, 50, s, scan); err != nil {
								t.Fatal(err)
							}
						})
						return dst
					}
					want, got := decode(false), decode(true)
					for i, p := range [][2][]byte{{got.Y, want.Y}, {got.Cb, want.Cb}, {got.Cr, want.Cr}} {
						if !bytes.Equal(p[0], p[1]) {
							j := 0
							for p[0][j] == p[1][j] {
								j++
							}
							t.Fatalf("plane %d differs first at byte %d: %d, one block a call %d", i, j, p[0][j], p[1][j])
						}
					}
				})
			}
		}
	}
}
