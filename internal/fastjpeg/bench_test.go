package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"runtime"
	"sync"
	"testing"
)

// benchSizes are the frame sizes the issue asks about.
var benchSizes = []struct {
	name string
	w, h int
}{{"1080p", 1920, 1080}, {"4K", 3840, 2160}}

const benchQuality = 75

// bands cuts a frame into n horizontal bands on the MCU grid, the unit the
// parallel benchmarks give each goroutine.
func bands(r image.Rectangle, n, mcuH int) []image.Rectangle {
	rows := (r.Dy() + mcuH - 1) / mcuH
	var out []image.Rectangle
	for i := 0; i < n; i++ {
		y0, y1 := r.Min.Y+rows*i/n*mcuH, min(r.Min.Y+rows*(i+1)/n*mcuH, r.Max.Y)
		if y0 < y1 {
			out = append(out, image.Rect(r.Min.X, y0, r.Max.X, y1))
		}
	}
	return out
}

// parallel runs f(i) for i in 0..n-1 on n goroutines and waits for all of them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

func BenchmarkEncode(b *testing.B) {
	for _, sz := range benchSizes {
		rgba := photoRGBA(b, sz.w, sz.h)
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
			img := toYCbCr(rgba, ratio)
			s, _ := SubsamplingOf(ratio)
			_, mh := s.MCUSize()
			name := fmt.Sprintf("%s/%v", sz.name, s)
			b.Run(name+"/fast/1thread", func(b *testing.B) {
				var e Encoder
				buf, _ := e.AppendScan(nil, img, img.Rect, benchQuality)
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				defer threadCPU(b)()
				b.ResetTimer()
				for b.Loop() {
					buf, _ = e.AppendScan(buf[:0], img, img.Rect, benchQuality)
				}
				b.ReportMetric(float64(len(buf)), "bytes/frame")
			})
			// The sender's case: 240x120 tiles, each its own scan.
			b.Run(name+"/fast/tiles", func(b *testing.B) {
				var e Encoder
				var buf []byte
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				defer threadCPU(b)()
				b.ResetTimer()
				for b.Loop() {
					for y := 0; y < sz.h; y += 120 {
						for x := 0; x < sz.w; x += 240 {
							buf, _ = e.AppendScan(buf[:0], img, image.Rect(x, y, min(x+240, sz.w), min(y+120, sz.h)), benchQuality)
						}
					}
				}
			})
			b.Run(name+"/generic/1thread", func(b *testing.B) {
				withSIMD(false, func() {
					var e Encoder
					buf, _ := e.AppendScan(nil, img, img.Rect, benchQuality)
					b.SetBytes(int64(sz.w * sz.h * 3 / 2))
					b.ReportAllocs()
					defer threadCPU(b)()
					b.ResetTimer()
					for b.Loop() {
						buf, _ = e.AppendScan(buf[:0], img, img.Rect, benchQuality)
					}
				})
			})
			b.Run(name+"/fast/allcores", func(b *testing.B) {
				n := runtime.GOMAXPROCS(0)
				parts := bands(img.Rect, n, mh)
				encs := make([]Encoder, len(parts))
				bufs := make([][]byte, len(parts))
				for i := range parts { // warm up: the steady state allocates nothing
					bufs[i], _ = encs[i].AppendScan(nil, img, parts[i], benchQuality)
				}
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				for b.Loop() {
					parallel(len(parts), func(i int) {
						bufs[i], _ = encs[i].AppendScan(bufs[i][:0], img, parts[i], benchQuality)
					})
				}
			})
			if s == S422 {
				continue // image/jpeg has no 4:2:2 output; its 4:2:0 figures stand
			}
			b.Run(name+"/stdlib/1thread", func(b *testing.B) {
				var buf bytes.Buffer
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				defer threadCPU(b)()
				for b.Loop() {
					buf.Reset()
					if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: benchQuality}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(buf.Len()), "bytes/frame")
			})
			b.Run(name+"/stdlib/allcores", func(b *testing.B) {
				n := runtime.GOMAXPROCS(0)
				parts := bands(img.Rect, n, mh)
				bufs := make([]bytes.Buffer, len(parts))
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				for b.Loop() {
					parallel(len(parts), func(i int) {
						bufs[i].Reset()
						_ = jpeg.Encode(&bufs[i], img.SubImage(parts[i]), &jpeg.Options{Quality: benchQuality})
					})
				}
			})
		}
		b.Run(sz.name+"/rgba/fast/1thread", func(b *testing.B) {
			var e Encoder
			buf, _ := e.AppendJPEG(nil, rgba, benchQuality)
			b.SetBytes(int64(sz.w * sz.h * 4))
			b.ReportAllocs()
			defer threadCPU(b)()
			b.ResetTimer()
			for b.Loop() {
				buf, _ = e.AppendJPEG(buf[:0], rgba, benchQuality)
			}
		})
		b.Run(sz.name+"/rgba/stdlib/1thread", func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(sz.w * sz.h * 4))
			b.ReportAllocs()
			defer threadCPU(b)()
			for b.Loop() {
				buf.Reset()
				_ = jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: benchQuality})
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, sz := range benchSizes {
		rgba := photoRGBA(b, sz.w, sz.h)
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
			img := toYCbCr(rgba, ratio)
			s, _ := SubsamplingOf(ratio)
			_, mh := s.MCUSize()
			name := fmt.Sprintf("%s/%v", sz.name, s)
			var e Encoder
			scan, _ := e.AppendScan(nil, img, img.Rect, benchQuality)
			file := AppendEOI(append(AppendHeader(nil, sz.w, sz.h, benchQuality, s), scan...))
			// The parallel runs decode bands, each coded as its own scan (as tiles are).
			parts := bands(img.Rect, runtime.GOMAXPROCS(0), mh)
			scans := make([][]byte, len(parts))
			files := make([][]byte, len(parts))
			for i, r := range parts {
				scans[i], _ = e.AppendScan(nil, img, r, benchQuality)
				files[i] = AppendEOI(append(AppendHeader(nil, r.Dx(), r.Dy(), benchQuality, s), scans[i]...))
			}
			dst := image.NewYCbCr(img.Rect, ratio)
			b.Run(name+"/fast/1thread", func(b *testing.B) {
				var d Decoder
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				defer threadCPU(b)()
				for b.Loop() {
					if err := d.DecodeScan(dst, dst.Rect, benchQuality, s, scan); err != nil {
						b.Fatal(err)
					}
				}
			})
			// The receiver's case: 240x120 tiles, each its own scan.
			var tiles []image.Rectangle
			var tileScans [][]byte
			for y := 0; y < sz.h; y += 120 {
				for x := 0; x < sz.w; x += 240 {
					r := image.Rect(x, y, min(x+240, sz.w), min(y+120, sz.h))
					ts, _ := e.AppendScan(nil, img, r, benchQuality)
					tiles, tileScans = append(tiles, r), append(tileScans, ts)
				}
			}
			b.Run(name+"/fast/tiles", func(b *testing.B) {
				var d Decoder
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				defer threadCPU(b)()
				for b.Loop() {
					for i, r := range tiles {
						if err := d.DecodeScan(dst, r, benchQuality, s, tileScans[i]); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
			b.Run(name+"/generic/1thread", func(b *testing.B) {
				withSIMD(false, func() {
					var d Decoder
					b.SetBytes(int64(sz.w * sz.h * 3 / 2))
					b.ReportAllocs()
					defer threadCPU(b)()
					for b.Loop() {
						if err := d.DecodeScan(dst, dst.Rect, benchQuality, s, scan); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			b.Run(name+"/fast/allcores", func(b *testing.B) {
				decs := make([]Decoder, len(parts))
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				for b.Loop() {
					parallel(len(parts), func(i int) {
						_ = decs[i].DecodeScan(dst, parts[i], benchQuality, s, scans[i])
					})
				}
			})
			b.Run(name+"/stdlib/1thread", func(b *testing.B) {
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				defer threadCPU(b)()
				for b.Loop() {
					if _, err := jpeg.Decode(bytes.NewReader(file)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/stdlib/allcores", func(b *testing.B) {
				b.SetBytes(int64(sz.w * sz.h * 3 / 2))
				b.ReportAllocs()
				for b.Loop() {
					parallel(len(parts), func(i int) {
						_, _ = jpeg.Decode(bytes.NewReader(files[i]))
					})
				}
			})
		}
	}
}
