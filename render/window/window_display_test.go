//go:build cgo && window

package window

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// These tests drive a real window on a real X server (Xvfb with Mesa's software GL
// under xvfb-run), take screenshots of it with ImageMagick's import, press its keys
// with xdotool, and compare what is on screen with the frames shown. Ebitengine runs
// one game per process on the main goroutine, so TestMain runs the window and the
// tests run beside it on one shared window; the last check, that Q quits, is made by
// TestMain itself.

var testWin *Window

const testW, testH = 640, 360

func TestMain(m *testing.M) {
	// Ebitengine opened the display while the program started (it panics without one),
	// so reaching here means there is a display.
	for _, tool := range []string{"import", "xdotool", "xwininfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "window tests need %s (apt-get install imagemagick xdotool x11-utils): %v\n", tool, err)
			os.Exit(1)
		}
	}
	w, err := New(Options{Title: "window-test", Width: testW, Height: testH})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testWin = w
	code := make(chan int, 1)
	runEnded := make(chan struct{})
	go func() {
		c := m.Run()
		if c == 0 {
			c = pressQuit(runEnded)
		}
		w.Close() // Run returns at once if Q did not end it
		code <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	runErr := w.Run(ctx)
	close(runEnded)
	c := <-code
	if c == 0 && !errors.Is(runErr, ErrQuit) {
		fmt.Fprintf(os.Stderr, "--- FAIL: TestMain: Run returned %v after Q, want ErrQuit\n", runErr)
		c = 1
	}
	w.Close()
	os.Exit(c)
}

// pressQuit presses Q in the window until Run ends, and lets TestMain check that Run
// returned ErrQuit.
func pressQuit(runEnded <-chan struct{}) int {
	for try := 0; try < 3; try++ {
		if err := key("q"); err != nil {
			fmt.Fprintln(os.Stderr, "pressing Q:", err)
			return 1
		}
		select {
		case <-runEnded:
			fmt.Println("pressed Q; Run should return ErrQuit")
			return 0
		case <-time.After(testrig.Patience / 3):
		}
	}
	fmt.Fprintln(os.Stderr, "--- FAIL: TestMain: the window stayed open after Q was pressed three times")
	return 1
}

// windowID finds the test window on the X server, waiting for it to appear.
func windowID() (string, error) {
	var id string
	err := testrig.Wait(testrig.Patience, func() error {
		out, err := exec.Command("xdotool", "search", "--name", "^HRVS").Output()
		if ids := strings.Fields(string(out)); err == nil && len(ids) > 0 {
			id = ids[0]
			return nil
		}
		return fmt.Errorf("no HRVS window on the display after %v (xdotool search: %v)", testrig.Patience, err)
	})
	return id, err
}

func key(k string) error {
	id, err := windowID()
	if err != nil {
		return err
	}
	if out, err := exec.Command("xdotool", "windowfocus", "--sync", id, "key", "--clearmodifiers", k).CombinedOutput(); err != nil {
		return fmt.Errorf("xdotool key %s: %v: %s", k, err, out)
	}
	return nil
}

