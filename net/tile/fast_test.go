package tile

import (
	"image"
	"testing"

	"github.com/hrvs/hrvs/net/wire"
)

// TestCodecsInteroperate: tiles from either encoder decode with either decoder to
// the same picture quality, which is what the wire format promises.
func TestCodecsInteroperate(t *testing.T) {
	src := patternFrame(t, 1280, 720, 9)
	g, err := NewGrid(1280, 720, DefaultW, DefaultH, wire.Sub420)
	if err != nil {
		t.Fatal(err)
	}
	hs := &Headers{}
	encoders := map[string]Encoder{"stdlib": &StdEncoder{}, "fast": &FastEncoder{}}
	decoders := map[string]Decoder{"stdlib": &StdDecoder{Headers: hs}, "fast": NewFastDecoder(hs)}
	for en, enc := range encoders {
		for dn, dec := range decoders {
			t.Run(en+" tiles decode with "+dn, func(t *testing.T) {
				dst := image.NewYCbCr(src.Rect, src.SubsampleRatio)
				var p []byte
				for i := 0; i < g.Len(); i++ {
					var sub uint8
					p, sub, err = enc.AppendTile(p[:0], src, g.Rect(i), 80)
					if err != nil {
						t.Fatal(err)
					}
					if err := dec.DecodeTile(dst, g.Rect(i), 80, sub, p); err != nil {
						t.Fatalf("tile %d: %v", i, err)
					}
				}
				if psnr := PSNR(src, dst); psnr < 33 {
					t.Fatalf("PSNR %.1f dB", psnr)
				}
			})
		}
	}
}

func TestFastPathKeeps422(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 256, 128), image.YCbCrSubsampleRatio422)
	for i := range src.Y {
		src.Y[i] = uint8(i * 7)
	}
	for i := range src.Cb {
		src.Cb[i], src.Cr[i] = uint8(i), uint8(255-i)
	}
	var enc FastEncoder
	p, sub, err := enc.AppendTile(nil, src, src.Rect, 90)
	if err != nil || sub != wire.Sub422 {
		t.Fatalf("sub %d err %v", sub, err)
	}
	dst := image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio422)
	if err := NewFastDecoder(&Headers{}).DecodeTile(dst, src.Rect, 90, sub, p); err != nil {
		t.Fatal(err)
	}
	if psnr := PSNR(src, dst); psnr < 28 {
		t.Fatalf("PSNR %.1f dB", psnr)
	}
	// A 4:2:0 frame receiving a 4:2:2 tile goes through the resampling path.
	dst420 := image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio420)
	if err := NewFastDecoder(&Headers{}).DecodeTile(dst420, src.Rect, 90, sub, p); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkFastEncodeTile(b *testing.B) {
	src := patternFrame(b, 1920, 1080, 5)
	g, _ := NewGrid(1920, 1080, DefaultW, DefaultH, wire.Sub420)
	var enc FastEncoder
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(1920 * 1080 * 3 / 2))
	for b.Loop() {
		for i := 0; i < g.Len(); i++ {
			out, _, _ = enc.AppendTile(out[:0], src, g.Rect(i), 75)
		}
	}
}

func BenchmarkFastDecodeTile(b *testing.B) {
	src := patternFrame(b, 1920, 1080, 5)
	g, _ := NewGrid(1920, 1080, DefaultW, DefaultH, wire.Sub420)
	var enc FastEncoder
	payloads := make([][]byte, g.Len())
	for i := range payloads {
		payloads[i], _, _ = enc.AppendTile(nil, src, g.Rect(i), 75)
	}
	dst := image.NewYCbCr(src.Rect, src.SubsampleRatio)
	dec := NewFastDecoder(&Headers{})
	b.ReportAllocs()
	b.SetBytes(int64(1920 * 1080 * 3 / 2))
	for b.Loop() {
		for i := range payloads {
			if err := dec.DecodeTile(dst, g.Rect(i), 75, wire.Sub420, payloads[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
