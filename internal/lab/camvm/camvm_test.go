package camvm

import (
	"context"
	"fmt"
	"image"
	"os/exec"
	"regexp"
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

// frame waits for a whole frame that arrives after since and returns a copy.
func (x *rx) frame(timeout time.Duration, since time.Time) (*image.YCbCr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		f, err := x.r.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("no whole frame in %v: %w", timeout, err)
		}
		if f.Complete() && f.Ready.After(since) {
			img := copyYCbCr(f.Image)
			f.Release()
			return img, nil
		}
		f.Release()
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

// fullBars is the luma of 75% colour bars in full-range BT.601 (white, yellow,
// cyan, green, magenta, red, blue, black): Y' = 0.299 R + 0.587 G + 0.114 B with
// 75% of 255 = 191.
var fullBars = [8]float64{191, 169.3, 134.2, 112.4, 78.6, 56.8, 21.8, 0}

// limitedBars is fullBars in limited range (Y' 16-235), as vivid makes YUYV by default.
var limitedBars = func() (b [8]float64) {
	for i, y := range fullBars {
		b[i] = 16 + y*219/255
	}
	return b
}()

// checkBars asserts each bar's luma within ±3 of want.
func checkBars(t *testing.T, img *image.YCbCr, want [8]float64) {
	t.Helper()
	got := barLevels(img)
	t.Logf("bars (white to black): %.1f", got)
	for i := range want {
		if d := got[i] - want[i]; d < -3 || d > 3 {
			t.Errorf("bar %d has luma %.1f, want %.1f ±3 (all: %.1f)", i, got[i], want[i], got)
		}
	}
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

var negotiated = regexp.MustCompile(`got="([^"]*)"`)

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

	t.Run("YUYV arrives with vivid's bars at their levels", func(t *testing.T) {
		x := startRx(t)
		if err := vm.Start("yuyv", send, "send", "--source", "/dev/video0", "--format", "yuyv", "--size", "640x480", "--fps", "15",
			"--ctrl", "osd_text_mode=2", "--quality", "95", "--to", x.to(), "--duration", "60s"); err != nil {
			t.Fatal(err)
		}
		img, err := x.frame(90*time.Second, time.Now())
		r, _ := vm.Stop("yuyv", 30*time.Second)
		if err != nil {
			t.Fatalf("%v\n%v", err, r)
		}
		if m := negotiated.FindStringSubmatch(r.Stderr); m == nil || m[1] != "YUYV 640x480 @ 15 fps" {
			t.Errorf("negotiated %v, want YUYV 640x480 @ 15 fps\n%s", m, r.Stderr)
		}
		checkBars(t, img, limitedBars)
	})
}
