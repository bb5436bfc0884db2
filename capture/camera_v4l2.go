//go:build linux && cgo

package capture

/*
#include <linux/videodev2.h>
*/
import "C"

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
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"
)

// The thin layer over the V4L2 ioctls (linux/videodev2.h, the V4L2 userspace API
// "Streaming I/O (Memory Mapping)"): enumerate, open with a chosen mode, hand out
// buffers. go4vl enumerates formats; streaming is done here with raw ioctls so the
// driver's errno (ENODEV for an unplug, EIO for a driver error), buffer flags and
// sequence numbers reach the camera source. Everything that can be decided without
// a device lives in camera.go.

const (
	// camBuffers is the number of driver buffers; the reader always takes the
	// newest frame, so more buffers cost no latency and absorb a slow consumer.
	camBuffers = 4
	// camStall is how long a streaming camera may send nothing before it is
	// treated as gone (some drivers never report an unplug to poll).
	camStall = 5 * time.Second
)

// v4l2Cam is one open, streaming V4L2 device.
type v4l2Cam struct {
	path string
	fd   int
	wake int // eventfd: Close wakes a Read blocked in poll
	mode camMode
	bufs [][]byte // the driver's buffers, mapped
	data []byte   // the newest frame, copied out so its buffer goes straight back

	lastSeq uint32 // the driver's sequence number of the last buffer
	haveSeq bool

	mu        sync.Mutex // held by Read; Close takes it to tear down after Read returns
	closeOnce sync.Once
	closed    chan struct{}
}

// xioctl issues one ioctl, retrying when a signal interrupts it, and returns the
// raw errno so callers can tell an unplug (ENODEV) from a driver error (EIO).
func xioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// openV4L2 opens path, negotiates a mode from req, sets the requested controls and
// starts streaming.
func openV4L2(path string, req camRequest, log *slog.Logger) (camDevice, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", path, openErr(err))
	}
	c := &v4l2Cam{path: path, fd: fd, wake: -1, closed: make(chan struct{})}
	fail := func(what string, err error) (camDevice, error) {
		c.teardown()
		return nil, fmt.Errorf("camera %s: %s: %w", path, what, openErr(err))
	}
	if len(req.Controls) > 0 {
		if err := setControls(fd, req.Controls); err != nil {
			c.teardown()
			return nil, fmt.Errorf("camera %s: %w", path, err)
		}
	}
	var f C.struct_v4l2_format
	f._type = C.V4L2_BUF_TYPE_VIDEO_CAPTURE
	pix := (*C.struct_v4l2_pix_format)(unsafe.Pointer(&f.fmt[0]))
	pix.width, pix.height = C.__u32(choice.Width), C.__u32(choice.Height)
	pix.pixelformat, pix.field = C.__u32(fourccCode(choice.FourCC)), C.V4L2_FIELD_NONE
	if err := xioctl(fd, C.VIDIOC_S_FMT, unsafe.Pointer(&f)); err != nil {
		return fail("set format", err)
	}
	resetSelection(fd, int(pix.width), int(pix.height))
	var parm C.struct_v4l2_streamparm
	parm._type = C.V4L2_BUF_TYPE_VIDEO_CAPTURE
	cp := (*C.struct_v4l2_captureparm)(unsafe.Pointer(&parm.parm[0]))
	num, den := fpsFract(choice.FPS)
	cp.timeperframe.numerator, cp.timeperframe.denominator = C.__u32(num), C.__u32(den)
	if err := xioctl(fd, C.VIDIOC_S_PARM, unsafe.Pointer(&parm)); err != nil {
		log.Warn("camera does not take a frame rate; using its own", "camera", path, "err", err)
	}
	// The driver may have adjusted any of it: read back what it will deliver.
	if err := xioctl(fd, C.VIDIOC_G_FMT, unsafe.Pointer(&f)); err != nil {
		return fail("read back format", err)
	}
	mode := camMode{FourCC: fourccName(uint32(pix.pixelformat)), Width: int(pix.width), Height: int(pix.height),
		Stride: int(pix.bytesperline),
		Colour: camColourOf(uint32(pix.colorspace), *(*uint32)(unsafe.Pointer(&pix.anon0[0])), uint32(pix.quantization))}
	if xioctl(fd, C.VIDIOC_G_PARM, unsafe.Pointer(&parm)) == nil && cp.timeperframe.numerator > 0 {
		mode.FPS = float64(cp.timeperframe.denominator) / float64(cp.timeperframe.numerator)
	}
	if formatName(mode.FourCC) == "mjpeg" {
		mode.Colour = jfifColour // whatever the driver says, the JPEG decoder follows JFIF
	}
	if formatName(mode.FourCC) == "" {
		return fail("negotiate", fmt.Errorf("asked for %s, the driver chose %s, which hrvs cannot convert", choice.FourCC, mode.FourCC))
	}
	mode.Detail = fmt.Sprintf("%s %dx%d @ %s fps (%s, %s)", mode.FourCC, mode.Width, mode.Height, fpsText(mode.FPS), desc.Card, desc.Driver)
	c.mode = mode
	log.Info("camera negotiated", "camera", path,
		"wanted", fmt.Sprintf("%s %dx%d @ %s fps", req.Format, req.Width, req.Height, fpsText(req.FPS)),
		"asked", fmt.Sprintf("%s %dx%d @ %s fps", choice.FourCC, choice.Width, choice.Height, fpsText(choice.FPS)),
		"got", fmt.Sprintf("%s %dx%d @ %s fps", mode.FourCC, mode.Width, mode.Height, fpsText(mode.FPS)),
		"colour", mode.Colour.String(), "card", desc.Card, "driver", desc.Driver)
	if err := c.start(); err != nil {
		return fail("start streaming", err)
	}
	return c, nil
}

