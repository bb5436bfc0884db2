package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/internal/ycbcr"
)

// This file holds everything about cameras that needs no device: choosing a mode
// from what a camera offers, turning its buffers into pictures, and riding out an
// unplugged camera. camera_v4l2.go is the thin layer over the V4L2 ioctls.

// errCameraNeedsCgo is what every camera call returns in a build without cgo.
var errCameraNeedsCgo = errors.New("camera capture needs a cgo build on Linux")

// Camera defaults when --size and --fps are not given.
const (
	camDefaultWidth  = 1280
	camDefaultHeight = 720
	camDefaultFPS    = 30
)

// camHighRes is the picture area above which auto prefers MJPEG: beyond 640x480
// raw YUYV outgrows what USB 2.0 carries at full frame rate.
const camHighRes = 640 * 480

// V4L2 FourCC names of the formats a camera source can turn into pictures.
const (
	fourccMJPEG = "MJPG"
	fourccJPEG  = "JPEG" // the same frames, as some drivers label them
	fourccYUYV  = "YUYV"
)

// camRequest is what the user asked of a camera.
type camRequest struct {
	Format        string // "auto", "mjpeg" or "yuyv"
	Width, Height int
	FPS           float64
	Controls      []camCtrlSet // set at every open, so a reconnected camera gets them again
}

func (o Options) camRequest() (camRequest, error) {
	r := camRequest{Format: strings.ToLower(o.Format), Width: o.Width, Height: o.Height, FPS: o.FPS}
	switch r.Format {
	case "", "auto":
		r.Format = "auto"
	case "mjpeg", "mjpg", "jpeg":
		r.Format = "mjpeg"
	case "yuyv", "yuv", "yuyv422":
		r.Format = "yuyv"
	default:
		return r, fmt.Errorf("camera format %q: use mjpeg, yuyv or auto", o.Format)
	}
	if r.Width <= 0 || r.Height <= 0 {
		r.Width, r.Height = camDefaultWidth, camDefaultHeight
	}
	if r.FPS <= 0 {
		r.FPS = camDefaultFPS
	}
	ctrls, err := parseControls(o.Controls)
	if err != nil {
		return r, err
	}
	r.Controls = ctrls
	return r, nil
}

// camFormat is one pixel format a camera offers, with its sizes and rates.
type camFormat struct {
	FourCC      string
	Description string
	Compressed  bool
	Emulated    bool // converted by libv4l or the driver, not native
	Sizes       []camSize
}

// camSize is one frame size (or a stepwise range of them) with its frame rates.
type camSize struct {
	Width, Height int // a discrete size; for a range, its largest
	Stepwise      bool
	MinW, MinH    int
	StepW, StepH  int
	Rates         []float64 // discrete rates, as enumerated
	MinFPS        float64   // a stepwise rate range, when Rates is empty
	MaxFPS        float64
}

// maxRate is the fastest rate the size offers; 0 when the camera did not say.
func (s camSize) maxRate() float64 {
	m := s.MaxFPS
	for _, r := range s.Rates {
		m = math.Max(m, r)
	}
	return m
}

// camDesc describes one V4L2 device node for `hrvs devices`.
type camDesc struct {
	Path, Card, Driver, Bus string
	Capture                 bool   // a video capture node (not metadata or output)
	Err                     string // why it could not be queried
	Formats                 []camFormat
	Controls                []camControl
}

// V4L2 capability bits (struct v4l2_capability, VIDIOC_QUERYCAP).
const (
	capVideoCapture = 0x00000001
	capStreaming    = 0x04000000
	capDeviceCaps   = 0x80000000
)

// nodeCanCapture reports whether a node streams video frames. A device's
// capabilities cover all its nodes (a UVC webcam's metadata node says "video
// capture" there too); device_caps, when the driver fills it, is this node's own.
func nodeCanCapture(caps, deviceCaps uint32) bool {
	if caps&capDeviceCaps != 0 {
		caps = deviceCaps
	}
	return caps&capVideoCapture != 0 && caps&capStreaming != 0
}

// fourccCode and fourccName convert between "MJPG" and the little-endian code.
// A code with bit 31 set is the big-endian variant of the same format
// (V4L2_PIX_FMT_FLAG_BE) and is named as v4l2-ctl does: "Y16 -BE".
func fourccCode(s string) uint32 {
	be := strings.HasSuffix(s, "-BE")
	s = strings.TrimSuffix(s, "-BE")
	var b [4]byte
	copy(b[:], s+"    ")
	code := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	if be {
		code |= fourccBE
	}
	return code
}

