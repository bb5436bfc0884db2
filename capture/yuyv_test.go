package capture

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"testing"
)

// packYUYV builds a YUYV buffer from a 4:2:2 picture, with stride bytes per line
// (padding filled with a marker value that must never show up in the output).
func packYUYV(img *image.YCbCr, stride int) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	pairs := (w + 1) / 2
	buf := bytes.Repeat([]byte{0xEE}, stride*h)
	for y := 0; y < h; y++ {
		row := buf[y*stride:]
		for i := 0; i < pairs; i++ {
			row[4*i] = img.Y[y*img.YStride+2*i]
			if 2*i+1 < w {
				row[4*i+2] = img.Y[y*img.YStride+2*i+1]
			} else {
				row[4*i+2] = 0x77 // the pixel past an odd width
			}
			row[4*i+1] = img.Cb[y*img.CStride+i]
			row[4*i+3] = img.Cr[y*img.CStride+i]
		}
	}
	return buf
}

func TestYUYVToPlanes(t *testing.T) {
	t.Run("known values land in the right planes", func(t *testing.T) {
		// two rows of 4 pixels: Y0 Cb Y1 Cr per pair
		src := []byte{
			10, 100, 11, 200, 12, 101, 13, 201,
			20, 110, 21, 210, 22, 111, 23, 211,
		}
		dst := image.NewYCbCr(image.Rect(0, 0, 4, 2), image.YCbCrSubsampleRatio422)
		if err := yuyvToYCbCr(dst, src, 0); err != nil {
			t.Fatal(err)
		}
		wantY := []byte{10, 11, 12, 13, 20, 21, 22, 23}
		wantCb := []byte{100, 101, 110, 111}
		wantCr := []byte{200, 201, 210, 211}
		if !bytes.Equal(dst.Y, wantY) || !bytes.Equal(dst.Cb, wantCb) || !bytes.Equal(dst.Cr, wantCr) {
			t.Fatalf("got Y %v Cb %v Cr %v", dst.Y, dst.Cb, dst.Cr)
		}
	})
	for _, tc := range []struct {
		w, h, pad int
	}{{1280, 720, 0}, {1920, 1080, 0}, {640, 480, 128}, {33, 17, 4}, {2, 1, 0}, {1, 1, 0}} {
		t.Run(fmt.Sprintf("a %dx%d frame with %d bytes of row padding round-trips", tc.w, tc.h, tc.pad), func(t *testing.T) {
			want := image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), image.YCbCrSubsampleRatio422)
			for i := range want.Y {
				want.Y[i] = byte(i*7 + i/tc.w)
			}
			for i := range want.Cb {
				want.Cb[i], want.Cr[i] = byte(i*3+1), byte(255-i*5)
			}
			stride := 4*((tc.w+1)/2) + tc.pad
			got := image.NewYCbCr(want.Rect, image.YCbCrSubsampleRatio422)
			if err := yuyvToYCbCr(got, packYUYV(want, stride), stride); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Y, want.Y) || !bytes.Equal(got.Cb, want.Cb) || !bytes.Equal(got.Cr, want.Cr) {
				t.Fatal("planes differ")
			}
		})
	}
	t.Run("a short buffer is an error, not a panic", func(t *testing.T) {
		dst := image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio422)
		err := yuyvToYCbCr(dst, make([]byte, 64*2*63), 0)
		if !errors.Is(err, errShortFrame) {
			t.Fatalf("got %v, want errShortFrame", err)
		}
	})
	t.Run("a stride narrower than the picture is an error", func(t *testing.T) {
		dst := image.NewYCbCr(image.Rect(0, 0, 64, 4), image.YCbCrSubsampleRatio422)
		if err := yuyvToYCbCr(dst, make([]byte, 1000), 100); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("a 4:2:0 destination is refused", func(t *testing.T) {
		dst := image.NewYCbCr(image.Rect(0, 0, 4, 4), image.YCbCrSubsampleRatio420)
		if err := yuyvToYCbCr(dst, make([]byte, 32), 0); err == nil {
			t.Fatal("no error")
		}
	})
}

func BenchmarkYUYV(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"720p", 1280, 720}, {"1080p", 1920, 1080}} {
		b.Run(sz.name, func(b *testing.B) {
			src := make([]byte, sz.w*sz.h*2)
			for i := range src {
				src[i] = byte(i)
			}
			dst := image.NewYCbCr(image.Rect(0, 0, sz.w, sz.h), image.YCbCrSubsampleRatio422)
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := yuyvToYCbCr(dst, src, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
