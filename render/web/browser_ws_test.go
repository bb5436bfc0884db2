package web

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// showsFrames waits until the tile page in tb has drawn at least n frames.
func showsFrames(t *testing.T, ctx context.Context, tb *tab, n int) pageFigures {
	t.Helper()
	var f pageFigures
	testrig.Eventually(t, testrig.Patience, func() (err error) {
		if f, err = tb.figures(ctx); err != nil {
			return err
		}
		if f.Frames < n {
			return fmt.Errorf("the page drew %d frames, want %d: %+v", f.Frames, n, f)
		}
		return nil
	})
	return f
}

// canvasRect is where the page's canvas is, in CSS pixels.
func canvasRect(ctx context.Context, tb *tab) (image.Rectangle, error) {
	var r struct{ X, Y, W, H float64 }
	err := tb.eval(ctx, `(b => ({X: b.x, Y: b.y, W: b.width, H: b.height}))(document.getElementById('video').getBoundingClientRect())`, &r)
	return image.Rect(int(r.X), int(r.Y), int(r.X+r.W), int(r.Y+r.H)), err
}

func TestChromiumDrawsTheTilesOnACanvas(t *testing.T) {
	s, url := start(t, Options{Title: ":5000"})
	ctx := patient(t)
	pic := testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 3)
	_, stop := showing(s, 30, pic)
	defer stop()
	tb := launchChromium(t).open(t, url+"/")
	f := showsFrames(t, ctx, tb, 3)
	if f.Tiles < 9 || f.Errors != 0 {
		t.Fatalf("the page drew %d tiles with %d errors, want the 9 of the picture and none", f.Tiles, f.Errors)
	}
	r, err := canvasRect(ctx, tb)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dx() != 640 || r.Dy() != 360 {
		t.Fatalf("the canvas is %v on the page, want 640x360 shown at its own size", r)
	}
	shot, err := tb.screenshot(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if dst := os.Getenv("HRVS_TEST_ARTIFACTS"); dst != "" {
		if fh, err := os.Create(filepath.Join(dst, "chromium-tiles.png")); err == nil {
			png.Encode(fh, shot)
			fh.Close()
		}
	}
	p := testpic.PSNR(testpic.RGBA(pic), shot)
	t.Logf("the canvas in Chromium's screenshot is %.1f dB from the source (JPEG q%d tiles)", p, defaultQuality)
	if p < 30 {
		t.Fatalf("the canvas is %.1f dB from the source, want >= 30: the tiles are not drawn where they belong", p)
	}
	// The overlay is redrawn on its own clock (about once a second): wait for it.
	testrig.Eventually(t, testrig.Patience, func() error {
		var overlay string
		if err := tb.eval(ctx, `document.getElementById('overlay').textContent`, &overlay); err != nil {
			return err
		}
		var w, h, fps int
		if _, err := fmt.Sscanf(overlay, "%dx%d %d fps", &w, &h, &fps); err != nil || w != 640 || h != 360 {
			return fmt.Errorf("overlay %q: want the size, fps, latency and loss", overlay)
		}
		return nil
	})
}

// Both views of the same static scene in one browser over the same seconds: the tile
// view sends the picture once and then only frame messages; MJPEG sends it every frame.
func TestAStaticSceneCostsTheTileViewAFractionOfMJPEG(t *testing.T) {
	s, url := start(t, Options{})
	ctx := patient(t)
	_, stop := showing(s, 30, testpic.Picture(1280, 720, image.YCbCrSubsampleRatio420, 0))
	defer stop()
	br := launchChromium(t)
	tiles := br.open(t, url+"/")
	br.open(t, url+"/mjpeg")
	showsFrames(t, ctx, tiles, 1)
	testrig.Eventually(t, testrig.Patience, func() error {
		if s.Stats().JPEGsServed == 0 {
			return fmt.Errorf("the MJPEG page has no picture yet")
		}
		return nil
	})
	const window = 5 * time.Second
	start := time.Now()
	a := s.Stats()
	time.Sleep(window) // the measurement window itself, not a wait for something
	b := s.Stats()
	f, err := tiles.figures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Stats()
	took := time.Since(start)
	// From the start: the tile view's whole first picture counts against it.
	ws, mjpeg := b.WSBytes, b.MJPEGBytes
	t.Logf("static 1280x720 at 30 fps, %v after both showed: tile view %d bytes (%d in the window, %d frames drawn), MJPEG %d bytes (%d in the window, %d pictures); tile view / MJPEG = %.2f%%",
		took.Round(time.Millisecond), ws, b.WSBytes-a.WSBytes, f.Frames, mjpeg, b.MJPEGBytes-a.MJPEGBytes, b.JPEGsServed, 100*float64(ws)/float64(mjpeg))
	// What the page counted lies between what the server had sent at the start of the
	// window and what it had sent once the page was asked.
	if f.Bytes < int64(a.WSBytes) || f.Bytes > int64(c.WSBytes) {
		t.Errorf("the page counted %d bytes of messages, the server sent %d to %d meanwhile", f.Bytes, a.WSBytes, c.WSBytes)
	}
	if b.MJPEGBytes-a.MJPEGBytes == 0 || f.Frames < 10 {
		t.Fatalf("the views did not run: MJPEG %d bytes in the window, tile page %d frames", b.MJPEGBytes-a.MJPEGBytes, f.Frames)
	}
	if ws*10 >= mjpeg {
		t.Fatalf("the tile view cost %d bytes, MJPEG %d: want under 10%%", ws, mjpeg)
	}
}