const fourccBE = 1 << 31

func fourccName(code uint32) string {
	b := []byte{byte(code), byte(code >> 8), byte(code >> 16), byte(code >> 24 &^ (fourccBE >> 24))}
	for _, c := range b {
		if c < ' ' || c > '~' {
			return fmt.Sprintf("0x%08x", code)
		}
	}
	name := strings.TrimRight(string(b), " ")
	if code&fourccBE != 0 {
		name = string(b) + "-BE"
	}
	return name
}

// camChoice is the mode picked for a camera before the driver has its say.
type camChoice struct {
	FourCC        string
	Width, Height int
	FPS           float64
}

// formatName is the --format word for a FourCC.
func formatName(fourcc string) string {
	switch fourcc {
	case fourccMJPEG, fourccJPEG:
		return "mjpeg"
	case fourccYUYV:
		return "yuyv"
	}
	return ""
}

// chooseCamMode picks pixel format, size and rate from what a camera offers. The
// size nearest the request wins first, then the format that reaches the requested
// rate at that size, then the preferred format: YUYV up to 640x480 (no decoding,
// no compression loss) and MJPEG above.
func chooseCamMode(formats []camFormat, req camRequest) (camChoice, error) {
	type cand struct {
		choice   camChoice
		sizeDist int
		fpsShort float64
		pref     int
	}
	var best *cand
	var offered []string
	for _, f := range formats {
		offered = append(offered, f.FourCC)
		name := formatName(f.FourCC)
		if name == "" || (req.Format != "auto" && req.Format != name) {
			continue
		}
		size, w, h, ok := nearestSize(f.Sizes, req.Width, req.Height)
		if !ok {
			continue
		}
		fps, short := nearestRate(size, req.FPS)
		c := cand{choice: camChoice{FourCC: f.FourCC, Width: w, Height: h, FPS: fps},
			sizeDist: abs(w-req.Width) + abs(h-req.Height), fpsShort: short}
		if (name == "mjpeg") != (req.Width*req.Height > camHighRes) {
			c.pref = 1
		}
		if f.Emulated {
			c.pref += 2 // a native format beats one the driver converts to
		}
		if best == nil || c.sizeDist < best.sizeDist ||
			(c.sizeDist == best.sizeDist && (c.fpsShort < best.fpsShort ||
				(c.fpsShort == best.fpsShort && c.pref < best.pref))) {
			best = &c
		}
	}
	if best == nil {
		want := "MJPEG or YUYV"
		if req.Format != "auto" {
			want = strings.ToUpper(req.Format)
		}
		if len(offered) == 0 {
			return camChoice{}, fmt.Errorf("the camera lists no pixel formats")
		}
		return camChoice{}, fmt.Errorf("the camera offers no %s frames (it offers %s)", want, strings.Join(offered, ", "))
	}
	return best.choice, nil
}

// nearestSize picks the offered size closest to w x h (larger on a tie).
func nearestSize(sizes []camSize, w, h int) (camSize, int, int, bool) {
	var best camSize
	bw, bh, found := 0, 0, false
	for _, s := range sizes {
		cw, ch := s.Width, s.Height
		if s.Stepwise {
			cw, ch = stepTo(w, s.MinW, s.Width, s.StepW), stepTo(h, s.MinH, s.Height, s.StepH)
		}
		if cw <= 0 || ch <= 0 {
			continue
		}
		d, bd := abs(cw-w)+abs(ch-h), abs(bw-w)+abs(bh-h)
		if !found || d < bd || (d == bd && cw*ch > bw*bh) {
			best, bw, bh, found = s, cw, ch, true
		}
	}
	return best, bw, bh, found
}

// stepTo clamps v into [lo, hi] on the grid lo + k*step.
func stepTo(v, lo, hi, step int) int {
	v = max(lo, min(hi, v))
	if step > 1 {
		v = lo + (v-lo+step/2)/step*step
		if v > hi {
			v -= step
		}
	}
	return v
}

