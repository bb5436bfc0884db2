//go:build linux && cgo

package capture

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vladimirvivien/go4vl/device"
	"github.com/vladimirvivien/go4vl/v4l2"
)

// The thin layer over go4vl: enumerate, open with a chosen mode, hand out buffers.
// Everything that can be decided without a device lives in camera.go.

const (
	// camBuffers is the number of driver buffers; the reader always takes the
	// newest frame, so more buffers cost no latency and absorb a slow consumer.
	camBuffers = 4
	// camStall is how long a streaming camera may send nothing before it is
	// treated as gone (some drivers never report an unplug to select).
	camStall = 5 * time.Second
)

// v4l2Cam is one open, streaming V4L2 device.
type v4l2Cam struct {
	dev    *device.Device
	mode   camMode
	cancel context.CancelFunc
	frames <-chan *device.Frame
	errs   <-chan error
	log    *slog.Logger

	closeOnce sync.Once
}

// openV4L2 opens path, negotiates a mode from req and starts streaming.
func openV4L2(path string, req camRequest, log *slog.Logger) (camDevice, error) {
	desc, err := describeV4L2(path)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", path, err)
	}
	if !desc.Capture {
		return nil, fmt.Errorf("camera %s: not a video capture node (a camera's second node carries metadata: try another /dev/video*, see hrvs devices)", path)
	}
	choice, err := chooseCamMode(desc.Formats, req)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", path, err)
	}
	dev, err := device.Open(path, device.WithBufferSize(camBuffers))
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", path, openErr(err))
	}
	fail := func(what string, err error) (camDevice, error) {
		v4l2.CloseDevice(dev.Fd())
		return nil, fmt.Errorf("camera %s: %s: %w", path, what, openErr(err))
	}
	if err := dev.SetPixFormat(v4l2.PixFormat{Width: uint32(choice.Width), Height: uint32(choice.Height),
		PixelFormat: fourccCode(choice.FourCC), Field: v4l2.FieldNone}); err != nil {
		return fail("set format", err)
	}
	param := v4l2.StreamParam{Capture: v4l2.CaptureParam{TimePerFrame: fpsFract(choice.FPS)}}
	if err := v4l2.SetStreamParam(dev.Fd(), dev.BufferType(), param); err != nil {
		log.Warn("camera does not take a frame rate; using its own", "camera", path, "err", err)
	}
	// The driver may have adjusted any of it: read back what it will deliver.
	pix, err := v4l2.GetPixFormat(dev.Fd())
	if err != nil {
		return fail("read back format", err)
	}
	mode := camMode{FourCC: fourccName(pix.PixelFormat), Width: int(pix.Width), Height: int(pix.Height),
		Stride: int(pix.BytesPerLine)}
	if sp, err := v4l2.GetStreamParam(dev.Fd(), dev.BufferType()); err == nil && sp.Capture.TimePerFrame.Numerator > 0 {
		tpf := sp.Capture.TimePerFrame
		mode.FPS = float64(tpf.Denominator) / float64(tpf.Numerator)
	}
	if formatName(mode.FourCC) == "" {
		return fail("negotiate", fmt.Errorf("asked for %s, the driver chose %s, which hrvs cannot convert", choice.FourCC, mode.FourCC))
	}
	mode.Detail = fmt.Sprintf("%s %dx%d @ %s fps (%s, %s)", mode.FourCC, mode.Width, mode.Height, fpsText(mode.FPS), desc.Card, desc.Driver)
	log.Info("camera negotiated", "camera", path,
		"wanted", fmt.Sprintf("%s %dx%d @ %s fps", req.Format, req.Width, req.Height, fpsText(req.FPS)),
		"asked", fmt.Sprintf("%s %dx%d @ %s fps", choice.FourCC, choice.Width, choice.Height, fpsText(choice.FPS)),
		"got", fmt.Sprintf("%s %dx%d @ %s fps", mode.FourCC, mode.Width, mode.Height, fpsText(mode.FPS)),
		"card", desc.Card, "driver", desc.Driver)

	dev.GetFrames() // selects the pooled-frame API; the channel itself exists after Start
	ctx, cancel := context.WithCancel(context.Background())
	if err := dev.Start(ctx); err != nil {
		cancel()
		v4l2.UnmapMemoryBuffers(dev)
		return fail("start streaming", err)
	}
	return &v4l2Cam{dev: dev, mode: mode, cancel: cancel, frames: dev.GetFrames(), errs: dev.GetError(), log: log}, nil
}

// openErr turns the errno behind a failed open into words a user can act on.
func openErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return fmt.Errorf("no such device (is it plugged in? hrvs devices lists cameras)")
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("permission denied (add the user to the video group)")
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("device busy: another program is using the camera")
	}
	return err
}

func (c *v4l2Cam) Mode() camMode { return c.mode }

// Read returns the newest frame, dropping older queued ones so latency never
// builds up behind a slow consumer.
func (c *v4l2Cam) Read(ctx context.Context) (camFrame, error) {
	stall := time.NewTimer(camStall)
	defer stall.Stop()
	for {
		select {
		case <-ctx.Done():
			return camFrame{}, ctx.Err()
		case <-stall.C:
			return camFrame{}, fmt.Errorf("no frame for %v", camStall)
		case err, ok := <-c.errs:
			if ok {
				c.log.Debug("camera stream", "camera", c.dev.Name(), "msg", err)
			} else {
				c.errs = nil
			}
		case f, ok := <-c.frames:
			if !ok {
				return camFrame{}, c.whyStopped()
			}
			for more := true; more; {
				select {
				case g, ok := <-c.frames:
					if !ok {
						more = false
						break
					}
					f.Release()
					f = g
				default:
					more = false
				}
			}
			return camFrame{Data: f.Data, Time: time.Now(), release: f.Release}, nil
		}
	}
}

