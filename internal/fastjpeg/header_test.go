package fastjpeg

import (
	"bytes"
	"image"
	"testing"
)

func TestAppendHeaderMatchesImageJPEG(t *testing.T) {
	// image/jpeg encodes the whole frame to give its header: under -race
	// (raceSample) the small images only, every size in the plain build.
	for _, tc := range raceSample([]struct {
		name    string
		w, h, q int
	}{
		{"a 16x16 image at quality 75", 16, 16, 75},
		{"a 1920x1080 frame at quality 90", 1920, 1080, 90},
		{"an odd 17x9 tile at quality 1", 17, 9, 1},
		{"a 4K frame at quality 100", 3840, 2160, 100},
		{"a 1x1 image at quality 49 (the other scaling branch)", 1, 1, 49},
	}, 2) {
		t.Run(tc.name+" gets image/jpeg's header byte for byte", func(t *testing.T) {
			img := image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), image.YCbCrSubsampleRatio420)
			std := stdEncode(t, img, tc.q)
			hdr := AppendHeader(nil, tc.w, tc.h, tc.q, S420)
			if !bytes.HasPrefix(std, hdr) {
				t.Fatalf("header differs from image/jpeg's:\n got %x\nwant %x", hdr, std[:len(hdr)])
			}
		})
	}
	t.Run("4:2:2 differs from 4:2:0 only in Y's sampling factors", func(t *testing.T) {
		a, b := AppendHeader(nil, 64, 32, 80, S420), AppendHeader(nil, 64, 32, 80, S422)
		var diff []int
		for i := range a {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		if len(diff) != 1 || a[diff[0]] != 0x22 || b[diff[0]] != 0x21 {
			t.Fatalf("differences at %v, want one byte 0x22 -> 0x21", diff)
		}
	})
}
