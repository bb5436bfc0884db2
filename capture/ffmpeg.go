package capture

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ffmpegInstallHint ends every error about a missing ffmpeg.
const ffmpegInstallHint = "install it with apt-get install ffmpeg"

// errNoFFmpeg marks a file that needs ffmpeg on a machine without it.
var errNoFFmpeg = errors.New("ffmpeg is not on PATH")

// probeTimeout bounds ffprobe; a file it cannot read in this time is not playable.
const probeTimeout = 30 * time.Second

// videoProbe is what ffprobe says about a file's first video stream.
type videoProbe struct {
	Codec      string
	Width      int
	Height     int
	PixFmt     string
	FPS        float64
	ColorRange string // "tv", "pc", "unknown" or absent
	ColorSpace string // the matrix: "bt709", "bt470bg", "smpte170m", "unknown"...
}

// colour is how the frames ffmpeg delivers (outPixFmt) are to be read. The range
// is full for yuvj formats and streams tagged "pc", limited otherwise (ffmpeg's
// default for untagged video, and what it converts RGB sources to). The matrix is
// BT.709 or BT.2020 when the stream says so and BT.601 otherwise, as ffmpeg's own
// conversions assume for untagged video.
func (p videoProbe) colour() Colour {
	c := Colour{Range: RangeLimited}
	if strings.HasPrefix(p.PixFmt, "yuvj") || p.ColorRange == "pc" {
		c.Range = RangeFull
	}
	switch p.ColorSpace {
	case "bt709":
		c.Matrix = MatrixBT709
	case "bt2020nc", "bt2020c":
		c.Matrix = MatrixBT2020
	}
	return c
}

// outPixFmt picks the raw format ffmpeg delivers: 4:2:2 stays 4:2:2, everything
// else becomes 4:2:0, and the range stays the source's (yuvj for full range) so
// that samples are passed on unchanged and converted once, by colour's converter,
// rather than rescaled by ffmpeg too.
func (p videoProbe) outPixFmt() (string, image.YCbCrSubsampleRatio) {
	j := ""
	if p.colour().Range == RangeFull {
		j = "j"
	}
	if strings.Contains(p.PixFmt, "422") {
		return "yuv" + j + "422p", image.YCbCrSubsampleRatio422
	}
	return "yuv" + j + "420p", image.YCbCrSubsampleRatio420
}

// parseProbe reads ffprobe's "key=value" lines (-of default=noprint_wrappers=1).
func parseProbe(out []byte) (videoProbe, error) {
	var p videoProbe
	var avg, base float64
	var rotation int
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "codec_name":
			p.Codec = v
		case "width":
			p.Width, _ = strconv.Atoi(v)
		case "height":
			p.Height, _ = strconv.Atoi(v)
		case "pix_fmt":
			p.PixFmt = v
		case "color_range":
			p.ColorRange = v
		case "color_space":
			p.ColorSpace = v
		case "avg_frame_rate":
			avg = parseRate(v)
		case "r_frame_rate":
			base = parseRate(v)
		case "rotation", "TAG:rotate": // display matrix (newer ffmpeg) or the old tag
			if r, err := strconv.ParseFloat(v, 64); err == nil {
				rotation = int(math.Round(r))
			}
		}
	}
	if p.Width <= 0 || p.Height <= 0 {
		return p, fmt.Errorf("no video stream")
	}
	// ffmpeg turns a file shot on its side (a phone's portrait video) upright, so
	// the frames it delivers have width and height swapped.
	if r := ((rotation % 360) + 360) % 360; r == 90 || r == 270 {
		p.Width, p.Height = p.Height, p.Width
	}
	// The average rate is the truer one for variable-rate files; the base rate
	// covers containers that do not record an average.
	switch {
	case avg > 0 && avg <= maxFileFPS:
		p.FPS = avg
	case base > 0 && base <= maxFileFPS:
		p.FPS = base
	default:
		p.FPS = 25
	}
	return p, nil
}

// parseRate parses ffprobe's "num/den"; 0 for "0/0" or garbage.
func parseRate(s string) float64 {
	a, b, ok := strings.Cut(s, "/")
	n, err1 := strconv.ParseFloat(a, 64)
	if !ok {
		if err1 != nil {
			return 0
		}
		return n
	}
	d, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || d == 0 {
		return 0
	}
	return n / d
}

// lookFFmpeg finds ffmpeg and ffprobe, or says how to get them.
func lookFFmpeg(name string) (ffmpeg, ffprobe string, err error) {
	if ffmpeg, err = exec.LookPath("ffmpeg"); err == nil {
		ffprobe, err = exec.LookPath("ffprobe")
	}
	if err != nil {
		return "", "", fmt.Errorf("%s is not Y4M or MJPEG, so it is decoded with ffmpeg, but %w: %s",
			name, errNoFFmpeg, ffmpegInstallHint)
	}
	return ffmpeg, ffprobe, nil
}

