package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/hrvs/hrvs/capture"
)

// The benchmark's clips are YUV4MPEG2 files, 4:2:0 only: every system under test can
// read them (GStreamer's y4mdec, ffmpeg, hrvs send --source FILE) and the runner can
// find frame i by arithmetic, without an index.

// ErrY4M marks a file the benchmark's reader does not understand.
var ErrY4M = errors.New("y4m")

const (
	y4mMagic     = "YUV4MPEG2"
	y4mFrameTag  = "FRAME\n"
	y4mMaxHeader = 256
	y4mMaxSide   = 16384
)

// y4mHeader is what the benchmark needs from a stream header.
type y4mHeader struct {
	W, H int
	FPS  float64
	Len  int // bytes of the header line including its newline
}

// frameBytes is the size of one 4:2:0 picture.
func (h y4mHeader) frameBytes() int { return frameBytes(h.W, h.H) }

func frameBytes(w, h int) int {
	cw, ch := (w+1)/2, (h+1)/2
	return w*h + 2*cw*ch
}

// parseY4MHeader reads the stream header at the start of b with capture's parser, and
// accepts only 4:2:0 (C420, C420jpeg, C420paldv, C420mpeg2, or no C tag) progressive
// clips: the benchmark compares raw planes, so anything else would need a conversion
// that muddies the comparison.
func parseY4MHeader(b []byte) (y4mHeader, error) {
	end := bytes.IndexByte(b, '\n')
	if end < 0 || end > y4mMaxHeader {
		return y4mHeader{}, fmt.Errorf("%w: no header line in the first %d bytes", ErrY4M, y4mMaxHeader)
	}
	c, err := capture.ParseY4MHeader(b[:end])
	switch {
	case err != nil:
		return y4mHeader{}, fmt.Errorf("%w: %v", ErrY4M, err)
	case c.Sub != image.YCbCrSubsampleRatio420 || c.Mono:
		return y4mHeader{}, fmt.Errorf("%w: colour space %q is not 4:2:0", ErrY4M, c.Chroma)
	case c.Interlace != "p" && c.Interlace != "?":
		return y4mHeader{}, fmt.Errorf("%w: interlaced clips are not supported", ErrY4M)
	}
	return y4mHeader{W: c.Width, H: c.Height, FPS: c.FPS(), Len: end + 1}, nil
}

// y4mWriter writes a 4:2:0 clip.
type y4mWriter struct {
	w    *bufio.Writer
	size image.Point
}

// newY4MWriter writes a clip whose samples are full-range (JFIF) levels, as the pattern
// and the photographs are, and says so (XCOLORRANGE=FULL): a reader that assumes the
// Y4M default, limited range, would stretch them (capture does for limited clips).
func newY4MWriter(w io.Writer, width, height int, fps float64) (*y4mWriter, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := fmt.Fprintf(bw, "%s W%d H%d F%d:1 Ip A1:1 C420jpeg XCOLORRANGE=FULL\n", y4mMagic, width, height, int(fps)); err != nil {
		return nil, fmt.Errorf("write y4m header: %w", err)
	}
	return &y4mWriter{w: bw, size: image.Pt(width, height)}, nil
}

// WriteFrame appends one picture, which must be 4:2:0 and of the clip's size.
func (y *y4mWriter) WriteFrame(img *image.YCbCr) error {
	if img.SubsampleRatio != image.YCbCrSubsampleRatio420 || img.Rect.Size() != y.size {
		return fmt.Errorf("%w: frame %v %v does not match the clip %v 4:2:0", ErrY4M, img.Rect.Size(), img.SubsampleRatio, y.size)
	}
	if _, err := y.w.WriteString(y4mFrameTag); err != nil {
		return fmt.Errorf("write y4m frame: %w", err)
	}
	return writePlanes(y.w, img)
}

// Flush writes what is buffered.
func (y *y4mWriter) Flush() error { return y.w.Flush() }

// writePlanes writes img's three planes without row padding: the I420 layout that
// rawvideo readers (GStreamer rawvideoparse, ffmpeg -f rawvideo) expect.
func writePlanes(w io.Writer, img *image.YCbCr) error {
	width, height := img.Rect.Dx(), img.Rect.Dy()
	cw, ch := (width+1)/2, (height+1)/2
	for y := 0; y < height; y++ {
		o := y * img.YStride
		if _, err := w.Write(img.Y[o : o+width]); err != nil {
			return fmt.Errorf("write frame: %w", err)
		}
	}
	for _, p := range [][]byte{img.Cb, img.Cr} {
		for y := 0; y < ch; y++ {
			o := y * img.CStride
			if _, err := w.Write(p[o : o+cw]); err != nil {
				return fmt.Errorf("write frame: %w", err)
			}
		}
	}
	return nil
}

// fromPlanes makes a 4:2:0 image that shares buf, which holds I420 planes without
// padding, as frameBytes(w, h) bytes.
func fromPlanes(buf []byte, w, h int) *image.YCbCr {
	cw, ch := (w+1)/2, (h+1)/2
	return &image.YCbCr{
		Y: buf[:w*h], Cb: buf[w*h : w*h+cw*ch], Cr: buf[w*h+cw*ch : w*h+2*cw*ch],
		YStride: w, CStride: cw, SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect: image.Rect(0, 0, w, h),
	}
}

// y4mClip reads frames of a clip by index. Clips the benchmark writes (and ffmpeg's
// yuv4mpegpipe output) carry no per-frame parameters, so frame i starts at a fixed
// offset; a frame whose tag is not a bare "FRAME\n" is reported as an error.
type y4mClip struct {
	r   io.ReaderAt
	hdr y4mHeader
	n   int // frames in the file
}

func openY4MClip(r io.ReaderAt, size int64) (*y4mClip, error) {
	head := make([]byte, y4mMaxHeader)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read y4m header: %w", err)
	}
	hdr, err := parseY4MHeader(head[:n])
	if err != nil {
		return nil, err
	}
	per := int64(len(y4mFrameTag) + hdr.frameBytes())
	return &y4mClip{r: r, hdr: hdr, n: int((size - int64(hdr.Len)) / per)}, nil
}

// Frame reads frame i into buf (frameBytes long) and returns it as an image.
func (c *y4mClip) Frame(i int, buf []byte) (*image.YCbCr, error) {
	if i < 0 || i >= c.n {
		return nil, fmt.Errorf("%w: frame %d outside the clip's %d", ErrY4M, i, c.n)
	}
	fb := c.hdr.frameBytes()
	if len(buf) < fb {
		return nil, fmt.Errorf("%w: buffer of %d bytes for a %d-byte frame", ErrY4M, len(buf), fb)
	}
	off := int64(c.hdr.Len) + int64(i)*int64(len(y4mFrameTag)+fb)
	var tag [len(y4mFrameTag)]byte
	if _, err := c.r.ReadAt(tag[:], off); err != nil {
		return nil, fmt.Errorf("read y4m frame %d: %w", i, err)
	}
	if string(tag[:]) != y4mFrameTag {
		return nil, fmt.Errorf("%w: frame %d has parameters or is misplaced", ErrY4M, i)
	}
	if _, err := c.r.ReadAt(buf[:fb], off+int64(len(tag))); err != nil {
		return nil, fmt.Errorf("read y4m frame %d: %w", i, err)
	}
	return fromPlanes(buf[:fb], c.hdr.W, c.hdr.H), nil
}
