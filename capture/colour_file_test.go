package capture

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// firstFrame opens path and returns its first frame and the source's Info.
func firstFrame(t *testing.T, path string) (*Frame, Info) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := Open(ctx, path, Options{FPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f, src.Info()
}

// handBars writes a Y4M of 75% white (Y 180) on the left and black (Y 16) on the
// right, neutral chroma, with the extra header fields given.
func handBars(t *testing.T, extra string) string {
	t.Helper()
	const w, h = 64, 32
	b := []byte(fmt.Sprintf("YUV4MPEG2 W%d H%d F25:1 C420jpeg%s\n", w, h, extra))
	for range 2 {
		b = append(b, "FRAME\n"...)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := byte(180)
				if x >= w/2 {
					v = 16
				}
				b = append(b, v)
			}
		}
		for range 2 * (w / 2) * (h / 2) {
			b = append(b, 128)
		}
	}
	path := filepath.Join(t.TempDir(), "bars.y4m")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLimitedRangeSourcesArriveFullRange(t *testing.T) {
	type point struct {
		x, y         int
		what         string
		y0, cb0, cr0 int // want, each ±2
	}
	bars := []point{
		{5, 5, "75% white", 191, 128, 128},
		{200, 200, "black", 0, 128, 128},
		{80, 200, "100% white", 255, 128, 128},
	}
	hand := []point{{5, 5, "75% white", 191, 128, 128}, {50, 20, "black", 0, 128, 128}}
	handFull := []point{{5, 5, "75% white in full range", 180, 128, 128}, {50, 20, "16 in full range", 16, 128, 128}}
	for _, tc := range []struct {
		name   string
		path   func(t *testing.T) string
		colour Colour
		points []point
	}{
		{"a hand-made Y4M with no range field is read as limited range and arrives full range", func(t *testing.T) string { return handBars(t, "") },
			Colour{Range: RangeLimited}, hand},
		{"a hand-made Y4M saying XCOLORRANGE=LIMITED arrives full range", func(t *testing.T) string { return handBars(t, " XCOLORRANGE=LIMITED") },
			Colour{Range: RangeLimited}, hand},
		{"a hand-made Y4M saying XCOLORRANGE=FULL arrives unchanged", func(t *testing.T) string { return handBars(t, " XCOLORRANGE=FULL") },
			Colour{}, handFull},
		{"ffmpeg's 75% bars in a Y4M arrive at white 191 and black 0", func(t *testing.T) string { return testClip(t, "bars.y4m") },
			Colour{Range: RangeLimited}, bars},
		{"ffmpeg's 75% bars in an MKV through ffmpeg arrive at white 191 and black 0", func(t *testing.T) string { return testClip(t, "bars.mkv") },
			Colour{Range: RangeLimited}, bars},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, info := firstFrame(t, tc.path(t))
			if info.Colour != tc.colour {
				t.Fatalf("source colour %v, want %v", info.Colour, tc.colour)
			}
			for _, p := range tc.points {
				y := int(f.Image.Y[f.Image.YOffset(p.x, p.y)])
				o := f.Image.COffset(p.x, p.y)
				cb, cr := int(f.Image.Cb[o]), int(f.Image.Cr[o])
				if abs(y-p.y0) > 2 || abs(cb-p.cb0) > 2 || abs(cr-p.cr0) > 2 {
					t.Errorf("%s at (%d, %d): Y'CbCr %d %d %d, want %d %d %d ±2", p.what, p.x, p.y, y, cb, cr, p.y0, p.cb0, p.cr0)
				}
			}
		})
	}
	t.Run("a Rec.709 colour in an MKV arrives with its Rec.601 values", func(t *testing.T) {
		f, info := firstFrame(t, testClip(t, "colour709.mkv"))
		if want := (Colour{Range: RangeLimited, Matrix: MatrixBT709}); info.Colour != want {
			t.Fatalf("source colour %v, want %v", info.Colour, want)
		}
		wy, wcb, wcr := color.RGBToYCbCr(200, 100, 50) // JFIF's values for R'G'B' 200, 100, 50
		y, cb, cr := f.Image.Y[f.Image.YOffset(30, 30)], f.Image.Cb[f.Image.COffset(30, 30)], f.Image.Cr[f.Image.COffset(30, 30)]
		if !near(y, wy, 2) || !near(cb, wcb, 2) || !near(cr, wcr, 2) {
			t.Fatalf("Y'CbCr %d %d %d, want %d %d %d ±2", y, cb, cr, wy, wcb, wcr)
		}
	})
}
