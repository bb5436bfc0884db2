package capture

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"testing"
)

// testPicture returns a w x h picture with detail in every plane, made by the
// pattern source so the content resembles what the sender encodes, converted to
// sub when that is 4:2:2.
func testPicture(t testing.TB, w, h int, sub image.YCbCrSubsampleRatio, seq uint64) *image.YCbCr {
	t.Helper()
	p, err := NewPattern(w, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	p.Draw(img, seq)
	if sub == image.YCbCrSubsampleRatio420 {
		return img
	}
	if sub != image.YCbCrSubsampleRatio422 {
		t.Fatalf("testPicture: %v not supported", sub)
	}
	out := image.NewYCbCr(image.Rect(0, 0, w, h), sub)
	copy(out.Y, img.Y)
	for y := 0; y < h; y++ {
		for x := 0; x < out.CStride; x++ {
			o, c := out.COffset(2*x, y), img.COffset(2*x, y)
			// vary odd rows so 4:2:2 really carries more than 4:2:0
			out.Cb[o], out.Cr[o] = img.Cb[c]+uint8(y&1)*9, img.Cr[c]
		}
	}
	return out
}

// encodeJPEG encodes img with image/jpeg (which always writes the standard
// Huffman tables and 4:2:0 chroma).
func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// stripDHT removes every DHT segment before the first SOS, as many UVC cameras
// send their MJPEG frames.
func stripDHT(t testing.TB, frame []byte) []byte {
	t.Helper()
	out := []byte{0xff, 0xd8}
	i := 2
	for i < len(frame) {
		if frame[i] != 0xff {
			t.Fatalf("stripDHT: no marker at %d", i)
		}
		m := frame[i+1]
		if m == markerSOS {
			return append(out, frame[i:]...)
		}
		n := int(frame[i+2])<<8 | int(frame[i+3])
		if m != markerDHT {
			out = append(out, frame[i:i+2+n]...)
		}
		i += 2 + n
	}
	t.Fatal("stripDHT: no SOS")
	return nil
}

// psnr compares two pictures of the same shape over all three planes.
func psnr(a, b *image.YCbCr) float64 {
	var se float64
	var n int
	add := func(p, q []byte) {
		for i := range p {
			d := float64(int(p[i]) - int(q[i]))
			se += d * d
		}
		n += len(p)
	}
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h; y++ {
		add(a.Y[a.YOffset(a.Rect.Min.X, y):][:w], b.Y[b.YOffset(b.Rect.Min.X, y):][:w])
	}
	cw := (w + 1) / 2
	ch := (h + 1) / 2
	if a.SubsampleRatio == image.YCbCrSubsampleRatio422 {
		ch = h
	}
	for y := 0; y < ch; y++ {
		ya := y
		if a.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			ya = 2 * y
		}
		add(a.Cb[a.COffset(0, ya):][:cw], b.Cb[b.COffset(0, ya):][:cw])
		add(a.Cr[a.COffset(0, ya):][:cw], b.Cr[b.COffset(0, ya):][:cw])
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*float64(n)/se)
}

// planesEqual reports whether a and b hold the same samples. It compares rows with
// bytes.Equal, which stays fast under the race detector.
func planesEqual(a, b *image.YCbCr) bool {
	if a.Rect.Dx() != b.Rect.Dx() || a.Rect.Dy() != b.Rect.Dy() || a.SubsampleRatio != b.SubsampleRatio {
		return false
	}
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h; y++ {
		if !bytes.Equal(a.Y[a.YOffset(a.Rect.Min.X, a.Rect.Min.Y+y):][:w], b.Y[b.YOffset(b.Rect.Min.X, b.Rect.Min.Y+y):][:w]) {
			return false
		}
	}
	cw, ch := (w+1)/2, (h+1)/2
	if a.SubsampleRatio == image.YCbCrSubsampleRatio422 {
		ch = h
	}
	for y := 0; y < ch; y++ {
		oa, ob := a.COffset(a.Rect.Min.X, a.Rect.Min.Y)+y*a.CStride, b.COffset(b.Rect.Min.X, b.Rect.Min.Y)+y*b.CStride
		if !bytes.Equal(a.Cb[oa:oa+cw], b.Cb[ob:ob+cw]) || !bytes.Equal(a.Cr[oa:oa+cw], b.Cr[ob:ob+cw]) {
			return false
		}
	}
	return true
}