// resetSelection sets the crop rectangle to the driver's default and the compose
// rectangle to the whole frame. Drivers keep both across format changes, so a
// capture after a smaller one could fill only a corner of the frame. Drivers
// without the selection API answer ENOTTY or EINVAL, which is fine.
func resetSelection(fd, w, h int) {
	var s C.struct_v4l2_selection
	s._type = C.V4L2_BUF_TYPE_VIDEO_CAPTURE
	s.target = C.V4L2_SEL_TGT_CROP_DEFAULT
	if xioctl(fd, C.VIDIOC_G_SELECTION, unsafe.Pointer(&s)) == nil {
		s.target = C.V4L2_SEL_TGT_CROP
		xioctl(fd, C.VIDIOC_S_SELECTION, unsafe.Pointer(&s))
	}
	s = C.struct_v4l2_selection{}
	s._type = C.V4L2_BUF_TYPE_VIDEO_CAPTURE
	s.target = C.V4L2_SEL_TGT_COMPOSE
	s.r.width, s.r.height = C.__u32(w), C.__u32(h)
	xioctl(fd, C.VIDIOC_S_SELECTION, unsafe.Pointer(&s))
}

// start requests and maps the buffers, queues them and turns streaming on.
func (c *v4l2Cam) start() error {
	var rb C.struct_v4l2_requestbuffers
	rb.count, rb._type, rb.memory = camBuffers, C.V4L2_BUF_TYPE_VIDEO_CAPTURE, C.V4L2_MEMORY_MMAP
	if err := xioctl(c.fd, C.VIDIOC_REQBUFS, unsafe.Pointer(&rb)); err != nil {
		return fmt.Errorf("request buffers: %w", err)
	}
	if rb.count == 0 {
		return fmt.Errorf("the driver gave no buffers")
	}
	for i := 0; i < int(rb.count); i++ {
		var b C.struct_v4l2_buffer
		b.index, b._type, b.memory = C.__u32(i), C.V4L2_BUF_TYPE_VIDEO_CAPTURE, C.V4L2_MEMORY_MMAP
		if err := xioctl(c.fd, C.VIDIOC_QUERYBUF, unsafe.Pointer(&b)); err != nil {
			return fmt.Errorf("query buffer %d: %w", i, err)
		}
		off := *(*C.__u32)(unsafe.Pointer(&b.m[0]))
		m, err := unix.Mmap(c.fd, int64(off), int(b.length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("map buffer %d: %w", i, err)
		}
		c.bufs = append(c.bufs, m)
		if err := c.queue(i); err != nil {
			return err
		}
	}
	typ := C.int(C.V4L2_BUF_TYPE_VIDEO_CAPTURE)
	if err := xioctl(c.fd, C.VIDIOC_STREAMON, unsafe.Pointer(&typ)); err != nil {
		return fmt.Errorf("stream on: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return err
	}
	c.wake = wake
	return nil
}

func (c *v4l2Cam) queue(i int) error {
	var b C.struct_v4l2_buffer
	b.index, b._type, b.memory = C.__u32(i), C.V4L2_BUF_TYPE_VIDEO_CAPTURE, C.V4L2_MEMORY_MMAP
	if err := xioctl(c.fd, C.VIDIOC_QBUF, unsafe.Pointer(&b)); err != nil {
		return fmt.Errorf("queue buffer %d: %w", i, streamErr(err))
	}
	return nil
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

// streamErr says why a streaming ioctl failed, keeping the errno for errors.Is.
func streamErr(err error) error {
	switch {
	case errors.Is(err, syscall.ENODEV):
		return fmt.Errorf("device removed (unplugged?): %w", err)
	case errors.Is(err, syscall.EIO):
		return fmt.Errorf("the driver reported an I/O error: %w", err)
	case errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("the driver stopped the stream: %w", err)
	}
	return err
}

func (c *v4l2Cam) Mode() camMode { return c.mode }

// Read returns the newest frame. Older frames already waiting are handed back to
// the driver and counted as stale, so latency never builds up behind a slow
// consumer.
func (c *v4l2Cam) Read(ctx context.Context) (camFrame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return camFrame{}, errClosed
	default:
	}
	stallAt := time.Now().Add(camStall)
	var out camFrame
	got := false
	for {
		b, err := c.dequeue()
		switch {
		case err == nil:
			idx := int(b.index)
			flags := uint32(b.flags)
			used := int(b.bytesused)
			out.Gaps += seqGap(c.lastSeq, uint32(b.sequence), c.haveSeq)
			c.lastSeq, c.haveSeq = uint32(b.sequence), true
			out.Delivered++
			switch {
			case idx >= len(c.bufs):
				out.Errored++
				continue // not a buffer this stream queued: nothing to requeue
			case flags&C.V4L2_BUF_FLAG_ERROR != 0:
				out.Errored++
			case used == 0 || used > len(c.bufs[idx]):
				out.Empty++
			default:
				if got {
					out.Stale++
				}
				c.data = append(c.data[:0], c.bufs[idx][:used]...)
				got = true
			}
			if err := c.queue(idx); err != nil {
				return out, err
			}
			continue
		case !errors.Is(err, syscall.EAGAIN):
			return out, streamErr(err)
		}
		if got {
			out.Data, out.Time, out.release = c.data, time.Now(), func() {}
			return out, nil
		}
		if err := c.wait(ctx, stallAt); err != nil {
			return out, err
		}
	}
}

func (c *v4l2Cam) dequeue() (C.struct_v4l2_buffer, error) {
	var b C.struct_v4l2_buffer
	b._type, b.memory = C.V4L2_BUF_TYPE_VIDEO_CAPTURE, C.V4L2_MEMORY_MMAP
	err := xioctl(c.fd, C.VIDIOC_DQBUF, unsafe.Pointer(&b))
	return b, err
}

// camPollSlice bounds each poll so a cancelled ctx is noticed promptly.
const camPollSlice = 100 * time.Millisecond

// wait polls until the device has a buffer, Close is called, ctx ends or the
// camera has stalled.
func (c *v4l2Cam) wait(ctx context.Context, stallAt time.Time) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		left := time.Until(stallAt)
		if left <= 0 {
			return fmt.Errorf("no frame for %v", camStall)
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}, {Fd: int32(c.wake), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(left, camPollSlice)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			continue
		}
		if fds[1].Revents != 0 {
			return errClosed
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLERR|unix.POLLHUP) != 0 {
			return nil // DQBUF says what happened
		}
	}
}