// probe runs ffprobe on path.
func probe(ffprobe, path string) (videoProbe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,pix_fmt,color_range,color_space,avg_frame_rate,r_frame_rate:stream_tags=rotate:stream_side_data=rotation",
		"-of", "default=noprint_wrappers=1", "--", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimPrefix(lastLine(stderr.String()), path+": "); msg != "" {
			return videoProbe{}, fmt.Errorf("ffmpeg cannot read it: %s", msg)
		}
		return videoProbe{}, fmt.Errorf("ffprobe: %w", err)
	}
	p, err := parseProbe(out)
	if err != nil {
		return p, fmt.Errorf("ffmpeg finds %w in it", err)
	}
	return p, nil
}

// ffmpegReader decodes a file with an ffmpeg child process that writes raw planar
// frames to its stdout. The child is always reaped: at the end of the file, on a
// restart for --loop, and on close (which kills it first).
type ffmpegReader struct {
	path, ffmpeg string
	fps          float64
	// byPTS: every frame is passed through with its own presentation time (read
	// from pipe 3, see ffmpeg_pts.go) instead of being resampled to fps.
	byPTS   bool
	lastPTS time.Duration // the presentation time of the frame read last
	pixFmt  string
	w, h    int
	pool    *ImagePool
	log     *slog.Logger

	mu     sync.Mutex
	p      *ffmpegProc
	closed bool
	first  *image.YCbCr // decoded while opening, to fail early on undecodable files

	// copied: an MJPEG stream handed through (Options.JPEG): ffmpeg copies the
	// frames out of the container undecoded and split cuts them apart.
	copied *copiedJPEG
}

func openFFmpeg(path string, o Options) (*FileSource, error) {
	ffmpeg, ffprobe, err := lookFFmpeg(path)
	if err != nil {
		return nil, err
	}
	vp, err := probe(ffprobe, path)
	if err != nil {
		return nil, err
	}
	pixFmt, sub := vp.outPixFmt()
	if o.JPEG && vp.Codec == "mjpeg" {
		return openCopiedMJPEG(path, ffmpeg, vp, sub, o)
	}
	// Played at the file's own pace (or as fast as possible), frames keep their
	// own times; a rate given with --fps resamples the file to its probed rate as
	// before and plays those frames at the rate given.
	r := &ffmpegReader{path: path, ffmpeg: ffmpeg, fps: vp.FPS, byPTS: o.FPS <= 0, pixFmt: pixFmt, w: vp.Width, h: vp.Height,
		pool: NewImagePool(vp.Width, vp.Height, sub), log: o.logger()}
	if err := r.start(); err != nil {
		return nil, err
	}
	first, _, err := r.read()
	if err != nil {
		r.close()
		if err == io.EOF {
			return nil, fmt.Errorf("ffmpeg decodes no frame from it")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("file is truncated before its first frame")
		}
		return nil, err
	}
	r.first = first
	detail := fmt.Sprintf("%s %s via ffmpeg as %s, %s", vp.Codec, vp.PixFmt, pixFmt, colourDetail(vp.colour()))
	info := Info{Name: path, Width: vp.Width, Height: vp.Height, FPS: vp.FPS, Subsample: sub, Colour: vp.colour(), Detail: detail}
	src, err := newFileSource(info, r, o)
	if err != nil {
		r.close()
		return nil, err
	}
	return src, nil
}

// args is ffmpeg's command line: the first video stream only, as raw planes on
// stdout. With byPTS every decoded frame comes out once with its own timestamp
// (-vsync passthrough, accepted by ffmpeg 4 to 7; -enc_time_base -1 keeps the
// stream's time base so no two timestamps merge), and the framecrc output on pipe
// 3 gives those timestamps. Otherwise frames are resampled to the probed rate, so
// the frame count matches the rate the source paces at.
func (r *ffmpegReader) args() []string {
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error",
		"-i", r.path, "-map", "0:v:0", "-an", "-sn", "-dn"}
	if r.copied != nil {
		return append(args, "-c:v", "copy", "-f", "mjpeg", "pipe:1")
	}
	if r.byPTS {
		args = append(args, "-vsync", "passthrough", "-enc_time_base", "-1")
	} else {
		args = append(args, "-r", strconv.FormatFloat(r.fps, 'f', -1, 64))
	}
	args = append(args, "-f", "rawvideo", "-pix_fmt", r.pixFmt, "pipe:1")
	if r.byPTS {
		args = append(args, "-map", "0:v:0", "-an", "-sn", "-dn", "-enc_time_base", "-1",
			"-c:v", "wrapped_avframe", "-flush_packets", "1", "-f", "framecrc", "pipe:3")
	}
	return args
}

func (r *ffmpegReader) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errClosed
	}
	cmd := exec.Command(r.ffmpeg, r.args()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	p := &ffmpegProc{cmd: cmd, stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = p.stderr
	var timesR, timesW *os.File
	if r.byPTS {
		if timesR, timesW, err = os.Pipe(); err != nil {
			return fmt.Errorf("a pipe for ffmpeg's frame times: %w", err)
		}
		cmd.ExtraFiles = []*os.File{timesW} // the child's fd 3
	}
	err = cmd.Start()
	if timesW != nil {
		timesW.Close() // the child holds its own copy; its exit ends the pipe
	}
	if err != nil {
		if timesR != nil {
			timesR.Close()
		}
		return fmt.Errorf("starting ffmpeg: %w", err)
	}
	if timesR != nil {
		p.times = newFrameTimes(timesR)
	}
	p.out = bufio.NewReaderSize(stdout, 1<<20)
	r.p = p
	return nil
}

func (r *ffmpegReader) proc() *ffmpegProc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p
}

