package camvm

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
)

// modRoot is the hrvs module's root, where the guest's binaries are built from.
func modRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(strings.TrimSpace(string(out)), "/go.mod")
}

// boot builds the image and boots it; the guest's console goes into the log when
// the test fails.
func boot(t *testing.T) *VM {
	t.Helper()
	began := time.Now()
	img, err := Build(t.TempDir(), modRoot(t), BootModules)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image built in %v (kernel %s)", time.Since(began).Round(time.Millisecond), img.KernelVersion)
	began = time.Now()
	vm, err := Boot(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted in %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := vm.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("guest console:\n%s", vm.Console())
		}
	})
	return vm
}

// rx is a receiver on the host that the guest's hrvs sends to.
type rx struct {
	r      *receiver.Receiver
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startRx(t *testing.T) *rx {
	t.Helper()
	r, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 1, Deadline: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &rx{r: r, cancel: cancel}
	x.wg.Add(1)
	go func() { defer x.wg.Done(); r.Run(ctx) }()
	t.Cleanup(func() { x.cancel(); x.wg.Wait() })
	return x
}

// to is the receiver's address as the guest reaches it.
func (x *rx) to() string {
	_, port, _ := strings.Cut(x.r.Addr(), "127.0.0.1:")
	return "10.0.2.2:" + port
}

// frame waits for a settled picture that arrives after since: three whole frames
// in a row with the same pixels. A sender on a slow path spreads a frame's tiles
// over several frames, so one whole frame can still hold tiles not yet sent; the
// guest's sources are still pictures, so once every tile is there they agree.
func (x *rx) frame(timeout time.Duration, since time.Time) (*image.YCbCr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last *image.YCbCr
	same := 0
	for {
		f, err := x.r.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("no settled picture in %v: %w", timeout, err)
		}
		if !f.Complete() || !f.Ready.After(since) {
			f.Release()
			continue
		}
		img := copyYCbCr(f.Image)
		f.Release()
		if last != nil && img.Rect == last.Rect && bytes.Equal(img.Y, last.Y) {
			same++
		} else {
			same = 0
		}
		last = img
		if same == 2 {
			return img, nil
		}
	}
}

func copyYCbCr(m *image.YCbCr) *image.YCbCr {
	c := *m
	c.Y = append([]byte(nil), m.Y...)
	c.Cb = append([]byte(nil), m.Cb...)
	c.Cr = append([]byte(nil), m.Cr...)
	return &c
}

// barLevels is the mean luma of the middle of each of the 8 vertical bars.
func barLevels(m *image.YCbCr) [8]float64 {
	var out [8]float64
	w, h := m.Rect.Dx(), m.Rect.Dy()
	for b := range out {
		x0, x1 := b*w/8+w/32, (b+1)*w/8-w/32
		sum, n := 0, 0
		for y := h / 4; y < 3*h/4; y++ {
			for x := x0; x < x1; x++ {
				sum += int(m.Y[m.YOffset(m.Rect.Min.X+x, m.Rect.Min.Y+y)])
				n++
			}
		}
		out[b] = float64(sum) / float64(n)
	}
	return out
}

// barsFor is the luma of 75% colour bars under a Y'CbCr matrix ("601" or "709",
// Kr and Kb from BT.601 and BT.709), in full or limited range.
func barsFor(matrix string, full bool) (b [8]float64) {
	kr, kb := 0.299, 0.114
	if matrix == "709" {
		kr, kb = 0.2126, 0.0722
	}
	rgb := [8][3]float64{{1, 1, 1}, {1, 1, 0}, {0, 1, 1}, {0, 1, 0}, {1, 0, 1}, {1, 0, 0}, {0, 0, 1}, {0, 0, 0}}
	for i, c := range rgb {
		y := 191 * (kr*c[0] + (1-kr-kb)*c[1] + kb*c[2])
		if !full {
			y = 16 + y*219/255
		}
		b[i] = y
	}
	return b
}

// fullBars is the luma of 75% colour bars in full-range BT.601 (white, yellow,
// cyan, green, magenta, red, blue, black): Y' = 0.299 R + 0.587 G + 0.114 B with
// 75% of 255 = 191.
var fullBars = barsFor("601", true)

