package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// errClosed is what Next returns once the source has been closed.
var errClosed = errors.New("capture: source closed")

// frameReader is one kind of video file as FileSource drives it.
type frameReader interface {
	// read returns the next picture and the pool it came from (nil if none); io.EOF
	// at a clean end of file. An error wrapping errCorruptJPEG is one bad frame,
	// skipped by the caller; any other error ends the stream.
	read() (*image.YCbCr, *ImagePool, error)
	// skip moves past the next frame, without decoding it where it can.
	skip() error
	// rewind starts over at the first frame, for --loop.
	rewind() error
	close() error
}

// FileSource plays a video file in real time: at the file's own frame rate, or the
// one it was opened with, dropping frames when its caller falls behind rather than
// drifting late. With a negative rate (benchmarks) it delivers as fast as it can.
type FileSource struct {
	info Info
	r    frameReader
	loop bool
	log  *slog.Logger

	start   time.Time
	next    uint64 // sequence number of the next frame
	inLoop  uint64 // frames delivered since the last rewind, to catch empty loops
	skipped atomic.Uint64
	dropped atomic.Uint64
	loops   atomic.Uint64
	warn    logLimiter

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

func newFileSource(info Info, r frameReader, o Options) *FileSource {
	info.Stored = true
	switch {
	case o.FPS > 0:
		info.FPS = o.FPS
	case o.FPS < 0:
		info.FPS = 0
	}
	return &FileSource{info: info, r: r, loop: o.Loop, log: o.logger()}
}

// Info describes the stream: the file's size and subsampling and the playing rate.
func (s *FileSource) Info() Info { return s.info }

// Skipped counts frames that could not be decoded (a corrupt JPEG in an MJPEG file)
// and were left out.
func (s *FileSource) Skipped() uint64 { return s.skipped.Load() }

// Dropped counts frames left out to stay in real time because the caller was late.
func (s *FileSource) Dropped() uint64 { return s.dropped.Load() }

// Loops counts how many times --loop restarted the file.
func (s *FileSource) Loops() uint64 { return s.loops.Load() }

// Close stops the decoder (killing and reaping ffmpeg if there is one) and closes the
// file. It is safe to call more than once and from another goroutine than Next's.
func (s *FileSource) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = s.r.close()
	})
	return s.closeErr
}

// Next returns the next frame when it is due.
func (s *FileSource) Next(ctx context.Context) (*Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, errClosed
	}
	var due time.Time
	if s.info.FPS > 0 {
		if s.start.IsZero() {
			s.start = time.Now()
		}
		// Frames whose slot has already passed are dropped, as a live source would.
		now := uint64(time.Since(s.start).Seconds() * s.info.FPS)
		for s.next < now {
			if err := s.advance(); err != nil {
				return nil, s.fail(err)
			}
			s.dropped.Add(1)
			s.next++
		}
		due = s.start.Add(time.Duration(float64(s.next) / s.info.FPS * float64(time.Second)))
	}
	img, pool, err := s.read()
	if err != nil {
		return nil, s.fail(err)
	}
	if d := time.Until(due); !due.IsZero() && d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			if pool != nil {
				pool.Put(img)
			}
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	seq := s.next
	s.next++
	var release func(*Frame)
	if pool != nil {
		release = pool.Release
	}
	return NewFrame(img, seq, time.Now(), release), nil
}

// read returns the next decodable frame, skipping corrupt ones and rewinding at the
// end of the file when looping.
func (s *FileSource) read() (*image.YCbCr, *ImagePool, error) {
	for {
		img, pool, err := s.r.read()
		switch {
		case err == nil:
			s.inLoop++
			return img, pool, nil
		case errors.Is(err, errCorruptJPEG):
			n := s.skipped.Add(1)
			s.warn.do(func() {
				s.log.Warn("skipping a corrupt frame", "source", s.info.Name, "skipped", n, "err", err)
			})
		case err == io.EOF:
			if err := s.rewind(); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, err
		}
	}
}

