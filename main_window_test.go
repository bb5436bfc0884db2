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

// TestHeadlessProgramHandsTheWindowOver checks the pair build.sh makes on a machine with
// the X11 headers: bin/hrvs, built without the window, runs send and version with no
// display at all, while bin/hrvs-window (this test binary stands in for it) cannot even
// start without one; and bin/hrvs recv becomes bin/hrvs-window, in the same process,
// when it is to open the window.
func TestHeadlessProgramHandsTheWindowOver(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("needs a display: run under xvfb-run (./build.sh test does)")
	}
	dir := t.TempDir()
	hrvs := filepath.Join(dir, "hrvs")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-X main.version=handover-test", "-o", hrvs, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build (without the window): %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, windowProgram)); err != nil {
		t.Fatal(err)
	}
	// HRVS_TEST_AS_MAIN makes this test binary, as hrvs-window, run the command line.
	withDisplay := append(os.Environ(), "HRVS_TEST_AS_MAIN=1")
	var noDisplay []string
	for _, kv := range withDisplay {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") {
			noDisplay = append(noDisplay, kv)
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	for _, tc := range []struct {
		name     string
		prog     string
		args     []string
		wantCode int
		want     string // in the combined output
	}{
		{"hrvs version runs without a display", "hrvs", []string{"version"}, 0, "hrvs handover-test"},
		{"hrvs send runs without a display", "hrvs", []string{"send", "--to", pc.LocalAddr().String(), "--duration", "1s"}, 0, "sending"},
		{"hrvs recv --sink window without a display says it needs one", "hrvs", []string{"recv", "--listen", "127.0.0.1:0", "--sink", "window"}, 1, "needs a display"},
		{"the window program alone cannot start without a display", windowProgram, []string{"version"}, -1, "DISPLAY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, filepath.Join(dir, tc.prog), tc.args...)
			cmd.Env = noDisplay
			out, err := cmd.CombinedOutput()
			code := cmd.ProcessState.ExitCode()
			if err != nil && code == 0 {
				t.Fatalf("%v", err)
			}
			if tc.wantCode >= 0 && code != tc.wantCode || tc.wantCode < 0 && code == 0 {
				t.Fatalf("exit status %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
	t.Run("hrvs send's datagrams arrived", func(t *testing.T) {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 65536)
		if n, _, err := pc.ReadFrom(buf); err != nil || n == 0 {
			t.Fatalf("no datagram from hrvs send: %v", err)
		}
	})

	t.Run("hrvs recv with a display becomes the window program and opens the window", func(t *testing.T) {
		addr := pc.LocalAddr().String()
		pc.Close() // free the port for the receiver
		cmd := exec.CommandContext(ctx, hrvs, "recv", "--listen", addr, "--duration", "60s")
		cmd.Env = withDisplay
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("hrvs recv's log:\n%s", log.String())
			}
		}()
		title := "waiting for video on hrvs recv on " + addr
		var id string
		for deadline := time.Now().Add(60 * time.Second); id == "" && time.Now().Before(deadline); {
			out, _ := exec.Command("xdotool", "search", "--name", regexp.QuoteMeta(title)).Output()
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				id = ids[0]
			} else {
				time.Sleep(200 * time.Millisecond) // polling the X server, not waiting for luck
			}
		}
		if id == "" {
			t.Fatalf("no window titled %q within 60 s", title)
		}
		out, err := exec.Command("xdotool", "getwindowpid", id).Output()
		if err != nil {
			t.Fatalf("xdotool getwindowpid %s: %v", id, err)
		}
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(out))); pid != cmd.Process.Pid {
			t.Fatalf("the window belongs to process %d, want hrvs recv's own %d (execve, not a child)", pid, cmd.Process.Pid)
		}
	})
}