// checkBars asserts each bar's luma within ±3 of want. The frame is saved as a
// PNG in $HRVS_CAMVM_PNG (a directory), or in the temporary directory when a bar
// is off.
func checkBars(t *testing.T, img *image.YCbCr, want [8]float64) {
	t.Helper()
	got := barLevels(img)
	t.Logf("bars (white to black): %.1f", got)
	bad := false
	for i := range want {
		if d := got[i] - want[i]; d < -3 || d > 3 {
			t.Errorf("bar %d has luma %.1f, want %.1f ±3", i, got[i], want[i])
			bad = true
		}
	}
	dir := os.Getenv("HRVS_CAMVM_PNG")
	if dir == "" && bad {
		dir = os.TempDir()
	}
	if dir != "" {
		name := filepath.Join(dir, "camvm-"+strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, strings.ToLower(t.Name()))+".png")
		var b bytes.Buffer
		if err := png.Encode(&b, img); err == nil && os.WriteFile(name, b.Bytes(), 0o644) == nil {
			t.Logf("frame saved as %s", name)
		}
	}
}

// waitLog polls the log of the running hrvs send until it holds want.
func waitLog(t *testing.T, vm *VM, want string, timeout time.Duration) error {
	t.Helper()
	return waitOutput(vm, "send", want, timeout)
}

// waitOutput polls the output of the guest command started as id until it holds
// want.
func waitOutput(vm *VM, id, want string, timeout time.Duration) error {
	var r Result
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		var err error
		if r, err = vm.Peek(id); err != nil {
			return err
		}
		if strings.Contains(r.Stdout+r.Stderr, want) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no %q from %s after %v:\n%v", want, id, timeout, r)
}

const send = "/hrvs"

// nodes splits hrvs devices' output into one block per /dev/video node.
func nodes(out string) map[string]string {
	m := map[string]string{}
	for _, block := range strings.Split(out, "\n\n") {
		path, _, _ := strings.Cut(strings.TrimSpace(block), ":")
		m[path] = block
	}
	return m
}

// capture streams path from the guest to x until a whole frame arrives, then
// stops hrvs send and returns the frame and what hrvs logged.
func capture(t *testing.T, vm *VM, x *rx, path string, flags ...string) (*image.YCbCr, string) {
	t.Helper()
	stop := startSend(t, vm, x, path, flags...)
	img, err := x.frame(90*time.Second, time.Now())
	log := stop()
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	return img, log
}

// startSend starts hrvs send in the guest; stop ends it and returns its log.
func startSend(t *testing.T, vm *VM, x *rx, path string, flags ...string) (stop func() string) {
	t.Helper()
	args := append([]string{send, "send", "--source", path, "--quality", "95", "--min-quality", "95", "--change-threshold", "-1", "--to", x.to(), "--duration", "170s"}, flags...)
	if err := vm.Start("send", args...); err != nil {
		t.Fatal(err)
	}
	return func() string {
		r, err := vm.Stop("send", 30*time.Second)
		if err != nil {
			t.Errorf("stopping hrvs send: %v\n%v", err, r)
		}
		return r.Stderr
	}
}

// startFeed starts the MJPEG producer on v4l2loopback's /dev/video10 (640x480 at
// 15 fps) until the test ends, and waits until hrvs devices lists the node as a
// capture node offering it: with exclusive_caps it turns into one once fed.
func startFeed(t *testing.T, vm *VM, flags ...string) {
	t.Helper()
	if err := vm.Start("feed", append(append([]string{"/agent", "feed"}, flags...), "/dev/video10", "640x480", "15")...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Stop("feed", 10*time.Second) })
	// Opening the node while the producer sets its format can make
	// v4l2loopback refuse the format: list it only once frames flow.
	if err := waitOutput(vm, "feed", "feeding", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var node string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r, err := vm.Run(time.Minute, send, "devices")
		if err != nil {
			t.Fatal(err)
		}
		if node = nodes(r.Stdout)["/dev/video10"]; strings.Contains(node, "MJPG  Motion-JPEG, compressed\n    640x480") {
			return
		}
	}
	r, _ := vm.Peek("feed")
	t.Fatalf("/dev/video10 does not offer MJPEG 640x480 while fed:\n%s\nthe producer: %v", node, r)
}

// logValue finds key=value (or key="value") in hrvs's log; the last one wins.
func logValue(log, key string) string {
	re := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(key) + `=("(?:[^"\\]|\\.)*"|\S*)`)
	m := re.FindAllStringSubmatch(log, -1)
	if m == nil {
		return ""
	}
	v := m[len(m)-1][1]
	if u, err := strconv.Unquote(v); err == nil {
		return u
	}
	return v
}

