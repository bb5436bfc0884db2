package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
)

// A webcam like many UVC ones: YUYV only at low rates above 640x480, MJPEG at 30.
var webcam = []camFormat{
	{FourCC: "YUYV", Description: "YUYV 4:2:2", Sizes: []camSize{
		{Width: 640, Height: 480, Rates: []float64{30, 24, 20, 15, 10, 7.5, 5}},
		{Width: 1280, Height: 720, Rates: []float64{10, 7.5, 5}},
		{Width: 1920, Height: 1080, Rates: []float64{5}},
	}},
	{FourCC: "MJPG", Description: "Motion-JPEG", Compressed: true, Sizes: []camSize{
		{Width: 640, Height: 480, Rates: []float64{30, 15}},
		{Width: 1280, Height: 720, Rates: []float64{30, 15}},
		{Width: 1920, Height: 1080, Rates: []float64{30, 15}},
	}},
}

func TestChooseCamMode(t *testing.T) {
	stepwise := []camFormat{{FourCC: "YUYV", Sizes: []camSize{{Stepwise: true, MinW: 32, MinH: 32, Width: 2592, Height: 1944, StepW: 2, StepH: 2, MinFPS: 1, MaxFPS: 90}}},
		{FourCC: "MJPG", Sizes: []camSize{{Stepwise: true, MinW: 32, MinH: 32, Width: 2592, Height: 1944, StepW: 2, StepH: 2, MinFPS: 1, MaxFPS: 90}}}}
	for _, tc := range []struct {
		name    string
		formats []camFormat
		req     camRequest
		want    camChoice
		err     string
	}{
		{"auto at 720p30 picks MJPEG", webcam, camRequest{"auto", 1280, 720, 30, nil}, camChoice{"MJPG", 1280, 720, 30}, ""},
		{"auto at 1080p30 picks MJPEG", webcam, camRequest{"auto", 1920, 1080, 30, nil}, camChoice{"MJPG", 1920, 1080, 30}, ""},
		{"auto at 640x480 picks YUYV", webcam, camRequest{"auto", 640, 480, 30, nil}, camChoice{"YUYV", 640, 480, 30}, ""},
		{"auto at an unlisted small size takes the nearest, in YUYV", webcam, camRequest{"auto", 320, 240, 30, nil}, camChoice{"YUYV", 640, 480, 30}, ""},
		{"yuyv at 1080p gets the rate the camera has", webcam, camRequest{"yuyv", 1920, 1080, 30, nil}, camChoice{"YUYV", 1920, 1080, 5}, ""},
		{"mjpeg at 800x600 takes the nearest size", webcam, camRequest{"mjpeg", 800, 600, 30, nil}, camChoice{"MJPG", 640, 480, 30}, ""},
		{"a rate between listed ones takes the nearest", webcam, camRequest{"mjpeg", 1280, 720, 20, nil}, camChoice{"MJPG", 1280, 720, 15}, ""},
		{"a stepwise camera gets the exact size", stepwise, camRequest{"auto", 1280, 720, 30, nil}, camChoice{"MJPG", 1280, 720, 30}, ""},
		{"a stepwise size is rounded onto the grid", stepwise, camRequest{"yuyv", 641, 479, 200, nil}, camChoice{"YUYV", 642, 480, 90}, ""},
		{"an H.264-only camera is refused", []camFormat{{FourCC: "H264", Sizes: []camSize{{Width: 1920, Height: 1080}}}}, camRequest{"auto", 1280, 720, 30, nil}, camChoice{}, "offers no MJPEG or YUYV frames (it offers H264)"},
		{"yuyv from an MJPEG-only camera is refused", webcam[1:], camRequest{"yuyv", 1280, 720, 30, nil}, camChoice{}, "offers no YUYV frames (it offers MJPG)"},
		{"a camera listing nothing is refused", nil, camRequest{"auto", 1280, 720, 30, nil}, camChoice{}, "lists no pixel formats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseCamMode(tc.formats, tc.req)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCamRequest(t *testing.T) {
	t.Run("defaults fill a zero request", func(t *testing.T) {
		r, err := Options{}.camRequest()
		if err != nil || !reflect.DeepEqual(r, camRequest{"auto", 1280, 720, 30, nil}) {
			t.Fatalf("got %+v %v", r, err)
		}
	})
	t.Run("an unknown format is refused", func(t *testing.T) {
		if _, err := (Options{Format: "h264"}).camRequest(); err == nil || !strings.Contains(err.Error(), "mjpeg, yuyv or auto") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestWriteDeviceList(t *testing.T) {
	t.Run("no devices says so", func(t *testing.T) {
		var b bytes.Buffer
		if err := writeDeviceList(&b, nil); err != nil {
			t.Fatal(err)
		}
		if b.String() != "no V4L2 video devices found (no /dev/video* nodes)\n" {
			t.Fatalf("got %q", b.String())
		}
	})
	t.Run("devices are listed with formats, sizes and rates", func(t *testing.T) {
		var b bytes.Buffer
		devs := []camDesc{
			{Path: "/dev/video0", Card: "HD Webcam", Driver: "uvcvideo", Bus: "usb-1", Capture: true, Controls: testCtrls[1:3],
				Formats: append(append([]camFormat{}, webcam...), camFormat{FourCC: "H264", Description: "H.264", Compressed: true,
					Sizes: []camSize{{Stepwise: true, MinW: 32, MinH: 32, Width: 1920, Height: 1080, StepW: 2, StepH: 2, MinFPS: 1, MaxFPS: 30}}})},
			{Path: "/dev/video1", Card: "HD Webcam", Driver: "uvcvideo", Bus: "usb-1"},
			{Path: "/dev/video2", Err: "permission denied"},
		}
		if err := writeDeviceList(&b, devs); err != nil {
			t.Fatal(err)
		}
		want := `/dev/video0: HD Webcam (uvcvideo, usb-1)
  YUYV  YUYV 4:2:2
    640x480  30, 24, 20, 15, 10, 7.5, 5 fps
    1280x720  10, 7.5, 5 fps
    1920x1080  5 fps
  MJPG  Motion-JPEG, compressed
    640x480  30, 15 fps
    1280x720  30, 15 fps
    1920x1080  30, 15 fps
  H264  H.264, compressed  [hrvs cannot use it]
    32x32 to 1920x1080 step 2x2  1 to 30 fps
  controls (hrvs send --ctrl name=value):
    contrast (int) 0 to 100 step 5, default 50, value 50
    power_line_frequency (menu) 0 (disabled), 1 (50_hz), 2 (60_hz); default 1, value 1

/dev/video1: HD Webcam (uvcvideo, usb-1)
  not a video capture node (metadata or output)

/dev/video2
  cannot query: permission denied
`
		if b.String() != want {
			t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
		}
	})
}

// fakeCam is a camDevice fed by a test: frames sent on feed come out of Read;
// closing feed makes the device "unplugged".
type fakeCam struct {
	mode     camMode
	feed     chan []byte
	closed   atomic.Bool
	released atomic.Int32
	counts   camFrame // what the driver reports with every frame
}

func newFakeCam(fourcc string, w, h int) *fakeCam {
	return &fakeCam{mode: camMode{FourCC: fourcc, Width: w, Height: h, FPS: 30, Detail: fourcc + " fake"}, feed: make(chan []byte, 16)}
}

func (f *fakeCam) Mode() camMode { return f.mode }

func (f *fakeCam) Read(ctx context.Context) (camFrame, error) {
	select {
	case <-ctx.Done():
		return camFrame{}, ctx.Err()
	case b, ok := <-f.feed:
		if !ok {
			return camFrame{}, errors.New("device removed (unplugged?)")
		}
		out := f.counts
		out.Data, out.Time, out.release = b, time.Now(), func() { f.released.Add(1) }
		return out, nil
	}
}

func (f *fakeCam) Close() error { f.closed.Store(true); return nil }

// opener hands out the given devices in turn; a nil entry fails like a missing device.
type fakeOpener struct {
	mu    sync.Mutex
	devs  []*fakeCam
	calls int
}

func (o *fakeOpener) open(path string, req camRequest, log *slog.Logger) (camDevice, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if len(o.devs) == 0 || o.devs[0] == nil {
		if len(o.devs) > 0 {
			o.devs = o.devs[1:]
		}
		return nil, fmt.Errorf("camera %s: no such device", path)
	}
	d := o.devs[0]
	o.devs = o.devs[1:]
	return d, nil
}

func yuyvFrame(w, h int, seed byte) ([]byte, *image.YCbCr) {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio422)
	for i := range img.Y {
		img.Y[i] = seed + byte(i)
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = seed+byte(3*i), seed-byte(i)
	}
	return packYUYV(img, 2*w), img
}

func TestCameraSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := camRequest{"auto", 64, 32, 30, nil}

	t.Run("YUYV frames arrive as 4:2:2 pictures and a short frame is skipped", func(t *testing.T) {
		dev := newFakeCam("YUYV", 64, 32)
		buf0, want0 := yuyvFrame(64, 32, 1)
		buf1, want1 := yuyvFrame(64, 32, 50)
		dev.feed <- buf0
		dev.feed <- buf1[:100] // truncated
		dev.feed <- buf1
		c, err := openCamera(ctx, "/dev/video7", req, (&fakeOpener{devs: []*fakeCam{dev}}).open, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Info().Subsample != image.YCbCrSubsampleRatio422 || c.Info().Width != 64 {
			t.Fatalf("info %+v", c.Info())
		}
		for i, want := range []*image.YCbCr{want0, want1} {
			f, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if f.Seq != uint64(i) || !planesEqual(f.Image, want) {
				t.Fatalf("frame %d: seq %d, equal %v", i, f.Seq, planesEqual(f.Image, want))
			}
			f.Release()
		}
		if c.Skipped() != 1 {
			t.Fatalf("skipped %d, want 1", c.Skipped())
		}
		if dev.released.Load() != 3 {
			t.Fatalf("%d device buffers released, want 3", dev.released.Load())
		}
	})

	t.Run("MJPEG frames without DHT decode, and corrupt or truncated ones are skipped", func(t *testing.T) {
		dev := newFakeCam("MJPG", 320, 240)
		pic := testPicture(t, 320, 240, image.YCbCrSubsampleRatio420, 4)
		good := encodeJPEG(t, pic, 85)
		bare := stripDHT(t, good)
		dev.feed <- bare[:len(bare)/3] // a truncated first frame: opening must wait past it
		dev.feed <- bare
		dev.feed <- good[:len(good)-50]
		dev.feed <- []byte("not a jpeg at all")
		dev.feed <- good
		c, err := openCamera(ctx, "/dev/video7", req, (&fakeOpener{devs: []*fakeCam{dev}}).open, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Info().Subsample != image.YCbCrSubsampleRatio420 || c.Info().Width != 320 || c.Info().Height != 240 {
			t.Fatalf("info %+v", c.Info())
		}
		for i := 0; i < 2; i++ {
			f, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p := psnr(f.Image, pic); p < 30 {
				t.Fatalf("frame %d: PSNR %.1f dB against the original", i, p)
			}
		}
		if c.Skipped() != 3 {
			t.Fatalf("skipped %d, want 3", c.Skipped())
		}
	})

	t.Run("the counters add up what the driver reported and why the camera was lost", func(t *testing.T) {
		dev := newFakeCam("YUYV", 64, 32)
		dev.counts = camFrame{Delivered: 3, Stale: 1, Errored: 1, Gaps: 2}
		buf, _ := yuyvFrame(64, 32, 3)
		for _, b := range [][]byte{buf, buf, buf[:10], buf} {
			dev.feed <- b
		}
		close(dev.feed)
		c, err := openCamera(ctx, "/dev/video7", req, (&fakeOpener{devs: []*fakeCam{dev}}).open, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.retryFirst, c.retryMax = time.Hour, time.Hour
		for i := 0; i < 3; i++ {
			if _, err := c.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}
		lctx, lcancel := context.WithCancel(ctx)
		go func() { // the fake is unplugged now: wait until that is recorded
			for c.Stats().LastLoss == "" {
				time.Sleep(time.Millisecond)
			}
			lcancel()
		}()
		c.Next(lctx)
		want := CameraStats{Delivered: 12, Frames: 3, DroppedStale: 4, DroppedCorrupt: 1, DroppedError: 4, SequenceGaps: 8,
			LastLoss: "device removed (unplugged?)"}
		if got := c.Stats(); got != want {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("an unplugged camera is reopened and frames resume", func(t *testing.T) {
		first, second := newFakeCam("YUYV", 64, 32), newFakeCam("YUYV", 64, 32)
		buf, want := yuyvFrame(64, 32, 9)
		first.feed <- buf
		first.feed <- buf
		close(first.feed) // unplugged after two frames
		op := &fakeOpener{devs: []*fakeCam{first, nil, nil, second}}
		var logBuf testrig.LogBuffer
		c, err := openCamera(ctx, "/dev/video7", req, op.open, slog.New(slog.NewTextHandler(&logBuf, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.retryFirst, c.retryMax = time.Millisecond, 5*time.Millisecond
		for i := 0; i < 2; i++ {
			if _, err := c.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}
		go func() { // plugged back in a little later
			time.Sleep(30 * time.Millisecond)
			second.feed <- buf
		}()
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq != 2 || !planesEqual(f.Image, want) {
			t.Fatalf("resumed frame seq %d", f.Seq)
		}
		if !first.closed.Load() || c.Reconnects() != 1 || op.calls != 4 {
			t.Fatalf("closed %v reconnects %d opens %d", first.closed.Load(), c.Reconnects(), op.calls)
		}
		for _, msg := range []string{"camera lost", "device removed (unplugged?)", "camera is back"} {
			if !strings.Contains(logBuf.String(), msg) {
				t.Fatalf("log lacks %q:\n%s", msg, logBuf.String())
			}
		}
	})

	t.Run("a camera that comes back at another size is not taken", func(t *testing.T) {
		first, other, right := newFakeCam("YUYV", 64, 32), newFakeCam("YUYV", 32, 16), newFakeCam("YUYV", 64, 32)
		buf, _ := yuyvFrame(64, 32, 9)
		first.feed <- buf
		close(first.feed)
		right.feed <- buf
		op := &fakeOpener{devs: []*fakeCam{first, other, right}}
		c, err := openCamera(ctx, "/dev/video7", req, op.open, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.retryFirst, c.retryMax = time.Millisecond, time.Millisecond
		c.Next(ctx)
		if _, err := c.Next(ctx); err != nil {
			t.Fatal(err)
		}
		if !other.closed.Load() {
			t.Fatal("the wrong-size camera was kept open")
		}
	})

	t.Run("Next waiting for a lost camera returns when ctx ends or the source is closed", func(t *testing.T) {
		first := newFakeCam("YUYV", 64, 32)
		buf, _ := yuyvFrame(64, 32, 9)
		first.feed <- buf
		close(first.feed)
		c, err := openCamera(ctx, "/dev/video7", req, (&fakeOpener{devs: []*fakeCam{first}}).open, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		c.retryFirst, c.retryMax = time.Millisecond, 2*time.Millisecond
		c.Next(ctx)
		short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancelShort()
		if _, err := c.Next(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want deadline exceeded", err)
		}
		done := make(chan error, 1)
		go func() { _, err := c.Next(ctx); done <- err }()
		time.Sleep(20 * time.Millisecond)
		c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, errClosed) {
				t.Fatalf("got %v, want errClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Next did not return after Close")
		}
	})

	t.Run("a camera that never sends a good frame fails to open", func(t *testing.T) {
		dev := newFakeCam("MJPG", 64, 32)
		for i := 0; i < 5; i++ {
			dev.feed <- []byte{0xff, 0xd8, 0xff, 0xd9}
		}
		close(dev.feed)
		_, err := openCamera(ctx, "/dev/video7", req, (&fakeOpener{devs: []*fakeCam{dev}}).open, slog.New(slog.DiscardHandler))
		if err == nil || !dev.closed.Load() {
			t.Fatalf("got %v, closed %v", err, dev.closed.Load())
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCameraColour(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const w, h = 64, 32
	for _, tc := range []struct {
		name       string
		colour     Colour
		in         [3]uint8 // Y, Cb, Cr of every YUYV sample
		want       [3]uint8 // ±2
		wantDetail string
	}{
		{"a limited-range YUYV camera's 75% white arrives at 191", Colour{Range: RangeLimited},
			[3]uint8{180, 128, 128}, [3]uint8{191, 128, 128}, "limited range BT.601 converted to full range BT.601"},
		{"a limited-range YUYV camera's black arrives at 0", Colour{Range: RangeLimited},
			[3]uint8{16, 128, 128}, [3]uint8{0, 128, 128}, "limited range BT.601 converted"},
		{"a Rec.709 camera's colour arrives with its Rec.601 values", Colour{Range: RangeLimited, Matrix: MatrixBT709},
			[3]uint8{117, 96, 174}, func() [3]uint8 { y, cb, cr := color.RGBToYCbCr(200, 100, 50); return [3]uint8{y, cb, cr} }(),
			"limited range BT.709 converted"},
		{"a full-range BT.601 camera's samples arrive unchanged", Colour{},
			[3]uint8{180, 100, 30}, [3]uint8{180, 100, 30}, "full range BT.601"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newFakeCam("YUYV", w, h)
			dev.mode.Colour = tc.colour
			img := uniform(w, h, image.YCbCrSubsampleRatio422, tc.in[0], tc.in[1], tc.in[2])
			dev.feed <- packYUYV(img, 2*w)
			c, err := openCamera(ctx, "/dev/video7", camRequest{"auto", w, h, 30, nil}, (&fakeOpener{devs: []*fakeCam{dev}}).open, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Info().Colour != tc.colour || !strings.Contains(c.Info().Detail, tc.wantDetail) {
				t.Fatalf("info %+v", c.Info())
			}
			f, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := f.Image
			for _, p := range []image.Point{{0, 0}, {w - 1, h - 1}, {w / 2, h / 2}} {
				y, o := got.Y[got.YOffset(p.X, p.Y)], got.COffset(p.X, p.Y)
				if !near(y, tc.want[0], 2) || !near(got.Cb[o], tc.want[1], 2) || !near(got.Cr[o], tc.want[2], 2) {
					t.Fatalf("at %v: %d %d %d, want %v ±2", p, y, got.Cb[o], got.Cr[o], tc.want)
				}
			}
		})
	}
}
