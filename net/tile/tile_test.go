package tile

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"testing"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/wire"
)

func patternFrame(t testing.TB, w, h int, seq uint64) *image.YCbCr {
	p, err := capture.NewPattern(w, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	p.Draw(img, seq)
	return img
}

func TestGridCoversTheFrameOnce(t *testing.T) {
	cases := []struct{ w, h, tw, th int }{{1920, 1080, 128, 64}, {1280, 720, 256, 128}, {100, 50, 64, 64}, {7680, 4320, 64, 64}}
	for _, c := range cases {
		g, err := NewGrid(c.w, c.h, c.tw, c.th, wire.Sub420)
		if err != nil {
			t.Fatal(err)
		}
		covered := make([]uint8, c.w*c.h)
		for i := 0; i < g.Len(); i++ {
			r := g.Rect(i)
			if r.Min.X%16 != 0 || r.Min.Y%16 != 0 || r.Empty() {
				t.Fatalf("%v: tile %d at %v is off the MCU grid", c, i, r)
			}
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					covered[y*c.w+x]++
				}
			}
		}
		for i, n := range covered {
			if n != 1 {
				t.Fatalf("%v: pixel %d covered %d times", c, i, n)
			}
		}
	}
	t.Run("rejects a tile width off the MCU grid", func(t *testing.T) {
		if _, err := NewGrid(1920, 1080, 100, 64, wire.Sub420); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("rejects more tiles than the index can name", func(t *testing.T) {
		if _, err := NewGrid(65535, 65535, 16, 16, wire.Sub420); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestHeaderRebuildMatchesImageJPEG(t *testing.T) {
	var hs Headers
	img := patternFrame(t, 96, 48, 3)
	var full bytes.Buffer
	if err := jpeg.Encode(&full, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	scan, err := Scan(full.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := hs.Append(nil, 96, 48, 80, wire.Sub420)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := append(append(hdr, scan...), 0xff, 0xd9)
	if !bytes.Equal(rebuilt, full.Bytes()) {
		t.Fatalf("rebuilt JPEG (%d bytes) differs from image/jpeg's (%d bytes)", len(rebuilt), full.Len())
	}
}

func TestStdlibTilesRoundTrip(t *testing.T) {
	for _, size := range [][2]int{{1280, 720}, {1920, 1080}, {200, 120}} {
		src := patternFrame(t, size[0], size[1], 17)
		g, err := NewGrid(size[0], size[1], 128, 64, wire.Sub420)
		if err != nil {
			t.Fatal(err)
		}
		var enc StdEncoder
		dec := StdDecoder{Headers: &Headers{}}
		dst := image.NewYCbCr(src.Rect, src.SubsampleRatio)
		var payload []byte
		for i := 0; i < g.Len(); i++ {
			r := g.Rect(i)
			var sub uint8
			payload, sub, err = enc.AppendTile(payload[:0], src, r, 85)
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.DecodeTile(dst, r, 85, sub, payload); err != nil {
				t.Fatalf("tile %d: %v", i, err)
			}
		}
		if p := PSNR(src, dst); p < 35 {
			t.Fatalf("%v: PSNR %.1f dB after a q85 round trip, want >= 35", size, p)
		}
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	dec := StdDecoder{Headers: &Headers{}}
	dst := image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio420)
	for _, scan := range [][]byte{nil, {0}, bytes.Repeat([]byte{0xff}, 50), []byte("not a jpeg scan at all")} {
		if err := dec.DecodeTile(dst, image.Rect(0, 0, 64, 64), 75, wire.Sub420, scan); err == nil {
			t.Fatalf("accepted %q", scan)
		}
	}
	t.Run("rejects a tile outside the frame", func(t *testing.T) {
		var enc StdEncoder
		src := patternFrame(t, 128, 128, 1)
		p, sub, _ := enc.AppendTile(nil, src, image.Rect(64, 64, 128, 128), 75)
		if err := dec.DecodeTile(dst, image.Rect(64, 64, 128, 128), 75, sub, p); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestPSNR(t *testing.T) {
	a := patternFrame(t, 64, 64, 1)
	if p := PSNR(a, a); !math.IsInf(p, 1) {
		t.Fatalf("identical images: %v", p)
	}
	b := image.NewYCbCr(a.Rect, a.SubsampleRatio)
	copy(b.Y, a.Y)
	copy(b.Cb, a.Cb)
	copy(b.Cr, a.Cr)
	for i := range b.Y {
		b.Y[i] ^= 1 // every luma sample off by one
	}
	// MSE = 4096/6144 over Y+Cb+Cr samples: 10*log10(65025/0.667) = 49.9 dB
	if p := PSNR(a, b); math.Abs(p-49.89) > 0.05 {
		t.Fatalf("PSNR %v, want 49.89", p)
	}
}

func FuzzDecodeTile(f *testing.F) {
	var enc StdEncoder
	src := patternFrame(f, 64, 64, 1)
	p, _, _ := enc.AppendTile(nil, src, src.Rect, 75)
	f.Add(p, uint8(75), uint8(0), uint16(64), uint16(64))
	f.Add([]byte{0xff, 0x00}, uint8(1), uint8(1), uint16(16), uint16(8))
	dec := StdDecoder{Headers: &Headers{}}
	dst := image.NewYCbCr(image.Rect(0, 0, 256, 256), image.YCbCrSubsampleRatio420)
	f.Fuzz(func(t *testing.T, scan []byte, q, sub uint8, w, h uint16) {
		if q < 1 || q > 100 || sub > wire.Sub422 || w == 0 || h == 0 || w > 256 || h > 256 {
			return
		}
		_ = dec.DecodeTile(dst, image.Rect(0, 0, int(w), int(h)), int(q), sub, scan)
	})
}

func BenchmarkStdEncodeTile(b *testing.B) {
	src := patternFrame(b, 1920, 1080, 5)
	g, _ := NewGrid(1920, 1080, DefaultW, DefaultH, wire.Sub420)
	var enc StdEncoder
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(1920 * 1080 * 3 / 2))
	for b.Loop() {
		for i := 0; i < g.Len(); i++ {
			out, _, _ = enc.AppendTile(out[:0], src, g.Rect(i), 75)
		}
	}
}
