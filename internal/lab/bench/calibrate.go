package bench

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os/exec"
)

// calibrate picks ffmpeg's -q:v for a JPEG quality. GStreamer and hrvs take the IJG
// quality number (both scale the Annex K tables the same way); ffmpeg's MJPEG
// encoder takes a quantiser scale instead. The fair match is the scale whose PSNR on
// the clip's first frame is closest to what the IJG tables at quality give (encoded
// here with Go's image/jpeg, which uses the same tables).
func calibrate(ctx context.Context, clip *loadedClip, quality int) (int, error) {
	w, h := clip.spec.W, clip.spec.H
	src := fromPlanes(clip.frame(0), w, h)
	var ref bytes.Buffer
	if err := jpeg.Encode(&ref, src, &jpeg.Options{Quality: quality}); err != nil {
		return 0, fmt.Errorf("calibrate: %w", err)
	}
	want, err := jpegPSNR(ref.Bytes(), src)
	if err != nil {
		return 0, fmt.Errorf("calibrate: %w", err)
	}
	best, bestDiff := 0, math.Inf(1)
	for q := 1; q <= 16; q++ {
		cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error",
			"-f", "rawvideo", "-pix_fmt", "yuvj420p", "-s", fmt.Sprintf("%dx%d", w, h), "-i", "pipe:0",
			"-frames:v", "1", "-c:v", "mjpeg", "-q:v", fmt.Sprint(q), "-huffman", "default", "-f", "mjpeg", "pipe:1")
		cmd.Stdin = bytes.NewReader(clip.frame(0))
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("calibrate ffmpeg -q:v %d: %w", q, err)
		}
		got, err := jpegPSNR(out, src)
		if err != nil {
			return 0, fmt.Errorf("calibrate ffmpeg -q:v %d: %w", q, err)
		}
		if d := math.Abs(got - want); d < bestDiff {
			best, bestDiff = q, d
		}
		if got < want-3 {
			break // PSNR falls as q grows; the rest are further away
		}
	}
	return best, nil
}

// jpegPSNR decodes a JPEG and compares it with src.
func jpegPSNR(b []byte, src *image.YCbCr) (float64, error) {
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	y, ok := m.(*image.YCbCr)
	if !ok || y.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return 0, fmt.Errorf("decoded %T, want 4:2:0 Y'CbCr", m)
	}
	return psnrI420(planes(y), planes(src), src.Rect.Dx(), src.Rect.Dy()), nil
}