// screenshot grabs the whole X screen.
func screenshot(t *testing.T) *image.RGBA {
	t.Helper()
	out, err := exec.Command("import", "-window", "root", "png:-").Output()
	if err != nil {
		t.Fatalf("import -window root: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	return testpic.RGBA(img)
}

// client is where the window's drawing area is on the screen.
func client() image.Rectangle {
	x, y := ebiten.WindowPosition()
	w, h := ebiten.WindowSize()
	if ebiten.IsFullscreen() {
		x, y = 0, 0
		w, h = ebiten.Monitor().Size()
	}
	return image.Rect(x, y, x+w, y+h)
}

// show hands f to the window and waits until it has been uploaded and presented.
func show(t *testing.T, f *receiver.Frame) {
	t.Helper()
	before := testWin.uploads.Load()
	if err := testWin.Show(f); err != nil {
		t.Fatal(err)
	}
	seq := f.Seq
	f.Release()
	testrig.Eventually(t, testrig.Patience, func() error {
		if testWin.uploads.Load() == before || testWin.lastSeq.Load() != seq {
			return fmt.Errorf("frame %d not uploaded (last uploaded %d)", seq, testWin.lastSeq.Load())
		}
		return nil
	})
}

// onScreen waits until the part of the screen at area() matches want with at least
// minPSNR dB, and returns that screenshot of the whole screen. An uploaded frame reaches
// the X screen a few refreshes later, later still on a busy machine, so a single
// screenshot could show the frame before: the test polls until the frame it compares is
// the one on screen, or fails after testrig.Patience with the last PSNR and the
// screenshot saved.
func onScreen(t *testing.T, area func(shot *image.RGBA) image.Rectangle, want image.Image, minPSNR float64) *image.RGBA {
	t.Helper()
	var shot *image.RGBA
	var p float64
	err := testrig.Wait(testrig.Patience, func() error {
		shot = screenshot(t)
		if p = testpic.PSNR(want, sub(shot, area(shot))); p < minPSNR {
			return fmt.Errorf("PSNR %.1f dB between the screen and the frame, want >= %.0f", p, minPSNR)
		}
		return nil
	})
	if err != nil {
		png.Encode(mustCreate(t, strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())+".png"), shot)
		t.Fatalf("after %v: %v", testrig.Patience, err)
	}
	t.Logf("PSNR %.1f dB", p)
	return shot
}

// inClient is the window's drawing area, for onScreen.
func inClient(*image.RGBA) image.Rectangle { return client() }

func setWindowSize(t *testing.T, w, h int) {
	t.Helper()
	ebiten.SetWindowSize(w, h)
	testrig.Eventually(t, testrig.Patience, func() error {
		if gw, gh := ebiten.WindowSize(); gw != w || gh != h {
			return fmt.Errorf("window is %dx%d, want %dx%d", gw, gh, w, h)
		}
		return nil
	})
}

func sub(img *image.RGBA, r image.Rectangle) *image.RGBA { return img.SubImage(r).(*image.RGBA) }

// modes runs f once with the shader and once with the CPU conversion.
func modes(t *testing.T, f func(t *testing.T)) {
	defer testWin.convert.Store(convertAuto)
	for _, m := range []struct {
		name string
		mode int32
	}{{"with the shader", convertShader}, {"with the CPU conversion", convertCPU}} {
		testWin.convert.Store(m.mode)
		t.Run(m.name, f)
	}
}

func TestWindowShowsFrames(t *testing.T) { modes(t, testShowsFrames) }

func testShowsFrames(t *testing.T) {
	setWindowSize(t, testW, testH)
	big := testpic.Picture(700, 400, image.YCbCrSubsampleRatio422, 5)
	cases := []struct {
		name    string
		img     *image.YCbCr
		minPSNR float64
	}{
		{"a 4:2:0 frame the size of the window is shown pixel for pixel", testpic.Picture(testW, testH, image.YCbCrSubsampleRatio420, 1), 40},
		{"a 4:2:2 sub-image at an odd offset, with rows longer than the picture, is shown pixel for pixel",
			big.SubImage(image.Rect(3, 5, 3+testW, 5+testH)).(*image.YCbCr), 40},
		{"a 4:4:4 frame whose chroma rows are not a multiple of 4 is shown pixel for pixel", testpic.Picture(testW, testH, image.YCbCrSubsampleRatio444, 3), 40},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			show(t, receiver.NewFrame(c.img, uint32(100+i)))
			onScreen(t, inClient, testpic.RGBA(c.img), c.minPSNR)
		})
	}
}

func TestWindowScalesWithAspectKept(t *testing.T) { modes(t, testScales) }

func testScales(t *testing.T) {
	setWindowSize(t, testW, testH)
	t.Run("a 1280x720 frame is shown at half size filling the window", func(t *testing.T) {
		img := testpic.Picture(1280, 720, image.YCbCrSubsampleRatio420, 7)
		show(t, receiver.NewFrame(img, 7))
		onScreen(t, inClient, testpic.Shrink(img, testW, testH), 30)
	})
	t.Run("a 4:3 frame gets black bars left and right", func(t *testing.T) {
		img := testpic.Picture(960, 720, image.YCbCrSubsampleRatio420, 8)
		show(t, receiver.NewFrame(img, 8))
		if r := fit(960, 720, testW, testH); r != image.Rect(80, 0, 560, 360) {
			t.Fatalf("fit = %v", r)
		}
		picture := func(*image.RGBA) image.Rectangle { return fit(960, 720, testW, testH).Add(client().Min) }
		shot := onScreen(t, picture, testpic.Shrink(img, 480, 360), 28)
		c := client().Min
		r := picture(shot)
		for _, bar := range []image.Rectangle{image.Rect(c.X, c.Y, r.Min.X, r.Max.Y), image.Rect(r.Max.X, c.Y, c.X+testW, r.Max.Y)} {
			for y := bar.Min.Y; y < bar.Max.Y; y += 7 {
				for x := bar.Min.X; x < bar.Max.X; x += 7 {
					if px := shot.RGBAAt(x, y); px.R > 8 || px.G > 8 || px.B > 8 {
						t.Fatalf("bar pixel at %d,%d is %v, want black", x-c.X, y-c.Y, px)
					}
				}
			}
		}
	})
}

