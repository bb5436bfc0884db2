package bench

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	"image/jpeg"
	"os"
	"testing"
)

func TestStampSurvivesJPEG(t *testing.T) {
	tests := []struct {
		name    string
		w, h    int
		idx     uint32
		quality int
	}{
		{"frame 0 at quality 75", 1280, 720, 0, 75},
		{"a large index at quality 30", 1920, 1080, 0xABCDEF, 30},
		{"a small frame with smaller blocks at quality 50", 256, 64, 4242, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), image.YCbCrSubsampleRatio420)
			for i := range img.Y {
				img.Y[i] = byte(i * 13) // busy content around the stamp
			}
			stamp(img, tc.idx)
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: tc.quality}); err != nil {
				t.Fatal(err)
			}
			m, err := jpeg.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := readStamp(m.(*image.YCbCr))
			if !ok || got != tc.idx {
				t.Fatalf("read %d (check %v), want %d", got, ok, tc.idx)
			}
		})
	}
}

func TestReadStampRejectsAnUnstampedFrame(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 640, 64), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = 200
	}
	if idx, ok := readStamp(img); ok {
		t.Fatalf("a flat frame read as stamp %d", idx)
	}
}

func TestPatternClipHoldsStampedPatternFrames(t *testing.T) {
	dir := t.TempDir()
	spec := clipSpec{Kind: ClipPattern, W: 256, H: 64, Frames: 5, FPS: 30}
	path, err := makeClip(context.Background(), dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(path)
	if again, err := makeClip(context.Background(), dir, spec); err != nil || again != path {
		t.Fatalf("second makeClip: %q, %v", again, err)
	}
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st1.ModTime()) {
		t.Fatal("a complete clip was written again instead of reused")
	}
	clip, err := loadClip(path, spec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < spec.Frames; i++ {
		idx, ok := readStamp(fromPlanes(clip.frame(i), spec.W, spec.H))
		if !ok || int(idx) != i {
			t.Fatalf("frame %d carries stamp %d (%v)", i, idx, ok)
		}
	}
	if bytes.Equal(clip.frame(1)[spec.W*40:spec.W*64], clip.frame(2)[spec.W*40:spec.W*64]) {
		t.Fatal("the pattern's scrolling band did not move between frames")
	}
}

func TestPhotoClipPansOverThePhotograph(t *testing.T) {
	photo := findPhoto()
	if photo == "" {
		t.Fatal("no photograph installed: apt-get install plasma-workspace-wallpapers")
	}
	spec := clipSpec{Kind: ClipPhoto, W: 320, H: 180, Frames: 4, FPS: 30, Photo: photo}
	path, err := makeClip(context.Background(), t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	clip, err := loadClip(path, spec)
	if err != nil {
		t.Fatal(err)
	}
	a, b := clip.frame(0), clip.frame(3)
	if p := psnrI420(a, b, spec.W, spec.H); p > 40 {
		t.Fatalf("first and last frame nearly identical (%.1f dB): the pan did not move", p)
	}
	if idx, ok := readStamp(fromPlanes(b, spec.W, spec.H)); !ok || idx != 3 {
		t.Fatalf("last frame stamp %d (%v), want 3", idx, ok)
	}
}

func TestPhotoClipsOfDifferentPhotographsAreDifferentFiles(t *testing.T) {
	a := clipSpec{Kind: ClipPhoto, W: 320, H: 180, Frames: 4, FPS: 30, Photo: "/a.jpg"}
	b := a
	b.Photo = "/b.jpg"
	if a.fileName() == b.fileName() {
		t.Fatalf("both clips named %s: a cached clip of one photograph would stand in for the other", a.fileName())
	}
}

func TestPhotoClipWithoutAPhotographSaysWhatToInstall(t *testing.T) {
	_, err := makeClip(context.Background(), t.TempDir(), clipSpec{Kind: ClipPhoto, W: 320, H: 180, Frames: 2, FPS: 30})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("plasma-workspace-wallpapers")) {
		t.Fatalf("err = %v, want one naming the package", err)
	}
}

func TestThroughRGBMatchesWhatAPNGOfTheFrameHolds(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 64, 32), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = byte(16 + i%220)
	}
	for i := range src.Cb {
		// Saturated chroma, far outside the RGB gamut at high luma: the RGB trip
		// clips it.
		src.Cb[i], src.Cr[i] = 110, 240
	}
	// What the dir sink does: draw into RGBA (and PNG keeps RGBA exactly).
	rgba := image.NewRGBA(src.Rect)
	draw.Draw(rgba, src.Rect, src, image.Point{}, draw.Src)
	got := planes(toYCbCr420(rgba))
	same := psnrI420(got, planes(throughRGB(src)), 64, 32)
	raw := psnrI420(got, planes(src), 64, 32)
	if same < 50 {
		t.Fatalf("PNG and reference through the same RGB trip differ: %.1f dB", same)
	}
	if raw >= same {
		t.Fatalf("comparing with the unclipped source (%.1f dB) should look worse than with the clipped one (%.1f dB)", raw, same)
	}
}
