package capture

import (
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"github.com/hrvs/hrvs/internal/ycbcr"
)

// jpegPass hands an MJPEG source's frames through compressed (Options.JPEG): each
// frame's bytes are copied into a buffer the frame owns until Release, and decoded
// only when the frame's Decode is called, by a decoder of its own (Decode may run
// on another goroutine than the source's reads).
type jpegPass struct {
	w, h int
	sub  image.YCbCrSubsampleRatio
	bufs sync.Pool // *[]byte

	mu  sync.Mutex // guards dec
	dec jpegDecoder
}

func newJPEGPass(w, h int, sub image.YCbCrSubsampleRatio) *jpegPass {
	return &jpegPass{w: w, h: h, sub: sub}
}

// frame wraps a copy of data as frame seq captured at t.
func (p *jpegPass) frame(data []byte, seq uint64, t time.Time) *Frame {
	b, _ := p.bufs.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	*b = append((*b)[:0], data...)
	f := &Frame{JPEG: *b, Seq: seq, Time: t, decode: p.decode}
	f.release = func(f *Frame) {
		f.JPEG = nil
		p.bufs.Put(b)
	}
	return f
}

// decode decodes one handed-through frame, which must have the stream's size and
// subsampling.
func (p *jpegPass) decode(data []byte) (*image.YCbCr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	img, err := p.dec.decode(data)
	if err != nil {
		return nil, err
	}
	if img.Rect.Dx() != p.w || img.Rect.Dy() != p.h || img.SubsampleRatio != p.sub {
		return nil, fmt.Errorf("%w: %dx%d %s, the stream is %dx%d %s", errCorruptJPEG,
			img.Rect.Dx(), img.Rect.Dy(), ycbcr.Name(img.SubsampleRatio), p.w, p.h, ycbcr.Name(p.sub))
	}
	return img, nil
}

// jpegPasser is a frameReader that can hand its frames through: after a read that
// returned no picture, passed wraps the frame it read.
type jpegPasser interface {
	passed(seq uint64, t time.Time) *Frame
}

// copiedJPEG is an ffmpegReader's state when it hands an MJPEG stream through:
// ffmpeg runs with -c:v copy -f mjpeg, so the camera's JPEGs come out of the
// container (AVI, MOV, MKV) as they were stored, and the splitter cuts them apart.
type copiedJPEG struct {
	pass  *jpegPass
	split *jpegSplitter
	cur   []byte
}

// openCopiedMJPEG plays an MJPEG stream in a container, its frames handed through.
// The first frame is decoded once, to fail early on a file that does not play and
// to check the subsampling the probe reported.
func openCopiedMJPEG(path, ffmpeg string, vp videoProbe, sub image.YCbCrSubsampleRatio, o Options) (*FileSource, error) {
	r := &ffmpegReader{path: path, ffmpeg: ffmpeg, fps: vp.FPS, w: vp.Width, h: vp.Height, log: o.logger(),
		copied: &copiedJPEG{pass: newJPEGPass(vp.Width, vp.Height, sub)}}
	if err := r.start(); err != nil {
		return nil, err
	}
	r.copied.restart(r.proc())
	if err := r.copied.read(r); err != nil {
		r.close()
		if err == io.EOF {
			return nil, fmt.Errorf("ffmpeg copies no frame out of it")
		}
		return nil, err
	}
	if _, err := r.copied.pass.decode(r.copied.cur); err != nil {
		r.close()
		return nil, fmt.Errorf("first JPEG frame: %w", err)
	}
	if err := r.rewind(); err != nil { // play from the first frame again
		r.close()
		return nil, err
	}
	detail := fmt.Sprintf("%s %s copied out by ffmpeg, frames handed through undecoded", vp.Codec, vp.PixFmt)
	info := Info{Name: path, Width: vp.Width, Height: vp.Height, FPS: vp.FPS, Subsample: sub, Detail: detail}
	src, err := newFileSource(info, r, o)
	if err != nil {
		r.close()
		return nil, err
	}
	return src, nil
}

// restart reads the frames of a new run of ffmpeg.
func (c *copiedJPEG) restart(p *ffmpegProc) {
	if c.split == nil {
		c.split = newJPEGSplitter(p.out)
		return
	}
	c.split.reset(p.out)
}

// read cuts the next frame out of ffmpeg's output into cur. At the end of the
// output it reaps ffmpeg and says why it ended (io.EOF for a clean end).
func (c *copiedJPEG) read(r *ffmpegReader) error {
	frame, err := c.split.next()
	switch {
	case err == io.EOF:
		return r.finish(r.proc())
	case errors.Is(err, io.ErrUnexpectedEOF):
		if end := r.finish(r.proc()); end != io.EOF {
			return end
		}
		return io.ErrUnexpectedEOF
	case err != nil:
		return err
	}
	c.cur = frame
	return nil
}

// passed wraps the frame read last, handed through compressed.
func (r *ffmpegReader) passed(seq uint64, t time.Time) *Frame {
	return r.copied.pass.frame(r.copied.cur, seq, t)
}