func TestWindowKeys(t *testing.T) {
	setWindowSize(t, testW, testH)
	img := testpic.Picture(testW, testH, image.YCbCrSubsampleRatio420, 9)
	t.Run("S shows the stats overlay over the video and S hides it", func(t *testing.T) {
		show(t, receiver.NewFrame(img, 9))
		box := image.Rect(0, 0, 200, 40).Add(client().Min)
		before := sub(onScreen(t, inClient, testpic.RGBA(img), 40), box)
		toggle(t, "s", true)
		// A loaded machine (the race detector, parallel packages) may take a while
		// to present the change: look until it shows, or give up after 10 s.
		eventually(t, "the overlay to appear after S", func() (bool, string) {
			full := screenshot(t)
			saveArtifact(t, "window-overlay.png", sub(full, client()))
			p := testpic.PSNR(before, sub(full, box))
			return p <= 20, fmt.Sprintf("the top-left corner hardly changed (PSNR %.1f dB)", p)
		})
		toggle(t, "s", false)
		eventually(t, "the overlay to go after a second S", func() (bool, string) {
			p := testpic.PSNR(before, sub(screenshot(t), box))
			return p >= 40, fmt.Sprintf("the corner differs from the video (PSNR %.1f dB)", p)
		})
	})
	t.Run("F makes the window fullscreen with the video scaled to the screen, and F again restores it", func(t *testing.T) {
		press(t, "f", "fullscreen", ebiten.IsFullscreen)
		show(t, receiver.NewFrame(img, 10))
		first := screenshot(t)
		sw, sh := first.Rect.Dx(), first.Rect.Dy()
		r := fit(testW, testH, sw, sh)
		shot := onScreen(t, func(*image.RGBA) image.Rectangle { return r }, scaleUp(testpic.RGBA(img), r.Dx(), r.Dy()), 25)
		saveArtifact(t, "window-fullscreen.png", shot)
		t.Logf("fullscreen %dx%d, picture at %v", sw, sh, r)
		press(t, "f", "windowed", func() bool { return !ebiten.IsFullscreen() })
	})
}

func TestWindowTitleNamesTheSender(t *testing.T) {
	f := receiver.NewFrame(testpic.Picture(testW, testH, image.YCbCrSubsampleRatio420, 11), 11)
	f.Sender = "192.0.2.7:5000"
	show(t, f)
	waitFor(t, "the title to name the sender", func() bool {
		out, _ := exec.Command("xwininfo", "-root", "-tree").Output()
		return strings.Contains(string(out), "HRVS: video from 192.0.2.7:5000")
	})
}

// TestWindowColourConversionCost shows 1080p frames through the shader and through
// the CPU conversion it replaces, and reports the process CPU time per frame of each
// (with Mesa's software GL the GPU's work is CPU time too) and the upload time in Draw.
func TestWindowColourConversionCost(t *testing.T) {
	setWindowSize(t, testW, testH)
	frames := [2]*image.YCbCr{
		testpic.Picture(1920, 1080, image.YCbCrSubsampleRatio420, 1),
		testpic.Picture(1920, 1080, image.YCbCrSubsampleRatio420, 2),
	}
	const n = 16 // enough for a per-frame figure; each 1080p frame costs seconds under -race
	defer testWin.convert.Store(convertAuto)
	for _, mode := range []int32{convertShader, convertCPU} {
		name := map[int32]string{convertShader: "shader", convertCPU: "CPU"}[mode]
		testWin.convert.Store(mode)
		show(t, receiver.NewFrame(frames[0], 1000))
		testWin.uploadTime.Store(0)
		u0 := cpuTime()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			show1080(t, receiver.NewFrame(frames[i%2], uint32(2000+i)))
		}
		wall := time.Since(t0)
		used := cpuTime() - u0
		t.Logf("%s conversion of 1920x1080 4:2:0: %.1f ms in Draw's upload, %.1f ms process CPU per frame (%d frames in %v)",
			name, float64(testWin.uploadTime.Load())/n/1e6, float64(used)/n/1e6, n, wall.Round(time.Millisecond))
		want := testpic.Shrink(frames[(n-1)%2], testW, testH)
		eventually(t, name+" path to show the last frame", func() (bool, string) {
			p := testpic.PSNR(want, sub(screenshot(t), client()))
			return p >= 30, fmt.Sprintf("PSNR %.1f dB, want >= 30", p)
		})
	}
}

