//go:build cgo && window

package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// TestMain lets the test binary stand in for hrvs itself: the window must run on a
// process's main thread, so the end-to-end test starts this binary as `hrvs recv`.
func TestMain(m *testing.M) {
	if os.Getenv("HRVS_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestStreamToTheWindow streams a still picture through the whole pipeline into a
// real window under Xvfb and compares a screenshot of the window with the picture.
func TestStreamToTheWindow(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("needs a display: run under xvfb-run (./build.sh test does)")
	}
	const w, h = 1280, 720
	dir := t.TempDir()
	clip := filepath.Join(dir, "still.y4m")
	ref := writeStill(t, clip, w, h, 23)

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rx := exec.CommandContext(ctx, os.Args[0], "recv", "--listen", addr, "--sink", "window", "--duration", "40s")
	rx.Env = append(os.Environ(), "HRVS_TEST_AS_MAIN=1")
	var rxLog bytes.Buffer
	rx.Stdout, rx.Stderr = &rxLog, &rxLog
	if err := rx.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		rx.Process.Kill()
		rx.Wait()
		if t.Failed() {
			t.Logf("receiver log:\n%s", rxLog.String())
		}
	}()
	src, err := capture.Open(ctx, clip, capture.Options{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tx, err := sender.New(sender.Config{To: addr, Quality: 90, MinQuality: 90, FrameSpan: -1, NewEncoder: func() tile.Encoder { return &tile.FastEncoder{} }})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- tx.Run(sctx, src, 0) }()
	defer func() { stop(); <-sent }()

	var best float64
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && best < 30 {
		time.Sleep(time.Second)
		win, err := windowRect()
		if err != nil {
			continue
		}
		shot := screenshot(t)
		got := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(got, got.Rect, shot, win.Min, draw.Src)
		if win.Dx() != w || win.Dy() != h {
			t.Fatalf("window is %v, want %dx%d for a 1:1 comparison", win, w, h)
		}
		best = max(best, rgbPSNR(got, ref))
	}
	if best < 30 {
		t.Fatalf("screenshot of the window vs the sent picture: %.1f dB, want >= 30", best)
	}
	t.Logf("window shows the sent picture at %.1f dB", best)
}

// writeStill writes frames copies of pattern frame 0 as a Y4M clip and returns the
// picture in RGB.
func writeStill(t *testing.T, path string, w, h, frames int) *image.RGBA {
	p, err := capture.NewPattern(w, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	p.Draw(img, 0)
	var b bytes.Buffer
	fmt.Fprintf(&b, "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg XCOLORRANGE=FULL\n", w, h) // the pattern's levels are full range
	for i := 0; i < frames; i++ {
		b.WriteString("FRAME\n")
		b.Write(img.Y)
		b.Write(img.Cb)
		b.Write(img.Cr)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rgb := image.NewRGBA(img.Rect)
	draw.Draw(rgb, rgb.Rect, img, image.Point{}, draw.Src)
	return rgb
}

// windowRect finds the HRVS window's drawing area on the screen.
func windowRect() (image.Rectangle, error) {
	id, err := exec.Command("xdotool", "search", "--name", "^HRVS").Output()
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("no HRVS window: %v", err)
	}
	first := strings.Fields(string(id))[0]
	info, err := exec.Command("xwininfo", "-id", first).Output()
	if err != nil {
		return image.Rectangle{}, err
	}
	num := func(label string) int {
		m := regexp.MustCompile(label + `:\s+(-?\d+)`).FindSubmatch(info)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	x, y := num("Absolute upper-left X"), num("Absolute upper-left Y")
	return image.Rect(x, y, x+num("Width"), y+num("Height")), nil
}

func screenshot(t *testing.T) image.Image {
	out, err := exec.Command("import", "-window", "root", "png:-").Output()
	if err != nil {
		t.Fatalf("import -window root: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func rgbPSNR(a, b *image.RGBA) float64 {
	var sum float64
	for i := 0; i < len(a.Pix); i += 4 {
		for c := 0; c < 3; c++ {
			d := float64(a.Pix[i+c]) - float64(b.Pix[i+c])
			sum += d * d
		}
	}
	mse := sum / float64(len(a.Pix)/4*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}