// With its CPU slowed 20 times by DevTools the page draws about a frame a second, but
// each is the newest when it asks: its latency stays about one batch's decoding, and
// the frames in between are skipped. A page that queued every frame would draw 1 of 30
// and, 15 s in, show a frame ~14 s old.
func TestAThrottledChromiumStaysOnTheNewestFrame(t *testing.T) {
	s, url := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*testrig.Patience) // a throttled page answers slowly
	defer cancel()
	// Every tile changes every frame: each batch is a whole picture.
	a := testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 0)
	b := testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 0)
	for _, p := range [][]byte{b.Y, b.Cb, b.Cr} {
		for i := range p {
			p[i] = 255 - p[i]
		}
	}
	newest, stop := showing(s, 30, a, b)
	defer stop()
	tb := launchChromium(t).open(t, url+"/")
	f0 := showsFrames(t, ctx, tb, 1)
	time.Sleep(2 * time.Second) // a measurement window at full speed, for comparison
	f1, err := tb.figures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unthrottled: %.1f frames drawn a second (whole 640x360 pictures), latency %.0f ms, %d frames skipped",
		float64(f1.Frames-f0.Frames)/2, f1.LatencyMs, f1.Skipped-f0.Skipped)
	if err := tb.call(ctx, "Emulation.setCPUThrottlingRate", map[string]any{"rate": 20}, nil); err != nil {
		t.Fatal(err)
	}
	first, err := tb.figures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Sample the page for 15 s: a page that queued would fall further behind each time.
	var worst float64
	var last pageFigures
	for i := 0; i < 30; i++ {
		time.Sleep(500 * time.Millisecond) // the sampling period
		f, err := tb.figures(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Frames > first.Frames+1 { // a frame asked for while throttled
			worst = max(worst, f.LatencyMs)
		}
		t.Logf("%5.1f s: drew frame %d of %d shown, %d fps, latency %.0f ms, %d frames skipped", float64(i+1)/2, f.Seq, newest(), f.FPS, f.LatencyMs, f.Skipped)
		last = f
	}
	drawn := last.Frames - first.Frames
	if drawn < 3 {
		t.Fatalf("the throttled page drew %d frames in 15 s", drawn)
	}
	if last.Skipped <= first.Skipped {
		t.Fatalf("the throttled page skipped no frames: it kept up at full rate, so this test throttled nothing")
	}
	if worst > 6000 {
		t.Fatalf("the throttled page drew a frame %.0f ms after capture: it is queueing, not jumping to the newest", worst)
	}
	t.Logf("throttled 20x: %d frames drawn in 15 s, %d skipped, worst latency %.0f ms", drawn, last.Skipped-first.Skipped, worst)
}

// A keyed receiver's view: the page opened with ?token= sets the cookie that its
// WebSocket then carries.
func TestChromiumOpensTheTileViewWithTheToken(t *testing.T) {
	s, url := start(t, Options{Token: "s3cret"})
	ctx := patient(t)
	_, stop := showing(s, 30, testpic.Picture(320, 240, image.YCbCrSubsampleRatio420, 0))
	defer stop()
	f := showsFrames(t, ctx, launchChromium(t).open(t, url+"/?token=s3cret"), 3)
	if f.Tiles < 4 || f.Errors != 0 {
		t.Fatalf("the page drew %d tiles with %d errors", f.Tiles, f.Errors)
	}
	if n := s.Stats().Unauthorized; n != 0 {
		t.Fatalf("%d of the page's requests were refused", n)
	}
}
