package rtpjpeg

import (
	"image"
	"log/slog"
	"testing"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// BenchmarkPacketize is the cost of cutting a 1080p q80 JPEG into packets.
func BenchmarkPacketize(b *testing.B) {
	file, _ := encode(b, 1920, 1080, image.YCbCrSubsampleRatio420, 80)
	var p Packetizer
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		if _, err := p.Packetize(file, 0, func([]byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrame is what the sink spends on a frame before the socket: encode and
// packetise, at 1080p as sent and at 2560x1440 scaled to 2040x1144 first.
func BenchmarkFrame(b *testing.B) {
	for _, tc := range []struct {
		name string
		w, h int
	}{{"1920x1080", 1920, 1080}, {"2560x1440_scaled", 2560, 1440}} {
		b.Run(tc.name, func(b *testing.B) {
			img := testpic.Picture(tc.w, tc.h, image.YCbCrSubsampleRatio420, 1)
			s := Sink{log: slog.New(slog.DiscardHandler)}
			var (
				e    fastjpeg.Encoder
				p    Packetizer
				file []byte
			)
			b.ReportAllocs()
			b.SetBytes(int64(tc.w * tc.h))
			for b.Loop() {
				fitted, err := s.fitted(img)
				if err != nil {
					b.Fatal(err)
				}
				if file, err = e.AppendJPEG(file[:0], fitted, 80); err != nil {
					b.Fatal(err)
				}
				if _, err := p.Packetize(file, 0, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkShrink is the scaling alone: 2560x1440 4:2:0 to 2040x1144.
func BenchmarkShrink(b *testing.B) {
	img := testpic.Picture(2560, 1440, image.YCbCrSubsampleRatio420, 1)
	var s shrinker
	b.ReportAllocs()
	b.SetBytes(2560 * 1440)
	for b.Loop() {
		if _, err := s.shrink(img, 2040, 1144); err != nil {
			b.Fatal(err)
		}
	}
}