// whyStopped explains a stream that ended on its own: the device went away.
func (c *v4l2Cam) whyStopped() error {
	if c.errs != nil {
		for err := range c.errs {
			if err != nil && !strings.Contains(err.Error(), "dropped") {
				if errors.Is(err, syscall.ENODEV) {
					return fmt.Errorf("device removed (unplugged?)")
				}
				return err
			}
		}
	}
	if _, err := os.Stat(c.dev.Name()); err != nil {
		return fmt.Errorf("device removed (unplugged?)")
	}
	return fmt.Errorf("the stream stopped")
}

// Close stops streaming, unmaps the buffers and closes the device. go4vl's own
// Stop and Close skip steps once its capture goroutine has ended on an error
// (an unplugged camera), so they are done here by hand.
func (c *v4l2Cam) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		for f := range c.frames { // nil only if Start failed, and then c does not exist // the capture goroutine closes it when it exits
			f.Release()
		}
		if c.dev.Buffers() != nil {
			v4l2.UnmapMemoryBuffers(c.dev)
		}
		v4l2.StreamOff(c.dev)
		v4l2.CloseDevice(c.dev.Fd())
	})
	return nil
}

// fpsFract is the frame interval for a rate, as the driver takes it.
func fpsFract(fps float64) v4l2.Fract {
	if fps == math.Trunc(fps) {
		return v4l2.Fract{Numerator: 1, Denominator: uint32(fps)}
	}
	return v4l2.Fract{Numerator: 1000, Denominator: uint32(math.Round(fps * 1000))}
}

// fourccCode and fourccName convert between "MJPG" and the little-endian code.
func fourccCode(s string) uint32 {
	var b [4]byte
	copy(b[:], s+"    ")
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func fourccName(code uint32) string {
	b := []byte{byte(code), byte(code >> 8), byte(code >> 16), byte(code >> 24)}
	return strings.TrimRight(string(b), " \x00")
}

// listV4L2 describes every /dev/video* node.
func listV4L2() ([]camDesc, error) {
	paths, err := filepath.Glob("/dev/video*")
	if err != nil {
		return nil, err
	}
	sort.Slice(paths, func(i, j int) bool { return naturalLess(paths[i], paths[j]) })
	var out []camDesc
	for _, p := range paths {
		d, err := describeV4L2(p)
		if err != nil {
			d = camDesc{Path: p, Err: openErr(err).Error()}
		}
		out = append(out, d)
	}
	return out, nil
}

// naturalLess orders /dev/video2 before /dev/video10.
func naturalLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// describeV4L2 opens path just long enough to read its capabilities and formats.
func describeV4L2(path string) (camDesc, error) {
	d := camDesc{Path: path}
	if _, err := os.Stat(path); err != nil {
		return d, openErr(err)
	}
	fd, err := v4l2.OpenDevice(path, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		return d, openErr(err)
	}
	defer v4l2.CloseDevice(fd)
	caps, err := v4l2.GetCapability(fd)
	if err != nil {
		return d, fmt.Errorf("not a V4L2 device: %w", err)
	}
	d.Card, d.Driver, d.Bus = caps.Card, caps.Driver, caps.BusInfo
	d.Capture = caps.IsVideoCaptureSupported() && caps.IsStreamingSupported()
	if !d.Capture {
		return d, nil
	}
	descs, err := v4l2.GetAllFormatDescriptions(fd)
	if err != nil && len(descs) == 0 {
		return d, nil // a capture node that lists nothing; choosing a mode will say so
	}
	for _, fd0 := range descs {
		f := camFormat{FourCC: fourccName(fd0.PixelFormat), Description: fd0.Description,
			Compressed: fd0.Flags&v4l2.FmtDescFlagCompressed != 0, Emulated: fd0.Flags&v4l2.FmtDescFlagEmulated != 0}
		sizes, _ := v4l2.GetFormatFrameSizes(fd, fd0.PixelFormat)
		for _, s := range sizes {
			cs := camSize{Width: int(s.Size.MaxWidth), Height: int(s.Size.MaxHeight)}
			if s.Type != v4l2.FrameSizeTypeDiscrete {
				cs.Stepwise = true
				cs.MinW, cs.MinH = int(s.Size.MinWidth), int(s.Size.MinHeight)
				cs.StepW, cs.StepH = max(1, int(s.Size.StepWidth)), max(1, int(s.Size.StepHeight))
			}
			rateSizeW, rateSizeH := cs.Width, cs.Height
			for i := uint32(0); i < 64; i++ {
				iv, err := v4l2.GetFormatFrameInterval(fd, i, fd0.PixelFormat, uint32(rateSizeW), uint32(rateSizeH))
				if err != nil {
					break
				}
				if iv.Type == v4l2.FrameIntervalTypeDiscrete {
					if r := fractRate(iv.Interval.Min); r > 0 {
						cs.Rates = append(cs.Rates, r)
					}
					continue
				}
				cs.MinFPS, cs.MaxFPS = fractRate(iv.Interval.Max), fractRate(iv.Interval.Min)
				break
			}
			f.Sizes = append(f.Sizes, cs)
		}
		d.Formats = append(d.Formats, f)
	}
	return d, nil
}

// fractRate turns a frame interval into frames per second.
func fractRate(f v4l2.Fract) float64 {
	if f.Numerator == 0 {
		return 0
	}
	return float64(f.Denominator) / float64(f.Numerator)
}
