package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"
)

// benchClips are the camera frames: the photograph at 1080p, at -q:v 3
// (a good webcam) and -q:v 10 (a cheap one), in both layouts.
var benchClips = []clip{
	{"photo-1080p-422-q3", photoInput(1920, 1080), image.Pt(1920, 1080), "yuvj422p", 3, "optimal", 0},
	{"photo-1080p-422-q10", photoInput(1920, 1080), image.Pt(1920, 1080), "yuvj422p", 10, "optimal", 0},
	{"photo-1080p-420-q3", photoInput(1920, 1080), image.Pt(1920, 1080), "yuvj420p", 3, "optimal", 0},
	{"photo-1080p-420-q10", photoInput(1920, 1080), image.Pt(1920, 1080), "yuvj420p", 10, "optimal", 0},
}

// BenchmarkRetile compares the ways a sender turns a camera's MJPEG frame into
// 256x128 tile payloads (the sender's default grid): re-tiling in one pass
// (Transcode), re-tiling through stored coefficients (CoefFrame.Decode +
// AppendTile per tile), both with Annex K.3 tables, against decoding it with image/jpeg and encoding every tile again with the
// Encoder at the sender's default quality 75. Bytes are the camera frame's.
func BenchmarkRetile(b *testing.B) {
	for _, c := range benchClips {
		frame := c.frames(b, 1)[0]
		if c.pixFmt == "yuvj422p" {
			frame = webcamStyle(b, frame) // Y 2x1 as webcams code 4:2:2, not ffmpeg's Y 2x2
		}
		grid := tileGrid(image.Rect(0, 0, c.size.X, c.size.Y), 256, 128)
		b.Run(c.name+"/transcode", func(b *testing.B) {
			var f CoefFrame
			ts, err := NewTableSet(&Tables{Quant: StandardTables(75).Quant, Huff: StandardHuffman()})
			if err != nil {
				b.Fatal(err)
			}
			var tiles [][]byte
			if tiles, err = f.Transcode(frame, 256, 128, ts, tiles); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			defer threadCPU(b)()
			var n int
			for b.Loop() {
				if tiles, err = f.Transcode(frame, 256, 128, ts, tiles); err != nil {
					b.Fatal(err)
				}
			}
			for _, t := range tiles {
				n += len(t)
			}
			b.ReportMetric(float64(n), "tile-bytes/frame")
			b.ReportMetric(float64(len(frame)), "camera-bytes/frame")
		})
		b.Run(c.name+"/retile", func(b *testing.B) {
			var f CoefFrame
			if err := f.Decode(frame); err != nil {
				b.Fatal(err)
			}
			ts, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: StandardHuffman()})
			if err != nil {
				b.Fatal(err)
			}
			var buf []byte
			var n int
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			defer threadCPU(b)()
			for b.Loop() {
				if err := f.Decode(frame); err != nil {
					b.Fatal(err)
				}
				n = 0
				for _, r := range grid {
					if buf, err = f.AppendTile(buf[:0], r, ts); err != nil {
						b.Fatal(err)
					}
					n += len(buf)
				}
			}
			b.ReportMetric(float64(n), "tile-bytes/frame")
		})
		b.Run(c.name+"/decode+encode", func(b *testing.B) {
			var e Encoder
			var buf []byte
			var n int
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			defer threadCPU(b)()
			for b.Loop() {
				m, err := jpeg.Decode(bytes.NewReader(frame))
				if err != nil {
					b.Fatal(err)
				}
				img, ok := m.(*image.YCbCr)
				if !ok {
					b.Fatalf("image/jpeg gave a %T", m)
				}
				n = 0
				for _, r := range grid {
					if buf, err = e.AppendScan(buf[:0], img, r, 75); err != nil {
						b.Fatal(err)
					}
					n += len(buf)
				}
			}
			b.ReportMetric(float64(n), "tile-bytes/frame")
		})
	}
}

// BenchmarkCoefDecode is the entropy-decoding part of re-tiling alone.
func BenchmarkCoefDecode(b *testing.B) {
	for _, c := range benchClips[:2] {
		frame := c.frames(b, 1)[0]
		b.Run(fmt.Sprint(c.name), func(b *testing.B) {
			var f CoefFrame
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			defer threadCPU(b)()
			for b.Loop() {
				if err := f.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRestartScan is the cost of finding every RSTn marker of a 1080p q3
// frame with restart intervals: what splitting at restart markers without
// entropy decoding would cost if tile payloads could carry them (docs/JPEG.md,
// Restart intervals), for comparison with BenchmarkRetile.
func BenchmarkRestartScan(b *testing.B) {
	c := clip{"", photoInput(1920, 1080), image.Pt(1920, 1080), "yuvj420p", 3, "optimal", 4}
	frame := c.frames(b, 1)[0]
	var f CoefFrame
	if err := f.Decode(frame); err != nil || f.Restart() == 0 {
		b.Fatalf("no restart intervals: %v", err)
	}
	scan := f.hd.scan
	cuts := make([]int, 0, 1024)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	defer threadCPU(b)()
	for b.Loop() {
		cuts = cuts[:0]
		for p := 0; ; {
			i := bytes.IndexByte(scan[p:], 0xff)
			if i < 0 || p+i+1 >= len(scan) {
				break
			}
			p += i + 1
			if m := scan[p]; m >= markerRST0 && m <= markerRST7 {
				cuts = append(cuts, p+1)
			}
		}
	}
	b.ReportMetric(float64(len(cuts)), "markers/frame")
}