// nearestRate picks the offered rate closest to want (faster on a tie) and says how
// far short of want the size's fastest rate falls. A camera that lists no rates is
// asked for want.
func nearestRate(s camSize, want float64) (fps, short float64) {
	if len(s.Rates) == 0 {
		if s.MaxFPS > 0 {
			fps = math.Max(s.MinFPS, math.Min(s.MaxFPS, want))
			return fps, math.Max(0, want-s.MaxFPS)
		}
		return want, 0
	}
	fps = s.Rates[0]
	for _, r := range s.Rates[1:] {
		if d, bd := math.Abs(r-want), math.Abs(fps-want); d < bd || (d == bd && r > fps) {
			fps = r
		}
	}
	return fps, math.Max(0, want-s.maxRate())
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// camMode is what the driver actually set up.
type camMode struct {
	FourCC        string
	Width, Height int
	Stride        int     // bytes per line of a YUYV frame
	FPS           float64 // 0 when the driver does not say
	Detail        string  // card and driver, for logs
	// Colour is how the driver's samples are to be read, from its quantization
	// and ycbcr_enc (camera_v4l2.go fills it). The camera converts every frame
	// from it with a ColourConverter, YUYV or MJPEG alike; the zero value (JFIF)
	// converts nothing.
	Colour Colour
}

// camFrame is one buffer from the device; release hands it back. The counts say
// what else the driver handed over since the last Read.
type camFrame struct {
	Data    []byte
	Time    time.Time
	release func()

	Delivered uint64 // buffers dequeued, this one included
	Stale     uint64 // good frames replaced by a newer one before being read
	Errored   uint64 // buffers the driver flagged as bad (V4L2_BUF_FLAG_ERROR)
	Empty     uint64 // buffers with no data
	Gaps      uint64 // frames the driver's sequence numbers skipped
}

// seqGap is how many frames the driver skipped between sequence numbers last and
// seq (V4L2 counts every frame it captured, delivered or not). have is false for
// the first buffer of a stream.
func seqGap(last, seq uint32, have bool) uint64 {
	if !have || seq-last-1 >= 1<<31 { // the first, a repeat, or a restarted count
		return 0
	}
	return uint64(seq - last - 1)
}

// camDevice is an open, streaming camera.
type camDevice interface {
	Mode() camMode
	// Read blocks for the next frame. An error other than ctx's means the device
	// is gone or stuck; the camera source then closes it and reopens the path.
	Read(ctx context.Context) (camFrame, error)
	Close() error
}

// camOpener opens and starts a camera; the V4L2 build passes openV4L2.
type camOpener func(path string, req camRequest, log *slog.Logger) (camDevice, error)

// Camera reopen timing: first retry soon, then at a steady pace.
const (
	camRetryFirst = 500 * time.Millisecond
	camRetryMax   = 2 * time.Second
	// camFirstFrameWait bounds how long opening waits for a decodable first frame.
	camFirstFrameWait = 10 * time.Second
)

// Camera is a live camera source. Frames are converted as they arrive: YUYV to
// 4:2:2 planes, MJPEG through image/jpeg (with the standard Huffman tables added
// when the camera leaves them out). A frame that cannot be converted is skipped and
// counted. When the camera goes away, Next logs it and keeps reopening the device
// until it is back or ctx ends.
type Camera struct {
	path string
	req  camRequest
	open camOpener
	log  *slog.Logger

	dev   camDevice
	mode  camMode
	info  Info
	dec   jpegDecoder
	conv  *ColourConverter // from mode.Colour; nil when frames are JFIF already
	pool  *ImagePool
	first *Frame // decoded while opening, to learn the subsampling
	fixed bool   // info.Subsample is settled: later frames must match it
	// pass hands MJPEG frames through undecoded (Options.JPEG, handThrough) once
	// the first has told the subsampling, when they are JFIF's colour already.
	pass *jpegPass
	seq  uint64

	skipped    atomic.Uint64
	reconnects atomic.Uint64
	delivered  atomic.Uint64
	frames     atomic.Uint64
	stale      atomic.Uint64
	errored    atomic.Uint64
	gaps       atomic.Uint64
	lastLoss   atomic.Pointer[string]
	warn       logLimiter
	retryFirst time.Duration // reopen delays; tests shorten them
	retryMax   time.Duration

	mu     sync.Mutex
	closed bool
	done   chan struct{}
}

// openCamera opens path with opener and waits for the first good frame.
func openCamera(ctx context.Context, path string, req camRequest, opener camOpener, log *slog.Logger) (*Camera, error) {
	dev, err := opener(path, req, log)
	if err != nil {
		return nil, err
	}
	c := &Camera{path: path, req: req, open: opener, log: log, dev: dev, mode: dev.Mode(), done: make(chan struct{}),
		retryFirst: camRetryFirst, retryMax: camRetryMax}
	if c.conv, err = NewColourConverter(c.mode.Colour); err != nil {
		dev.Close()
		return nil, fmt.Errorf("camera %s: %w", path, err)
	}
	c.info = Info{Name: path, Width: c.mode.Width, Height: c.mode.Height, FPS: c.mode.FPS,
		Subsample: image.YCbCrSubsampleRatio422, Colour: c.mode.Colour}
	if formatName(c.mode.FourCC) == "yuyv" {
		c.pool = NewImagePool(c.mode.Width, c.mode.Height, image.YCbCrSubsampleRatio422)
	}
	wctx, cancel := context.WithTimeout(ctx, camFirstFrameWait)
	defer cancel()
	f, err := c.nextFrom(wctx, false)
	if err != nil {
		dev.Close()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("camera %s: no usable frame in %v (%d skipped as corrupt)", path, camFirstFrameWait, c.skipped.Load())
		}
		return nil, fmt.Errorf("camera %s: %w", path, err)
	}
	c.info.Subsample = f.Image.SubsampleRatio
	c.info.Detail = fmt.Sprintf("%s, %s, %s", c.mode.Detail, ycbcr.Name(f.Image.SubsampleRatio), colourDetail(c.mode.Colour))
	c.first, c.fixed = f, true
	return c, nil
}