func logInt(t *testing.T, log, key string) int {
	t.Helper()
	n, err := strconv.Atoi(logValue(log, key))
	if err != nil {
		t.Fatalf("no %s= in the log:\n%s", key, log)
	}
	return n
}

// TestRealDrivers runs hrvs on real V4L2 drivers: Debian's kernel boots under
// QEMU (pure emulation) with vivid (/dev/video0 capture, video1-3 output and
// metadata) and v4l2loopback (/dev/video10, fed MJPEG by the guest agent), the
// guest's hrvs sends to a receiver in this process, and each check asserts what
// arrived and what hrvs logged. One boot serves all checks; they run in order, as
// some leave vivid in a state the next expects (its controls persist). About a
// minute on an idle 2-core machine, two with both cores busy.
func TestRealDrivers(t *testing.T) {
	began := time.Now()
	vm := boot(t)
	t.Cleanup(func() { t.Logf("real-driver checks took %v", time.Since(began).Round(time.Second)) })
	sh := func(t *testing.T, line string) Result {
		t.Helper()
		r, err := vm.Sh(2*time.Minute, line)
		if err != nil {
			t.Fatalf("%s: %v\n%v", line, err, r)
		}
		return r
	}

	t.Run("hrvs devices lists exactly the capture nodes with their formats", func(t *testing.T) {
		r := sh(t, send+" devices")
		n := nodes(r.Stdout)
		cap0 := n["/dev/video0"]
		for _, want := range []string{"/dev/video0: vivid", "YUYV  YUYV 4:2:2\n    320x180", "640x480  25, 15, 12.5, 10, 5, 4, 2, 1 fps", "brightness (int) 0 to 255, default 128"} {
			if !strings.Contains(cap0, want) {
				t.Errorf("/dev/video0 lacks %q:\n%s", want, cap0)
			}
		}
		for _, p := range []string{"/dev/video1", "/dev/video2", "/dev/video3", "/dev/video10"} {
			if !strings.Contains(n[p], "not a video capture node") {
				t.Errorf("%s is not refused:\n%s", p, n[p])
			}
		}
		if len(n) != 5 {
			t.Errorf("%d nodes listed, want 5:\n%s", len(n), r.Stdout)
		}
	})

	t.Run("a metadata node named explicitly is refused as not a video capture node", func(t *testing.T) {
		r := sh(t, send+" send --source /dev/video2 --to 10.0.2.2:9 --frames 1")
		if r.Code != 2 || !strings.Contains(r.Stderr, "/dev/video2: not a video capture node") {
			t.Fatalf("%v", r)
		}
	})

	t.Run("unknown controls and out-of-range values are refused with what exists", func(t *testing.T) {
		for _, tc := range []struct{ ctrl, want string }{
			{"zoom_absolute=3", "--ctrl zoom_absolute: the camera has no such control (it has alpha_component, apply_alpha_to_red_only, boolean, brightness,"},
			{"brightness=300", "--ctrl brightness=300: out of range: want 0 to 255"},
			{"osd_text_mode=7", "not one of 0 (all), 1 (counters_only), 2 (none)"},
		} {
			r := sh(t, send+" send --source /dev/video0 --to 10.0.2.2:9 --frames 1 --ctrl "+tc.ctrl)
			if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("--ctrl %s: want exit 2 and %q, got %v", tc.ctrl, tc.want, r)
			}
		}
	})

	t.Run("YUYV arrives with vivid's bars at their levels", func(t *testing.T) {
		x := startRx(t)
		img, log := capture(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "640x480", "--fps", "15", "--ctrl", "osd_text_mode=2")
		if got := logValue(log, "got"); got != "YUYV 640x480 @ 15 fps" {
			t.Errorf("negotiated %q, want YUYV 640x480 @ 15 fps\n%s", got, log)
		}
		if got := logValue(log, "colour"); got != "limited range BT.601" {
			t.Errorf("colour %q, want limited range BT.601", got)
		}
		// Limited range as vivid makes it (75% white 180, black 16) arrives as the
		// full range the JPEG tiles declare.
		checkBars(t, img, fullBars)
		if n := logInt(t, log, "frames"); n < 1 || logInt(t, log, "delivered") < n {
			t.Errorf("camera stats do not add up:\n%s", log)
		}
	})

	t.Run("the nearest size and rate are taken when the asked ones are not offered", func(t *testing.T) {
		x := startRx(t)
		img, log := capture(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "800x600", "--fps", "30", "--ctrl", "osd_text_mode=2")
		if got := logValue(log, "got"); got != "YUYV 640x480 @ 25 fps" {
			t.Errorf("negotiated %q, want YUYV 640x480 @ 25 fps\n%s", got, log)
		}
		if img.Rect.Dx() != 640 || img.Rect.Dy() != 480 {
			t.Errorf("received %v, want 640x480", img.Rect)
		}
	})

	t.Run("MJPEG from v4l2loopback arrives with the producer's bars", func(t *testing.T) {
		startFeed(t, vm, "-corrupt", "4")
		x := startRx(t)
		// --mjpeg decode: the camera source decodes, and counts the frames it cannot.
		stop := startSend(t, vm, x, "/dev/video10", "--format", "mjpeg", "--size", "640x480", "--fps", "15", "--mjpeg", "decode")
		img, err := x.frame(90*time.Second, time.Now())
		if err == nil {
			err = waitLog(t, vm, "skipping a bad camera frame", 60*time.Second)
		}
		log := stop()
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if got := logValue(log, "got"); !strings.HasPrefix(got, "MJPG 640x480") {
			t.Errorf("negotiated %q, want MJPG 640x480\n%s", got, log)
		}
		checkBars(t, img, fullBars)
		if logInt(t, log, "dropped_corrupt") < 1 {
			t.Errorf("a frame cut short was skipped, yet not counted:\n%s", log)
		}
	})

	t.Run("MJPEG without Huffman tables, as UVC cameras send it, arrives with the producer's bars", func(t *testing.T) {
		startFeed(t, vm, "-no-dht")
		x := startRx(t)
		img, log := capture(t, vm, x, "/dev/video10", "--format", "mjpeg", "--size", "640x480", "--fps", "15", "--mjpeg", "decode")
		checkBars(t, img, fullBars)
		if n := logInt(t, log, "dropped_corrupt"); n != 0 {
			t.Errorf("%d frames without tables dropped as corrupt:\n%s", n, log)
		}
	})

	t.Run("MJPEG re-tiled from the camera's own JPEG, its tables in-band, arrives with the producer's bars", func(t *testing.T) {
		startFeed(t, vm, "-no-dht")
		x := startRx(t)
		stop := startSend(t, vm, x, "/dev/video10", "--format", "mjpeg", "--size", "640x480", "--fps", "15", "--mjpeg", "retile")
		img, err := x.frame(90*time.Second, time.Now())
		if err == nil { // the stats line comes once a second
			err = waitLog(t, vm, "mjpeg retile", 60*time.Second)
		}
		log := stop()
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		checkBars(t, img, fullBars)
		m := regexp.MustCompile(`mjpeg retile: (\d+) re-tiled(?: \([^)]*\))?, (\d+) decoded`).FindAllStringSubmatch(log, -1)
		if m == nil {
			t.Fatalf("the stats line never said the frames were re-tiled:\n%s", log)
		}
		if last := m[len(m)-1]; last[1] == "0" || last[2] != "0" {
			t.Errorf("%s frames re-tiled, %s fell back to decoding:\n%s", last[1], last[2], log)
		}
		if st := x.r.Stats(); st.TablesMissing != 0 || st.DecodeErrors != 0 {
			t.Errorf("receiver: %d tiles without their table set, %d decode errors", st.TablesMissing, st.DecodeErrors)
		}
	})

	for _, tc := range []struct {
		name, ctrl, colour string
		raw                [8]float64 // as the driver makes them, before conversion
	}{
		{"full range", "quantization=full_range", "full range BT.601", barsFor("601", true)},
		{"Rec.709", "y_cbcr_encoding=rec_709", "limited range BT.709", barsFor("709", false)},
	} {
		t.Run("YUYV set to "+tc.name+" arrives at the same levels", func(t *testing.T) {
			defer sh(t, "/agent ctrl /dev/video0 quantization=default y_cbcr_encoding=default")
			x := startRx(t)
			img, log := capture(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "640x480", "--fps", "15", "--ctrl", "osd_text_mode=2,"+tc.ctrl)
			if got := logValue(log, "colour"); got != tc.colour {
				t.Errorf("colour %q, want %q", got, tc.colour)
			}
			t.Logf("the driver made %.1f", tc.raw)
			checkBars(t, img, fullBars)
		})
	}

	t.Run("a bad buffer and frames the driver dropped are counted", func(t *testing.T) {
		x := startRx(t)
		stop := startSend(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "320x180", "--fps", "30",
			"--ctrl", "osd_text_mode=2,percentage_of_dropped_buffers=50")
		_, err := x.frame(90*time.Second, time.Now())
		if err == nil {
			sh(t, "/agent ctrl /dev/video0 inject_v4l2_buf_flag_error=1")
			_, err = x.frame(60*time.Second, time.Now().Add(time.Second))
		}
		sh(t, "/agent ctrl /dev/video0 percentage_of_dropped_buffers=0")
		log := stop()
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if logInt(t, log, "dropped_error") < 1 || logInt(t, log, "sequence_gaps") < 1 {
			t.Errorf("want a buffer dropped as bad and sequence gaps counted:\n%s", log)
		}
	})

	t.Run("a camera that is unplugged and plugged back streams again within 2 s", func(t *testing.T) {
		x := startRx(t)
		stop := startSend(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "320x180", "--fps", "30", "--ctrl", "osd_text_mode=2")
		_, err := x.frame(90*time.Second, time.Now())
		if err == nil {
			sh(t, "/agent ctrl /dev/video0 disconnect=1")
			if err = waitLog(t, vm, "camera is back", 60*time.Second); err == nil {
				_, err = x.frame(60*time.Second, time.Now())
			}
		}
		log := stop()
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if why := logValue(log, "why"); !strings.HasPrefix(why, "device removed (unplugged?)") {
			t.Errorf("the loss was explained as %q, want device removed\n%s", why, log)
		}
		back, err := time.ParseDuration(logValue(log, "after"))
		t.Logf("back after %v", back)
		if err != nil || back > 2*time.Second {
			t.Errorf("back after %v (%v), want within 2 s\n%s", back, err, log)
		}
		if logInt(t, log, "reconnects") != 1 {
			t.Errorf("want 1 reconnect counted\n%s", log)
		}
	})

	t.Run("a driver unloaded and loaded again is picked up with the controls set again", func(t *testing.T) {
		x := startRx(t)
		stop := startSend(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "320x180", "--fps", "30", "--ctrl", "osd_text_mode=2,brightness=100")
		_, err := x.frame(90*time.Second, time.Now())
		if err == nil {
			// Unbinding removes the device under the open file, as an unplug of a
			// USB camera does; then the module can go and come back.
			sh(t, "echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind && "+
				"until rmmod vivid 2>/dev/null; do sleep 0.1; done && insmod /lib/modules/vivid.ko n_devs=1")
			if err = waitLog(t, vm, "camera is back", 60*time.Second); err == nil {
				_, err = x.frame(60*time.Second, time.Now())
			}
		}
		devs := sh(t, send+" devices")
		log := stop()
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if !strings.Contains(log, "camera is back") {
			t.Errorf("no camera is back in the log:\n%s", log)
		}
		if n := nodes(devs.Stdout)["/dev/video0"]; !strings.Contains(n, "brightness (int) 0 to 255, default 128, value 100") {
			t.Errorf("brightness was not set again on the reloaded driver:\n%s", n)
		}
	})

	t.Run("a capture after a smaller one fills the whole frame (crop and compose reset)", func(t *testing.T) {
		sh(t, "/agent input /dev/video0 3") // HDMI: the driver crops, composes and scales
		defer sh(t, "/agent input /dev/video0 0")
		x := startRx(t)
		capture(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "640x480", "--fps", "30", "--ctrl", "osd_text_mode=2")
		img, log := capture(t, vm, x, "/dev/video0", "--format", "yuyv", "--size", "1280x720", "--fps", "30", "--ctrl", "osd_text_mode=2")
		if img.Rect.Dx() != 1280 || img.Rect.Dy() != 720 {
			t.Fatalf("received %v, want 1280x720\n%s", img.Rect, log)
		}
		// vivid's HDMI input sends HD timings as Rec.709, as real HDMI sources do.
		if got := logValue(log, "colour"); got != "limited range BT.709" {
			t.Errorf("colour %q, want limited range BT.709", got)
		}
		checkBars(t, img, fullBars)
	})
}
