package capture

import (
	"context"
	"image"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Sender-side CPU per frame for camera input, on frames built here: what the
// capture stage costs before the tiles are encoded. cpu-ms/frame counts every
// thread (the YUYV unpacking runs one band per CPU); ns/op is wall time.

func BenchmarkCameraFrame(b *testing.B) {
	for _, tc := range []struct {
		name   string
		fourcc string
		w, h   int
	}{
		{"YUYV-720p", "YUYV", 1280, 720}, {"YUYV-1080p", "YUYV", 1920, 1080},
		{"MJPEG-720p", "MJPG", 1280, 720}, {"MJPEG-1080p", "MJPG", 1920, 1080},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var data []byte
			if tc.fourcc == "YUYV" {
				data = packYUYV(testPicture(b, tc.w, tc.h, image.YCbCrSubsampleRatio422, 5), 2*tc.w)
			} else {
				// as a UVC camera sends it: no DHT, tables added on the way in
				data = stripDHT(b, encodeJPEG(b, testPicture(b, tc.w, tc.h, image.YCbCrSubsampleRatio420, 5), 80))
			}
			c := &Camera{mode: camMode{FourCC: tc.fourcc, Width: tc.w, Height: tc.h}}
			if tc.fourcc == "YUYV" {
				c.pool = NewImagePool(tc.w, tc.h, image.YCbCrSubsampleRatio422)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				img, pool, err := c.convert(data)
				if err != nil {
					b.Fatal(err)
				}
				if pool != nil {
					pool.Put(img)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/frame")
		})
	}
}

// BenchmarkFileSource is the file source's throughput in benchmark mode (no
// pacing): frames/s it can deliver, and this process's CPU per frame (ffmpeg's
// own decoding runs in its child process and is not counted).
func BenchmarkFileSource(b *testing.B) {
	needFFmpeg(b)
	dir := b.TempDir()
	for _, tc := range []struct{ name, file, input string }{
		{"Y4M-720p", "c.y4m", "testsrc2=size=1280x720:rate=25:duration=2"},
		{"Y4M-1080p", "c.y4m", "testsrc2=size=1920x1080:rate=25:duration=2"},
		{"MJPEG-720p", "c.mjpeg", "testsrc2=size=1280x720:rate=25:duration=2"},
		{"MJPEG-1080p", "c.mjpeg", "testsrc2=size=1920x1080:rate=25:duration=2"},
		{"H264-720p", "c.mkv", "testsrc2=size=1280x720:rate=25:duration=4"},
		{"H264-1080p", "c.mkv", "testsrc2=size=1920x1080:rate=25:duration=4"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			path := filepath.Join(dir, tc.name+"-"+tc.file)
			args := []string{"-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", tc.input}
			switch filepath.Ext(tc.file) {
			case ".mjpeg":
				args = append(args, "-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj422p", "-f", "mjpeg")
			case ".mkv":
				args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
			}
			if out, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			ctx := context.Background()
			src, err := Open(ctx, path, Options{FPS: -1, Loop: true})
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), processCPU()
			for i := 0; i < b.N; i++ {
				f, err := src.Next(ctx)
				if err != nil {
					b.Fatal(err)
				}
				f.Release()
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/frame")
		})
	}
}