// handThrough makes an MJPEG camera hand its frames through undecoded
// (Options.JPEG), when they are JFIF's colour already: the frames after the first,
// which opening decoded, carry their JPEG and no picture. It must be called before
// the first Next; it reports whether the camera hands frames through.
func (c *Camera) handThrough() bool {
	if c.conv != nil || formatName(c.mode.FourCC) != "mjpeg" {
		return false
	}
	c.pass = newJPEGPass(c.mode.Width, c.mode.Height, c.info.Subsample)
	c.info.Detail += ", frames handed through undecoded"
	return true
}

// Info describes the stream as the driver set it up.
func (c *Camera) Info() Info { return c.info }

// Skipped counts frames left out because they were corrupt or truncated.
func (c *Camera) Skipped() uint64 { return c.skipped.Load() }

// Reconnects counts how many times the camera came back after going away.
func (c *Camera) Reconnects() uint64 { return c.reconnects.Load() }

// CameraStats counts what a camera's driver delivered and what the camera path
// dropped, and why; field names are the --stats-json contract.
type CameraStats struct {
	Delivered      uint64 `json:"delivered"`       // buffers the driver handed over
	Frames         uint64 `json:"frames"`          // frames passed on
	DroppedStale   uint64 `json:"dropped_stale"`   // replaced by a newer frame before being read: the consumer was slower than the camera
	DroppedCorrupt uint64 `json:"dropped_corrupt"` // could not be converted (corrupt or truncated JPEG, short YUYV)
	DroppedError   uint64 `json:"dropped_error"`   // flagged bad or empty by the driver
	SequenceGaps   uint64 `json:"sequence_gaps"`   // frames the driver's sequence numbers say it never handed over
	Reconnects     uint64 `json:"reconnects"`
	LastLoss       string `json:"last_loss,omitempty"` // why the camera was last lost
}

// Stats returns the camera's counters; safe to call from any goroutine.
func (c *Camera) Stats() CameraStats {
	s := CameraStats{Delivered: c.delivered.Load(), Frames: c.frames.Load(), DroppedStale: c.stale.Load(),
		DroppedCorrupt: c.skipped.Load(), DroppedError: c.errored.Load(), SequenceGaps: c.gaps.Load(),
		Reconnects: c.reconnects.Load()}
	if p := c.lastLoss.Load(); p != nil {
		s.LastLoss = *p
	}
	return s
}

// Close stops streaming and closes the device; safe to call more than once and
// while Next is blocked in another goroutine.
func (c *Camera) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	dev := c.dev
	c.mu.Unlock()
	s := c.Stats()
	c.log.Info("camera closed", "camera", c.path, "delivered", s.Delivered, "frames", s.Frames,
		"dropped_stale", s.DroppedStale, "dropped_corrupt", s.DroppedCorrupt, "dropped_error", s.DroppedError,
		"sequence_gaps", s.SequenceGaps, "reconnects", s.Reconnects, "last_loss", s.LastLoss)
	if dev != nil {
		return dev.Close()
	}
	return nil
}