// advance moves one frame on without decoding it where the format allows.
func (s *FileSource) advance() error {
	for {
		err := s.r.skip()
		switch {
		case err == nil:
			s.inLoop++
			return nil
		case errors.Is(err, errCorruptJPEG):
			s.skipped.Add(1)
		case err == io.EOF:
			if err := s.rewind(); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// rewind starts the file over when looping; otherwise the end is the end.
func (s *FileSource) rewind() error {
	if !s.loop {
		return ErrEnd
	}
	if s.inLoop == 0 {
		return fmt.Errorf("%s: no frames to loop over", s.info.Name)
	}
	s.inLoop = 0
	if err := s.r.rewind(); err != nil {
		return fmt.Errorf("%s: restarting for --loop: %w", s.info.Name, err)
	}
	s.loops.Add(1)
	s.log.Debug("file restarted", "source", s.info.Name, "loop", s.loops.Load())
	return nil
}

// fail turns a reader error into the error Next returns.
func (s *FileSource) fail(err error) error {
	switch {
	case err == ErrEnd:
		return ErrEnd
	case s.closed.Load():
		return errClosed
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: file is truncated: it ends inside frame %d", s.info.Name, s.next)
	}
	return fmt.Errorf("%s: frame %d: %w", s.info.Name, s.next, err)
}

// y4mFile reads a YUV4MPEG2 file.
type y4mFile struct {
	f    *os.File
	y    *y4mReader
	pool *ImagePool
}

func openY4M(f *os.File, o Options) (*FileSource, error) {
	y, err := newY4MReader(f)
	if err != nil {
		return nil, err
	}
	h := y.hdr
	r := &y4mFile{f: f, y: y, pool: NewImagePool(h.Width, h.Height, h.OutSub())}
	detail := fmt.Sprintf("YUV4MPEG2 C%s", h.Chroma)
	if h.OutSub() != h.Sub || h.Mono {
		detail += " converted to 4:2:0"
	}
	if h.FullRange {
		detail += ", full range"
	}
	info := Info{Name: f.Name(), Width: h.Width, Height: h.Height, FPS: h.FPS(), Subsample: h.OutSub(), Detail: detail}
	return newFileSource(info, r, o), nil
}

func (r *y4mFile) read() (*image.YCbCr, *ImagePool, error) {
	img := r.pool.Get()
	out, err := r.y.readFrame(img)
	if err != nil || out != img {
		r.pool.Put(img)
	}
	if err != nil {
		return nil, nil, err
	}
	if out != img {
		return out, nil, nil
	}
	return out, r.pool, nil
}

func (r *y4mFile) skip() error { return r.y.skipFrame() }

func (r *y4mFile) rewind() error {
	if _, err := r.f.Seek(r.y.hdrLen, io.SeekStart); err != nil {
		return err
	}
	r.y.reset(r.f)
	return nil
}

func (r *y4mFile) close() error { return r.f.Close() }

// mjpegFile reads a file of concatenated JPEG frames. Such files carry no frame
// rate; they play at 25 fps, as ffmpeg assumes, unless --fps says otherwise.
type mjpegFile struct {
	f     *os.File
	split *jpegSplitter
	dec   jpegDecoder
	w, h  int
	sub   image.YCbCrSubsampleRatio
	first *image.YCbCr // decoded while opening, to learn the size
}

// mjpegDefaultRate is the rate of an MJPEG file when --fps is not given.
const mjpegDefaultRate = 25

func openMJPEG(f *os.File, o Options) (*FileSource, error) {
	r := &mjpegFile{f: f, split: newJPEGSplitter(f)}
	frame, err := r.split.next()
	if err != nil {
		return nil, fmt.Errorf("first JPEG frame: %w", unexpectedAsTruncated(err))
	}
	img, err := r.dec.decode(frame)
	if err != nil {
		return nil, fmt.Errorf("first JPEG frame: %w", err)
	}
	r.first, r.w, r.h, r.sub = img, img.Rect.Dx(), img.Rect.Dy(), img.SubsampleRatio
	info := Info{Name: f.Name(), Width: r.w, Height: r.h, FPS: mjpegDefaultRate, Subsample: r.sub,
		Detail: fmt.Sprintf("MJPEG %s, full range", subsampleName(r.sub))}
	return newFileSource(info, r, o), nil
}

func unexpectedAsTruncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return fmt.Errorf("file is truncated or holds no JPEG frame")
	}
	return err
}

func (r *mjpegFile) read() (*image.YCbCr, *ImagePool, error) {
	if img := r.first; img != nil {
		r.first = nil
		return img, nil, nil
	}
	frame, err := r.split.next()
	if err != nil {
		return nil, nil, err
	}
	img, err := r.dec.decode(frame)
	if err != nil {
		return nil, nil, err
	}
	if img.Rect.Dx() != r.w || img.Rect.Dy() != r.h || img.SubsampleRatio != r.sub {
		return nil, nil, fmt.Errorf("%w: %dx%d %s, the stream is %dx%d %s", errCorruptJPEG,
			img.Rect.Dx(), img.Rect.Dy(), subsampleName(img.SubsampleRatio), r.w, r.h, subsampleName(r.sub))
	}
	return img, nil, nil
}

func (r *mjpegFile) skip() error {
	if r.first != nil {
		r.first = nil
		return nil
	}
	_, err := r.split.next()
	return err
}

func (r *mjpegFile) rewind() error {
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r.first = nil
	r.split.reset(r.f)
	return nil
}

func (r *mjpegFile) close() error { return r.f.Close() }

// logLimiter lets a repeated warning through at most once per interval, so a
// stream of bad frames is reported without flooding the log.
type logLimiter struct {
	mu   sync.Mutex
	last time.Time
}

const logEvery = 10 * time.Second

func (l *logLimiter) do(fn func()) {
	l.mu.Lock()
	now := time.Now()
	ok := l.last.IsZero() || now.Sub(l.last) >= logEvery
	if ok {
		l.last = now
	}
	l.mu.Unlock()
	if ok {
		fn()
	}
}
