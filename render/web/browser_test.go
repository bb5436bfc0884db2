package web

import (
	"context"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/render/internal/testpic"
)

// TestChromiumShowsTheVideo opens the MJPEG view in headless Chromium and looks for the
// picture's colour bars in its screenshot.
func TestChromiumShowsTheVideo(t *testing.T) {
	chromium := testpic.NeedTool(t, "chromium")
	s, url := start(t, Options{Title: ":5000"})
	defer feeder(s, 640, 360, 30)()
	dir := t.TempDir()
	shot := filepath.Join(dir, "page.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=800,600", url+"/mjpeg")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	fh, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	if dst := os.Getenv("HRVS_TEST_ARTIFACTS"); dst != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(filepath.Join(dst, "chromium-page.png"), data, 0o644)
	}
	b := img.Bounds()
	for i, bar := range testpic.Bars {
		r, g, bl := color.YCbCrToRGB(bar[0], bar[1], bar[2])
		n := 0
		for y := b.Min.Y; y < b.Max.Y; y += 2 {
			for x := b.Min.X; x < b.Max.X; x += 2 {
				if near(img.At(x, y), r, g, bl, 10) {
					n++
				}
			}
		}
		// A bar of the 640x360 picture scaled into 800x600 covers ~5000 sampled pixels.
		if n < 1000 {
			t.Fatalf("bar %d (%d,%d,%d) covers %d sampled pixels of the screenshot, want >= 1000: no video on the page", i, r, g, bl, n)
		}
	}
}

func near(c color.Color, r, g, b uint8, tol int) bool {
	cr, cg, cb, _ := c.RGBA()
	d := func(a uint32, b uint8) bool { v := int(a>>8) - int(b); return v >= -tol && v <= tol }
	return d(cr, r) && d(cg, g) && d(cb, b)
}