// Close stops streaming, unmaps the buffers and closes the device; it waits for a
// Read in progress to return.
func (c *v4l2Cam) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		if c.wake >= 0 {
			var one [8]byte
			one[0] = 1
			unix.Write(c.wake, one[:])
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.teardown()
	})
	return nil
}

func (c *v4l2Cam) teardown() {
	if len(c.bufs) > 0 {
		typ := C.int(C.V4L2_BUF_TYPE_VIDEO_CAPTURE)
		xioctl(c.fd, C.VIDIOC_STREAMOFF, unsafe.Pointer(&typ))
		for _, b := range c.bufs {
			unix.Munmap(b)
		}
		c.bufs = nil
	}
	if c.wake >= 0 {
		unix.Close(c.wake)
		c.wake = -1
	}
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// fpsFract is the frame interval for a rate, as the driver takes it.
func fpsFract(fps float64) (num, den uint32) {
	if fps == math.Trunc(fps) {
		return 1, uint32(fps)
	}
	return 1000, uint32(math.Round(fps * 1000))
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

// describeV4L2 opens path just long enough to read its capabilities, formats and
// controls.
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
	d.Capture = nodeCanCapture(caps.Capabilities, caps.DeviceCapabilities)
	if !d.Capture {
		return d, nil
	}
	d.Controls, _ = listControls(int(fd))
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
