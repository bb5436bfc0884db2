package window

import (
	"image"
	"testing"
)

func TestFitKeepsTheAspectRatio(t *testing.T) {
	cases := []struct {
		name         string
		w, h, sw, sh int
		want         image.Rectangle
	}{
		{"same size fills the screen", 640, 360, 640, 360, image.Rect(0, 0, 640, 360)},
		{"a wider screen gets bars left and right", 640, 360, 1000, 360, image.Rect(180, 0, 820, 360)},
		{"a taller screen gets bars top and bottom", 1920, 1080, 1280, 1024, image.Rect(0, 152, 1280, 872)},
		{"a small picture is enlarged", 320, 240, 1280, 960, image.Rect(0, 0, 1280, 960)},
		{"an empty screen gets nothing", 320, 240, 0, 0, image.Rectangle{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fit(c.w, c.h, c.sw, c.sh); got != c.want {
				t.Fatalf("fit(%d,%d,%d,%d) = %v, want %v", c.w, c.h, c.sw, c.sh, got, c.want)
			}
		})
	}
}

func TestTitleNamesTheSenderOnceKnown(t *testing.T) {
	if got := title(":5000", ""); got != "HRVS: waiting for video on :5000" {
		t.Fatal(got)
	}
	if got := title(":5000", "10.0.0.2:41000"); got != "HRVS: video from 10.0.0.2:41000" {
		t.Fatal(got)
	}
}

func TestPlanesAreHandedOverWithoutCopyingWhenRowsAlign(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 1920, 1080), image.YCbCrSubsampleRatio420)
	var bufs [3][]byte
	p := planes(img, &bufs)
	if &p[0].pix[0] != &img.Y[0] || &p[1].pix[0] != &img.Cb[0] || &p[2].pix[0] != &img.Cr[0] {
		t.Fatal("aligned planes were copied")
	}
	if p[0].texW != 480 || p[0].rows != 1080 || p[1].texW != 240 || p[1].rows != 540 {
		t.Fatalf("texture sizes %+v", p)
	}
	odd := image.NewYCbCr(image.Rect(0, 0, 30, 10), image.YCbCrSubsampleRatio420)
	for i := range odd.Y {
		odd.Y[i] = byte(i)
	}
	p = planes(odd, &bufs)
	if p[0].texW != 8 || len(p[0].pix) != 32*10 || p[0].pix[32] != 30 || p[1].texW != 4 || p[1].rows != 5 {
		t.Fatalf("unaligned planes packed wrong: texW %d len %d", p[0].texW, len(p[0].pix))
	}
}

// The benchmarks compare the CPU work per 1080p frame of the window's path (hand the
// planes to the GPU as they are) with a per-pixel conversion to RGBA on the CPU.

func BenchmarkPlanes1080p(b *testing.B) {
	img := image.NewYCbCr(image.Rect(0, 0, 1920, 1080), image.YCbCrSubsampleRatio420)
	var bufs [3][]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(img.Y) + len(img.Cb) + len(img.Cr)))
	for b.Loop() {
		planes(img, &bufs)
	}
}

func BenchmarkPlanesCopied1080p(b *testing.B) {
	img := image.NewYCbCr(image.Rect(0, 0, 1922, 1080), image.YCbCrSubsampleRatio420).SubImage(image.Rect(1, 0, 1921, 1080)).(*image.YCbCr)
	var bufs [3][]byte
	b.ReportAllocs()
	b.SetBytes(1920 * 1080 * 3 / 2)
	for b.Loop() {
		planes(img, &bufs)
	}
}