// Next blocks for the next good frame.
func (c *Camera) Next(ctx context.Context) (*Frame, error) {
	if f := c.first; f != nil {
		c.first = nil
		return f, nil
	}
	return c.nextFrom(ctx, true)
}

func (c *Camera) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// nextFrom reads frames until one converts; with reopen set it also rides out a
// lost device.
func (c *Camera) nextFrom(ctx context.Context, reopen bool) (*Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c.isClosed() {
			return nil, errClosed
		}
		if c.dev == nil {
			if err := c.reopen(ctx); err != nil {
				return nil, err
			}
		}
		raw, err := c.dev.Read(ctx)
		c.delivered.Add(raw.Delivered)
		c.stale.Add(raw.Stale)
		c.errored.Add(raw.Errored + raw.Empty)
		c.gaps.Add(raw.Gaps)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if c.isClosed() {
				return nil, errClosed
			}
			if !reopen {
				return nil, err
			}
			c.lost(err)
			continue
		}
		if c.pass != nil && len(raw.Data) > 0 {
			f := c.pass.frame(raw.Data, c.seq, raw.Time)
			raw.release()
			c.seq++
			c.frames.Add(1)
			return f, nil
		}
		img, pool, err := c.convert(raw.Data)
		raw.release()
		if err != nil {
			n := c.skipped.Add(1)
			c.warn.do(func() {
				c.log.Warn("skipping a bad camera frame", "camera", c.path, "skipped", n, "err", err)
			})
			continue
		}
		var release func(*Frame)
		if pool != nil {
			release = pool.Release
		}
		f := NewFrame(img, c.seq, raw.Time, release)
		c.seq++
		c.frames.Add(1)
		return f, nil
	}
}

// convert turns one buffer into a picture of the stream's size and subsampling, in
// JFIF's colour.
func (c *Camera) convert(data []byte) (*image.YCbCr, *ImagePool, error) {
	img, pool, err := c.unpack(data)
	if err == nil {
		c.conv.Convert(img)
	}
	return img, pool, err
}

// unpack turns one buffer into a picture with the driver's own sample values.
func (c *Camera) unpack(data []byte) (*image.YCbCr, *ImagePool, error) {
	m := c.mode
	switch formatName(m.FourCC) {
	case "yuyv":
		img := c.pool.Get()
		if err := yuyvToYCbCr(img, data, m.Stride); err != nil {
			c.pool.Put(img)
			return nil, nil, err
		}
		return img, c.pool, nil
	case "mjpeg":
		img, err := c.dec.decode(data)
		if err != nil {
			return nil, nil, err
		}
		if img.Rect.Dx() != m.Width || img.Rect.Dy() != m.Height {
			return nil, nil, fmt.Errorf("%w: %dx%d, the stream is %dx%d", errCorruptJPEG, img.Rect.Dx(), img.Rect.Dy(), m.Width, m.Height)
		}
		if c.fixed && img.SubsampleRatio != c.info.Subsample {
			return nil, nil, fmt.Errorf("%w: %s, the stream is %s", errCorruptJPEG, ycbcr.Name(img.SubsampleRatio), ycbcr.Name(c.info.Subsample))
		}
		return img, nil, nil
	}
	return nil, nil, fmt.Errorf("camera pixel format %s cannot be converted", m.FourCC)
}

// lost closes a device that failed and leaves Next to reopen it.
func (c *Camera) lost(err error) {
	why := err.Error()
	c.lastLoss.Store(&why)
	c.log.Warn("camera lost; reopening it until it is back", "camera", c.path, "why", why)
	c.mu.Lock()
	dev := c.dev
	c.dev = nil
	c.mu.Unlock()
	dev.Close()
}