func (r *ffmpegReader) read() (*image.YCbCr, *ImagePool, error) {
	if r.copied != nil {
		return nil, nil, r.copied.read(r)
	}
	if img := r.first; img != nil {
		r.first = nil
		return img, r.pool, nil
	}
	p := r.proc()
	img := r.pool.Get()
	cw, ch := (r.w+1)/2, (r.h+1)/2
	if img.SubsampleRatio == image.YCbCrSubsampleRatio422 {
		ch = r.h
	}
	planes := [3][]byte{img.Y[:r.w*r.h], img.Cb[:cw*ch], img.Cr[:cw*ch]}
	for i, pl := range planes {
		n, err := io.ReadFull(p.out, pl)
		if err == nil {
			continue
		}
		r.pool.Put(img)
		end := r.finish(p)
		if i == 0 && n == 0 && err == io.EOF {
			return nil, nil, end // the stream ended between frames
		}
		if end == io.EOF {
			return nil, nil, io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("ffmpeg stopped inside a frame: %w", end)
	}
	if p.times != nil {
		// A frame whose time is unknown follows the last one by a nominal interval.
		if pts, ok := p.times.next(); ok {
			r.lastPTS = pts
		} else {
			r.lastPTS += time.Duration(float64(time.Second) / r.fps)
		}
	}
	return img, r.pool, nil
}

func (r *ffmpegReader) skip() error {
	if r.copied != nil {
		return r.copied.read(r)
	}
	if r.first != nil {
		r.pool.Put(r.first)
		r.first = nil
		return nil
	}
	img, pool, err := r.read()
	if err == nil {
		pool.Put(img)
	}
	return err
}

// finish reaps the child after its output ended and says why it ended: io.EOF for
// a clean end, otherwise ffmpeg's own last words. ffmpeg exits 0 on some damaged
// files (a truncated MKV only logs "File ended prematurely"), so anything it
// logged at error level also counts as a failure.
func (r *ffmpegReader) finish(p *ffmpegProc) error {
	err := p.wait()
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return errClosed
	}
	tail := p.stderr.String()
	if err == nil && strings.TrimSpace(tail) == "" {
		return io.EOF
	}
	r.log.Error("ffmpeg failed", "file", r.path, "exit", fmt.Sprint(err), "stderr", tail)
	msg := lastLine(tail)
	if msg == "" {
		msg = "no message"
	}
	if err != nil {
		return fmt.Errorf("ffmpeg failed (%v): %s", err, msg)
	}
	return fmt.Errorf("ffmpeg reported an error: %s", msg)
}

func (r *ffmpegReader) pts() (time.Duration, bool) { return r.lastPTS, r.byPTS }

func (r *ffmpegReader) timed() bool { return r.byPTS }

func (r *ffmpegReader) rewind() error {
	if p := r.proc(); p != nil {
		p.kill()
	}
	if r.first != nil {
		r.pool.Put(r.first)
		r.first = nil
	}
	if err := r.start(); err != nil {
		return err
	}
	if r.copied != nil {
		r.copied.restart(r.proc())
	}
	return nil
}

func (r *ffmpegReader) close() error {
	r.mu.Lock()
	r.closed = true
	p := r.p
	r.mu.Unlock()
	if p != nil {
		p.kill()
	}
	return nil
}

// ffmpegProc is one run of ffmpeg.
type ffmpegProc struct {
	cmd      *exec.Cmd
	out      *bufio.Reader
	stderr   *tailBuffer
	times    *frameTimes // each frame's time, when passed through by pts
	waitOnce sync.Once
	waitErr  error
}

// wait reaps the process once, and the reader of its frame times; later calls
// return the first result.
func (p *ffmpegProc) wait() error {
	p.waitOnce.Do(func() {
		p.waitErr = p.cmd.Wait()
		if p.times != nil {
			p.times.close()
		}
	})
	return p.waitErr
}

// kill stops the process and reaps it.
func (p *ffmpegProc) kill() {
	p.cmd.Process.Kill()
	p.wait()
}

// tailBuffer keeps the last max bytes written to it: ffmpeg's stderr, for errors.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// ffmpegContext is the "[matroska,webm @ 0x55d0c2a4] " prefix ffmpeg puts on
// messages from its components; it says nothing to a user.
var ffmpegContext = regexp.MustCompile(`^\[[^\]]* @ 0x[0-9a-f]+\] `)

// lastLine is the last non-empty line of s, without ffmpeg's component prefix.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return ffmpegContext.ReplaceAllString(l, "")
		}
	}
	return ""
}
