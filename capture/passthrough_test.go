package capture

import (
	"bytes"
	"context"
	"image"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// nextAll reads every frame of a finite source, calling each on it before
// releasing it.
func nextAll(t *testing.T, src Source, each func(i int, f *Frame)) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := 0
	for {
		f, err := src.Next(ctx)
		if err == ErrEnd {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		each(n, f)
		f.Release()
		n++
	}
}

func TestMJPEGFilesHandTheirFramesThrough(t *testing.T) {
	for _, c := range []struct {
		name, clip string
		minPSNR    float64 // of the handed-through frame decoded against the decoding source's
	}{
		{"an MJPEG file's frames are its JPEGs, decoded as the decoding source decodes them", "m422.mjpeg", 99},
		{"MJPEG in AVI comes out of the container undecoded, and decodes like ffmpeg's", "mjpeg.avi", 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := testClip(t, c.clip)
			ref, err := Open(context.Background(), path, Options{FPS: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			var want []*image.YCbCr
			nextAll(t, ref, func(_ int, f *Frame) {
				img := *f.Image
				img.Y, img.Cb, img.Cr = bytes.Clone(img.Y), bytes.Clone(img.Cb), bytes.Clone(img.Cr)
				want = append(want, &img)
			})
			src, err := Open(context.Background(), path, Options{FPS: -1, JPEG: true})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if !strings.Contains(src.Info().Detail, "handed through") || src.Info().Subsample != image.YCbCrSubsampleRatio422 {
				t.Fatalf("info %+v", src.Info())
			}
			n := nextAll(t, src, func(i int, f *Frame) {
				if f.Image != nil || len(f.JPEG) < 4 || f.JPEG[0] != 0xff || f.JPEG[1] != 0xd8 {
					t.Fatalf("frame %d: image %v, %d JPEG bytes", i, f.Image != nil, len(f.JPEG))
				}
				img, err := f.Decode()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if i >= len(want) {
					t.Fatalf("frame %d of %d", i, len(want))
				}
				if p := psnr(img, want[i]); p < c.minPSNR && !planesEqual(img, want[i]) {
					t.Fatalf("frame %d: %.1f dB against the decoding source's", i, p)
				}
			})
			if n != len(want) || n == 0 {
				t.Fatalf("%d frames handed through, %d decoded", n, len(want))
			}
		})
	}
	t.Run("a looped file hands its first frame through again", func(t *testing.T) {
		src, err := Open(context.Background(), testClip(t, "short.mjpeg"), Options{FPS: -1, JPEG: true, Loop: true})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		ctx := context.Background()
		var first []byte
		for i := range 11 {
			f, err := src.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = bytes.Clone(f.JPEG)
			}
			if i == 10 && !bytes.Equal(f.JPEG, first) {
				t.Fatal("the eleventh frame of a looped 10-frame file is not the first")
			}
			f.Release()
		}
	})
}

func TestAnMJPEGCameraHandsItsFramesThrough(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dev := newFakeCam("MJPG", 320, 240)
	var sent [][]byte
	for i := range 3 {
		sent = append(sent, stripDHT(t, encodeJPEG(t, testPicture(t, 320, 240, image.YCbCrSubsampleRatio420, uint64(i)), 85)))
		dev.feed <- sent[i]
	}
	c, err := openCamera(ctx, "/dev/video7", camRequest{"mjpeg", 320, 240, 30, nil}, (&fakeOpener{devs: []*fakeCam{dev}}).open, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.handThrough() {
		t.Fatal("an MJPEG camera in JFIF colour does not hand its frames through")
	}
	for i := range 3 {
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 { // decoded while opening, to learn the subsampling
			if f.Image == nil {
				t.Fatal("the first frame lost its picture")
			}
			f.Release()
			continue
		}
		if f.Image != nil || !bytes.Equal(f.JPEG, sent[i]) {
			t.Fatalf("frame %d: image %v, JPEG the camera's %v", i, f.Image != nil, bytes.Equal(f.JPEG, sent[i]))
		}
		img, err := f.Decode()
		if err != nil || img.Rect.Dx() != 320 || img.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			t.Fatalf("frame %d decodes to %v, %v", i, img, err)
		}
		f.Release()
	}
	if dev.released.Load() != 3 {
		t.Fatalf("%d device buffers released, want 3: a handed-through frame must own a copy", dev.released.Load())
	}
	t.Run("a YUYV camera has nothing to hand through", func(t *testing.T) {
		y := newFakeCam("YUYV", 64, 32)
		buf, _ := yuyvFrame(64, 32, 1)
		y.feed <- buf
		yc, err := openCamera(ctx, "/dev/video8", camRequest{"auto", 64, 32, 30, nil}, (&fakeOpener{devs: []*fakeCam{y}}).open, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer yc.Close()
		if yc.handThrough() {
			t.Fatal("a YUYV camera claims to hand JPEGs through")
		}
	})
}