// reopen tries the path until a camera with the same picture size streams again.
func (c *Camera) reopen(ctx context.Context) error {
	began := time.Now()
	wait := c.retryFirst
	lastLog := began
	req := c.req
	req.Width, req.Height = c.mode.Width, c.mode.Height
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-c.done:
			t.Stop()
			return errClosed
		case <-t.C:
		}
		wait = min(2*wait, c.retryMax)
		dev, err := c.open(c.path, req, c.log)
		if err == nil {
			m := dev.Mode()
			conv, cerr := NewColourConverter(m.Colour)
			if cerr == nil && m.Width == c.mode.Width && m.Height == c.mode.Height && formatName(m.FourCC) != "" {
				c.mu.Lock()
				if c.closed {
					c.mu.Unlock()
					dev.Close()
					return errClosed
				}
				c.dev, c.mode, c.conv = dev, m, conv
				c.mu.Unlock()
				if formatName(m.FourCC) == "yuyv" && c.pool == nil {
					c.pool = NewImagePool(m.Width, m.Height, image.YCbCrSubsampleRatio422)
				}
				c.reconnects.Add(1)
				c.log.Info("camera is back", "camera", c.path, "after", time.Since(began).Round(time.Millisecond), "attempts", attempt)
				return nil
			}
			dev.Close()
			err = fmt.Errorf("it came back as %s %dx%d, the stream is %dx%d", m.FourCC, m.Width, m.Height, c.mode.Width, c.mode.Height)
			if cerr != nil {
				err = cerr
			}
		}
		if time.Since(lastLog) >= logEvery {
			lastLog = time.Now()
			c.log.Warn("camera still missing", "camera", c.path, "for", time.Since(began).Round(time.Second), "err", err)
		}
	}
}

// ListDevices writes the V4L2 capture devices with their formats, frame sizes and
// frame rates, much like v4l2-ctl --list-formats-ext. With no devices it says so
// and returns nil.
func ListDevices(w io.Writer) error {
	devs, err := listV4L2()
	if err != nil {
		return err
	}
	return writeDeviceList(w, devs)
}

// writeDeviceList formats what listV4L2 found.
func writeDeviceList(w io.Writer, devs []camDesc) error {
	ew := &errWriter{w: w}
	if len(devs) == 0 {
		ew.printf("no V4L2 video devices found (no /dev/video* nodes)\n")
		return ew.err
	}
	for i, d := range devs {
		if i > 0 {
			ew.printf("\n")
		}
		ew.printf("%s", d.Path)
		if d.Card != "" {
			ew.printf(": %s (%s, %s)", d.Card, d.Driver, d.Bus)
		}
		ew.printf("\n")
		switch {
		case d.Err != "":
			ew.printf("  cannot query: %s\n", d.Err)
			continue
		case !d.Capture:
			ew.printf("  not a video capture node (metadata or output)\n")
			continue
		case len(d.Formats) == 0:
			ew.printf("  lists no pixel formats\n")
		}
		for _, f := range d.Formats {
			note := ""
			if formatName(f.FourCC) == "" {
				note = "  [hrvs cannot use it]"
			}
			flags := ""
			if f.Compressed {
				flags += ", compressed"
			}
			if f.Emulated {
				flags += ", emulated"
			}
			ew.printf("  %-4s  %s%s%s\n", f.FourCC, f.Description, flags, note)
			for _, s := range f.Sizes {
				ew.printf("    %s  %s\n", sizeText(s), ratesText(s))
			}
		}
		if len(d.Controls) > 0 {
			ew.printf("  controls (hrvs send --ctrl name=value):\n")
			for _, ct := range d.Controls {
				ew.printf("    %s\n", controlText(ct))
			}
		}
	}
	return ew.err
}

func sizeText(s camSize) string {
	if s.Stepwise {
		return fmt.Sprintf("%dx%d to %dx%d step %dx%d", s.MinW, s.MinH, s.Width, s.Height, s.StepW, s.StepH)
	}
	return fmt.Sprintf("%dx%d", s.Width, s.Height)
}

func ratesText(s camSize) string {
	switch {
	case len(s.Rates) > 0:
		rates := append([]float64(nil), s.Rates...)
		sort.Sort(sort.Reverse(sort.Float64Slice(rates)))
		parts := make([]string, len(rates))
		for i, r := range rates {
			parts[i] = fpsText(r)
		}
		return strings.Join(parts, ", ") + " fps"
	case s.MaxFPS > 0:
		return fpsText(s.MinFPS) + " to " + fpsText(s.MaxFPS) + " fps"
	}
	return "(rates not listed)"
}

func fpsText(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.3g", f)
}

// errWriter keeps the first write error so formatting code can stay linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// CameraStatsOf returns the counters of a camera source; ok is false for any other
// source.
func CameraStatsOf(s Source) (st CameraStats, ok bool) {
	if c, isCam := s.(*Camera); isCam {
		return c.Stats(), true
	}
	return CameraStats{}, false
}
