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

	"github.com/hrvs/hrvs/internal/ycbcr"
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
	// pts is the presentation time of the frame read or skipped last, from the
	// file's own clock; ok is false for formats that have none (frames then fall
	// every 1/FPS).
	pts() (pts time.Duration, ok bool)
	close() error
}

// FileSource plays a video file in real time: at the file's own frame rate, or the
// one it was opened with. A caller that falls behind by less than catchUp gets the
// frames it missed at once, in order, and so catches up without losing any (the
// first frames of a stream cost more than the rest); one further behind loses the
// frames older than that rather than drifting ever later. With a negative rate
// (benchmarks) it delivers as fast as it can.
type FileSource struct {
	info Info
	r    frameReader
	loop bool
	log  *slog.Logger
	// conv turns the reader's samples into JFIF's, once a frame is to be shown
	// (dropped frames are never converted); nil when they are JFIF's already.
	conv *ColourConverter

	start time.Time
	next  uint64 // sequence number of the next frame
	// timed pacing, by the reader's presentation times rather than 1/FPS slots
	timed       bool
	passStarted bool          // passFirst holds the first time of this pass through the file
	passFirst   time.Duration // the reader's time of the pass's first frame
	passBase    time.Duration // where this pass starts on the play clock (--loop)
	shown       bool          // lastAt and lastGap are set
	lastAt      time.Duration
	lastGap     time.Duration

	inLoop  uint64 // frames delivered since the last rewind, to catch empty loops
	skipped atomic.Uint64
	dropped atomic.Uint64
	loops   atomic.Uint64
	warn    logLimiter

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

// newFileSource plays what r reads, converting it from info.Colour.
func newFileSource(info Info, r frameReader, o Options) (*FileSource, error) {
	conv, err := NewColourConverter(info.Colour)
	if err != nil {
		return nil, err
	}
	info.Stored = true
	switch {
	case o.FPS > 0:
		info.FPS = o.FPS
	case o.FPS < 0:
		info.FPS = 0
	}
	return &FileSource{info: info, r: r, loop: o.Loop, log: o.logger(), conv: conv, timed: o.FPS == 0 && isTimed(r)}, nil
}

// isTimed reports readers that give every frame its presentation time.
func isTimed(r frameReader) bool {
	t, ok := r.(interface{ timed() bool })
	return ok && t.timed()
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

// Next returns the next frame when it is due. Every frame of the file has its time
// slot, whether it is shown, dropped because the caller was late, or skipped as
// corrupt, so a file plays at its real rate whatever is left out. A reader that
// knows each frame's presentation time (ffmpeg's, for variable-rate files) is
// paced by it; the others get a slot every 1/FPS.
func (s *FileSource) Next(ctx context.Context) (*Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, errClosed
	}
	paced := s.info.FPS > 0
	entry := time.Now()
	// Dropping stops after dropBudget (or two frame intervals, if longer) spent on
	// it: a reader slower than real time (a busy machine decoding 1080p) would
	// otherwise chase a backlog that grows faster than it is read, and never
	// deliver again. The clock then restarts at the frame in hand, and the file
	// plays slower.
	budget := max(dropBudget, 2*time.Duration(float64(time.Second)/s.info.FPS))
	overBudget := func() bool { return time.Since(entry) >= budget }
	// The play clock starts when the first frame is ready to show (see below).
	if paced && !s.start.IsZero() {
		// Frames whose slot passed more than catchUp ago are dropped, as a live
		// source would drop them; the others are delivered late.
		now := uint64(max(0, (entry.Sub(s.start)-catchUp).Seconds()) * s.info.FPS)
		for !s.timed && s.next < now {
			if overBudget() {
				s.start = time.Now().Add(-s.slotTime(s.next))
				break
			}
			if err := s.advance(); err != nil {
				return nil, s.fail(err)
			}
			s.dropped.Add(1)
		}
	}
	for {
		img, pool, err := s.read()
		if err != nil {
			return nil, s.fail(err)
		}
		if !paced {
			s.conv.Convert(img)
			return s.deliver(img, pool), nil
		}
		at, gap := s.when()
		first := s.start.IsZero()
		due := s.start.Add(at)
		// A frame that the next one had replaced more than catchUp before this
		// call began is dropped, as a live source would (timed files; slotted
		// ones skipped theirs above, without decoding).
		if !first && s.timed && entry.Sub(due) >= gap+catchUp {
			if !overBudget() {
				if pool != nil {
					pool.Put(img)
				}
				s.dropped.Add(1)
				s.next++
				continue
			}
			now := time.Now()
			s.start, due = now.Add(-at), now
		}
		s.conv.Convert(img)
		if first {
			// Anchored once the first frame is read and converted, so that its
			// cost does not make every later frame early relative to it.
			now := time.Now()
			s.start, due = now.Add(-at), now
		}
		if d := time.Until(due); d > 0 {
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
		return s.deliver(img, pool), nil
	}
}

// dropBudget bounds the time one Next spends dropping late frames; a caller that
// was late (the sender busy) catches up well within it.
const dropBudget = 250 * time.Millisecond

// catchUp is how far behind the file's clock a caller may fall and still get every
// frame: a sender's first frames take several times the steady cost (the rate
// probe starting low, buffers and caches filling), about 130 ms at 1080p on two
// cores, and a burst of other work on a shared CPU costs as much; a file has no
// reason to lose frames to either, and the sender catches up within a second.
const catchUp = 200 * time.Millisecond

// slotTime is when frame seq of a slotted file falls, from the start of play.
func (s *FileSource) slotTime(seq uint64) time.Duration {
	return time.Duration(float64(seq) / s.info.FPS * float64(time.Second))
}

// deliver wraps the frame just read as frame number s.next.
func (s *FileSource) deliver(img *image.YCbCr, pool *ImagePool) *Frame {
	seq := s.next
	s.next++
	if p, ok := s.r.(jpegPasser); ok && img == nil { // handed through compressed (Options.JPEG)
		return p.passed(seq, time.Now())
	}
	var release func(*Frame)
	if pool != nil {
		release = pool.Release
	}
	return NewFrame(img, seq, time.Now(), release)
}

// when returns the time from the start of play at which the frame just read is
// due, and how long after the previous frame that is. A reader with presentation
// times gives them (shifted by the length of the passes before, under --loop);
// otherwise frame s.next falls at s.next/FPS.
func (s *FileSource) when() (at, gap time.Duration) {
	interval := time.Duration(float64(time.Second) / s.info.FPS)
	pts, ok := s.r.pts()
	if !s.timed || !ok {
		return s.slotTime(s.next), interval
	}
	if !s.passStarted {
		s.passStarted, s.passFirst = true, pts
	}
	at = s.passBase + pts - s.passFirst
	gap = interval
	if s.shown {
		gap = at - s.lastAt
	}
	s.shown, s.lastAt, s.lastGap = true, at, gap
	return at, gap
}

// read returns the next decodable frame, skipping corrupt ones (each keeps its
// slot: s.next moves past it) and rewinding at the end of the file when looping.
func (s *FileSource) read() (*image.YCbCr, *ImagePool, error) {
	for {
		img, pool, err := s.r.read()
		switch {
		case err == nil:
			s.inLoop++
			return img, pool, nil
		case errors.Is(err, errCorruptJPEG):
			s.next++
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

// advance moves one frame on without decoding it where the format allows; a frame
// found corrupt on the way has used the slot as well.
func (s *FileSource) advance() error {
	for {
		err := s.r.skip()
		switch {
		case err == nil:
			s.inLoop++
			s.next++
			return nil
		case errors.Is(err, errCorruptJPEG):
			s.skipped.Add(1)
			s.next++
			return nil
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
	// The next pass's presentation times start where this one's last frame ends.
	s.passBase, s.passStarted = s.lastAt+s.lastGap, false
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

// The frame rates a file may declare: from one frame a minute (a slide show) to
// 1000 fps (high-speed cameras); ffprobe's rates are bounded the same way.
const (
	minFileFPS = 1.0 / 60
	maxFileFPS = 1000.0
)

// y4mFile reads a YUV4MPEG2 file.
type y4mFile struct {
	f    *os.File
	y    *y4mReader
	pool *ImagePool
}

func openY4M(f *os.File, o Options) (*FileSource, error) {
	y, err := newY4MReader(newCachedReader(f))
	if err != nil {
		return nil, err
	}
	h := y.hdr
	// A rate no video has would make the source drop all but a frame or two (at
	// 1000000 fps every slot has passed before the second frame is read): refuse
	// it unless --fps replaces it.
	if fps := h.FPS(); o.FPS == 0 && (fps < minFileFPS || fps > maxFileFPS) {
		return nil, fmt.Errorf("y4m header: frame rate F%d:%d is %g fps, not a video rate (1/60 to %g fps); give --fps to play it at another",
			h.RateNum, h.RateDen, fps, maxFileFPS)
	}
	if _, err := y.r.Peek(1); err == io.EOF {
		return nil, fmt.Errorf("no frames: the file holds a YUV4MPEG2 header only")
	}
	r := &y4mFile{f: f, y: y, pool: NewImagePool(h.Width, h.Height, h.OutSub())}
	detail := fmt.Sprintf("YUV4MPEG2 C%s", h.Chroma)
	if h.OutSub() != h.Sub || h.Mono {
		detail += " converted to 4:2:0"
	}
	detail += ", " + colourDetail(h.Colour)
	info := Info{Name: f.Name(), Width: h.Width, Height: h.Height, FPS: h.FPS(), Subsample: h.OutSub(),
		Colour: h.Colour, Detail: detail}
	return newFileSource(info, r, o)
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

// colourDetail says, for Info.Detail, how a source's colour is handled.
func colourDetail(c Colour) string {
	if c.IsJPEG() {
		return c.String()
	}
	return c.String() + " converted to full range BT.601"
}

func (r *y4mFile) skip() error { return r.y.skipFrame() }

func (r *y4mFile) pts() (time.Duration, bool) { return 0, false }

func (r *y4mFile) rewind() error {
	if _, err := r.f.Seek(r.y.hdrLen, io.SeekStart); err != nil {
		return err
	}
	r.y.reset(newCachedReader(r.f))
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
	// With Options.JPEG, frames are handed through: read leaves the frame in cur
	// (firstJPEG for the one read while opening) and passed wraps it.
	pass      *jpegPass
	cur       []byte
	firstJPEG []byte
}

// mjpegDefaultRate is the rate of an MJPEG file when --fps is not given.
const mjpegDefaultRate = 25

func openMJPEG(f *os.File, o Options) (*FileSource, error) {
	r := &mjpegFile{f: f, split: newJPEGSplitter(newCachedReader(f))}
	frame, err := r.split.next()
	if err != nil {
		return nil, fmt.Errorf("first JPEG frame: %w", unexpectedAsTruncated(err))
	}
	img, err := r.dec.decode(frame)
	if err != nil {
		if r.split.atEnd {
			return nil, fmt.Errorf("first JPEG frame: %w", unexpectedAsTruncated(io.ErrUnexpectedEOF))
		}
		return nil, fmt.Errorf("first JPEG frame: %w", err)
	}
	r.first, r.w, r.h, r.sub = img, img.Rect.Dx(), img.Rect.Dy(), img.SubsampleRatio
	detail := fmt.Sprintf("MJPEG %s, %s", ycbcr.Name(r.sub), colourDetail(Colour{}))
	if o.JPEG {
		r.pass = newJPEGPass(r.w, r.h, r.sub)
		r.first, r.firstJPEG = nil, append([]byte(nil), frame...)
		detail += ", frames handed through undecoded"
	}
	info := Info{Name: f.Name(), Width: r.w, Height: r.h, FPS: mjpegDefaultRate, Subsample: r.sub, Detail: detail}
	return newFileSource(info, r, o)
}

func unexpectedAsTruncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return fmt.Errorf("file is truncated or holds no JPEG frame")
	}
	return err
}

func (r *mjpegFile) read() (*image.YCbCr, *ImagePool, error) {
	if r.pass != nil {
		if r.firstJPEG != nil {
			r.cur, r.firstJPEG = r.firstJPEG, nil
			return nil, nil, nil
		}
		frame, err := r.split.next()
		r.cur = frame
		return nil, nil, err
	}
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
		if r.split.atEnd { // the file ends inside a frame that is not whole
			return nil, nil, io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	if img.Rect.Dx() != r.w || img.Rect.Dy() != r.h || img.SubsampleRatio != r.sub {
		return nil, nil, fmt.Errorf("%w: %dx%d %s, the stream is %dx%d %s", errCorruptJPEG,
			img.Rect.Dx(), img.Rect.Dy(), ycbcr.Name(img.SubsampleRatio), r.w, r.h, ycbcr.Name(r.sub))
	}
	return img, nil, nil
}

func (r *mjpegFile) skip() error {
	if r.first != nil || r.firstJPEG != nil {
		r.first, r.firstJPEG = nil, nil
		return nil
	}
	_, err := r.split.next()
	return err
}

func (r *mjpegFile) pts() (time.Duration, bool) { return 0, false }

func (r *mjpegFile) rewind() error {
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r.first, r.firstJPEG = nil, nil
	r.split.reset(newCachedReader(r.f))
	return nil
}

func (r *mjpegFile) close() error { return r.f.Close() }

// passed wraps the frame read last, handed through compressed.
func (r *mjpegFile) passed(seq uint64, t time.Time) *Frame { return r.pass.frame(r.cur, seq, t) }

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