// eventually polls cond until it holds, failing with its last message after
// testrig.Patience.
// toggle presses k until the window's overlay is on (or off): under load Ebitengine
// can miss a key pressed and released within one of its ticks, so a press that did
// not take is repeated; one that did is never repeated, so the toggle cannot undo itself.
func toggle(t *testing.T, k string, on bool) {
	t.Helper()
	press(t, k, fmt.Sprintf("the overlay %v", on), func() bool { return testWin.overlay.Load() == on })
}

// press presses key k until cond holds (what names it), looking for two seconds after
// each press: xdotool's press and release are 12 ms apart, and a window busy with a
// change of mode (fullscreen under the race detector) may run no update between
// them and never see the key, where a person's press lasts a tenth of a second.
func press(t *testing.T, k, what string, cond func() bool) {
	t.Helper()
	testrig.Eventually(t, testrig.Patience, func() error {
		if cond() {
			return nil
		}
		if err := key(k); err != nil {
			return err
		}
		for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
			if cond() {
				return nil
			}
		}
		return fmt.Errorf("not %s after pressing %s", what, k)
	})
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testrig.Eventually(t, testrig.Patience, func() error {
		if ok, msg := cond(); !ok {
			return fmt.Errorf("waiting for %s: %s", what, msg)
		}
		return nil
	})
}

// show1080 is show without the settling pause.
func show1080(t *testing.T, f *receiver.Frame) {
	before := testWin.uploads.Load()
	testWin.Show(f)
	f.Release()
	testrig.Eventually(t, testrig.Patience, func() error {
		if testWin.uploads.Load() == before {
			return errors.New("frame not uploaded")
		}
		return nil
	})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testrig.Eventually(t, testrig.Patience, func() error {
		if !cond() {
			return fmt.Errorf("waiting for %s", what)
		}
		return nil
	})
}

// scaleUp enlarges img bilinearly to w x h, the reference for a picture shown larger.
func scaleUp(img *image.RGBA, w, h int) *image.RGBA {
	sw, sh := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		fy := (float64(y)+0.5)*float64(sh)/float64(h) - 0.5
		for x := 0; x < w; x++ {
			fx := (float64(x)+0.5)*float64(sw)/float64(w) - 0.5
			var c [3]float64
			x0, y0 := int(fx), int(fy)
			if fx < 0 {
				x0 = -1
			}
			if fy < 0 {
				y0 = -1
			}
			ax, ay := fx-float64(x0), fy-float64(y0)
			for _, s := range [4]struct {
				dx, dy int
				wt     float64
			}{{0, 0, (1 - ax) * (1 - ay)}, {1, 0, ax * (1 - ay)}, {0, 1, (1 - ax) * ay}, {1, 1, ax * ay}} {
				px := img.RGBAAt(min(max(x0+s.dx, 0), sw-1), min(max(y0+s.dy, 0), sh-1))
				c[0] += s.wt * float64(px.R)
				c[1] += s.wt * float64(px.G)
				c[2] += s.wt * float64(px.B)
			}
			out.SetRGBA(x, y, color.RGBA{uint8(c[0] + 0.5), uint8(c[1] + 0.5), uint8(c[2] + 0.5), 255})
		}
	}
	return out
}

// saveArtifact keeps a screenshot for a person to look at when HRVS_TEST_ARTIFACTS
// names a directory.
func saveArtifact(t *testing.T, name string, img image.Image) {
	if os.Getenv("HRVS_TEST_ARTIFACTS") != "" {
		png.Encode(mustCreate(t, name), img)
	}
}

func mustCreate(t *testing.T, name string) *os.File {
	dir := os.Getenv("HRVS_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	f, err := os.Create(dir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	t.Logf("screenshot saved to %s", f.Name())
	return f
}

func TestWindowPicksTheCPUConversionOnSoftwareGL(t *testing.T) {
	testWin.convert.Store(convertAuto)
	show(t, receiver.NewFrame(testpic.Picture(testW, testH, image.YCbCrSubsampleRatio420, 12), 12))
	want := convertShader
	if softwareGL() {
		want = convertCPU
	}
	if got := testWin.convert.Load(); got != want {
		t.Fatalf("conversion %d, want %d (software GL %v)", got, want, softwareGL())
	}
	t.Logf("software GL: %v", softwareGL())
	testWin.convert.Store(convertAuto)
}
