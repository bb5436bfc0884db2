// Package dir writes every received frame as a PNG file, for tests and forensics.
// Frames are encoded by parallel workers behind a queue bounded in bytes, so the
// receiver is never held up by the disk and a burst is written whole.
//
// File names are frame-INDEX-STREAM-SEQ.png: a running index (eight decimal digits, in the
// order frames were delivered, continuing after the highest index already in the
// directory), the sender's stream id (eight hex digits) and the sender's frame number.
// Names sort in delivery order and never collide: a restarted sender, whose frame
// numbers start again at 1, or a restarted receiver writing into the same directory
// gets new names, and a file already there is never overwritten.
package dir

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hrvs/hrvs/net/receiver"
)

// DefaultQueueBytes bounds the pixels waiting for an encoder (YCbCr bytes): 256 MiB holds
// about 190 frames of 720p or 20 of 4K UHD, several seconds of a burst at 30 fps.
const DefaultQueueBytes = 256 << 20

// minQueue frames are always admitted, whatever their size, so a bound smaller than one
// large frame still lets frames through.
const minQueue = 4

// maxQueue bounds the queue in frames too, for very small frames.
const maxQueue = 4096

// Options tune a Writer.
type Options struct {
	Frames int // stop after this many frames; 0 for no bound
	// Workers is how many frames are encoded at once; 0 means GOMAXPROCS.
	Workers int
	// QueueBytes bounds the YCbCr bytes of frames waiting for a worker; 0 means
	// DefaultQueueBytes. A frame that finds the queue full is skipped and counted.
	QueueBytes int
	Log        *slog.Logger // may be nil
}

// Writer is a Sink that writes each frame to PATH/frame-INDEX-STREAM-SEQ.png.
type Writer struct {
	path  string
	opt   Options
	queue chan job
	done  chan struct{} // closed when Frames files are written
	wg    sync.WaitGroup

	next     uint64 // index of the next frame; only Show touches it
	accepted int    // frames queued; only Show touches it
	queued   atomic.Int64
	closed   atomic.Bool
	written  atomic.Uint64
	skipped  atomic.Uint64 // dropped for a full queue
	failed   atomic.Uint64 // not written because of a write error
	errMu    sync.Mutex
	err      error
}

// job is one frame waiting for a worker, with the index its file is named by.
type job struct {
	f     *receiver.Frame
	index uint64
	bytes int64
}

// New creates path if needed and starts the encoders.
func New(path string, opt Options) (*Writer, error) {
	if opt.Frames < 0 || opt.Workers < 0 || opt.QueueBytes < 0 {
		return nil, fmt.Errorf("dir sink: frame bound %d, workers %d and queue %d bytes must not be negative", opt.Frames, opt.Workers, opt.QueueBytes)
	}
	if opt.Workers == 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.QueueBytes == 0 {
		opt.QueueBytes = DefaultQueueBytes
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	first, err := nextIndex(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, opt: opt, queue: make(chan job, maxQueue), done: make(chan struct{}), next: first}
	w.wg.Add(opt.Workers)
	for range opt.Workers {
		go w.work()
	}
	return w, nil
}

// Name is the file the frame with the given running index, stream id and sender's frame
// number is written to.
func Name(index uint64, stream, seq uint32) string {
	return fmt.Sprintf("frame-%08d-%08x-%08d.png", index, stream, seq)
}

// parseIndex returns the running index of a file Name made.
func parseIndex(name string) (uint64, bool) {
	idx, rest, ok := strings.Cut(strings.TrimPrefix(name, "frame-"), "-")
	if !ok || !strings.HasPrefix(name, "frame-") || !strings.HasSuffix(rest, ".png") {
		return 0, false
	}
	n, err := strconv.ParseUint(idx, 10, 64)
	return n, err == nil
}

// nextIndex is one past the highest index already in path, so a restarted receiver
// goes on numbering where the last one stopped.
func nextIndex(path string) (uint64, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return 0, err
	}
	var next uint64 = 1
	for _, e := range entries {
		if n, ok := parseIndex(e.Name()); ok && n >= next {
			next = n + 1
		}
	}
	return next, nil
}

// Show queues f for writing, or counts it as skipped when the queue is full. It never
// waits for the disk. It returns the error that stopped the encoders, if one did.
func (w *Writer) Show(f *receiver.Frame) error {
	if err := w.Err(); err != nil {
		return err
	}
	if w.closed.Load() || (w.opt.Frames > 0 && w.accepted >= w.opt.Frames) {
		return nil
	}
	n := int64(len(f.Image.Y) + len(f.Image.Cb) + len(f.Image.Cr))
	if q := w.queued.Load(); len(w.queue) >= minQueue && q+n > int64(w.opt.QueueBytes) || len(w.queue) == cap(w.queue) {
		w.skipped.Add(1)
		return nil
	}
	f.Retain()
	w.queued.Add(n)
	w.queue <- job{f: f, index: w.next, bytes: n} // never blocks: checked against cap above, one sender
	w.next++
	w.accepted++
	return nil
}

// Close writes what is queued, stops the encoders and logs how many frames were written
// and how many could not be. Show must not be running.
func (w *Writer) Close() error {
	if w.closed.Swap(true) {
		return w.Err()
	}
	close(w.queue)
	w.wg.Wait()
	if w.opt.Log != nil {
		w.opt.Log.Log(context.Background(), w.endLevel(), w.EndMessage())
	}
	return w.Err()
}

func (w *Writer) endLevel() slog.Level {
	if w.skipped.Load()+w.failed.Load() > 0 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// EndMessage says how many frames were written and, if any, how many could not be and why.
func (w *Writer) EndMessage() string {
	msg := fmt.Sprintf("dir sink: wrote %d frames to %s", w.written.Load(), w.path)
	skipped, failed := w.skipped.Load(), w.failed.Load()
	if skipped+failed == 0 {
		return msg
	}
	return msg + fmt.Sprintf("; could not write %d (%d skipped for a full queue, %d after a write error)", skipped+failed, skipped, failed)
}

// Done is closed once Frames files are written; never without a bound.
func (w *Writer) Done() <-chan struct{} { return w.done }

// Written, Skipped and Failed count frames written, frames dropped for a full queue,
// and frames not written because writing had failed.
func (w *Writer) Written() uint64 { return w.written.Load() }
func (w *Writer) Skipped() uint64 { return w.skipped.Load() }
func (w *Writer) Failed() uint64  { return w.failed.Load() }

// Err is the error that stopped the encoders, if any.
func (w *Writer) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func (w *Writer) setErr(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// work is one encoder: it owns its RGBA buffer and PNG buffers, so encoders share nothing.
func (w *Writer) work() {
	defer w.wg.Done()
	var rgba *image.RGBA
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &onePool{}}
	for j := range w.queue {
		if w.Err() != nil {
			j.f.Release()
			w.queued.Add(-j.bytes)
			w.failed.Add(1)
			continue
		}
		rgba = toRGBA(rgba, j.f.Image)
		name := Name(j.index, j.f.Stream, j.f.Seq)
		j.f.Release()
		w.queued.Add(-j.bytes)
		if err := w.write(&enc, name, rgba); err != nil {
			w.setErr(err)
			w.failed.Add(1)
			continue
		}
		if n := w.written.Add(1); w.opt.Frames > 0 && n == uint64(w.opt.Frames) {
			close(w.done)
		}
	}
}

// onePool is a png.EncoderBufferPool for one goroutine: it keeps the last buffer.
type onePool struct{ b *png.EncoderBuffer }

func (p *onePool) Get() *png.EncoderBuffer  { return p.b }
func (p *onePool) Put(b *png.EncoderBuffer) { p.b = b }

// toRGBA converts img into dst, reusing its pixels when the size matches, so the frame
// can go back to the receiver before the slow PNG compression.
func toRGBA(dst *image.RGBA, img *image.YCbCr) *image.RGBA {
	r := image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy())
	if dst == nil || dst.Rect != r {
		dst = image.NewRGBA(r)
	}
	draw.Draw(dst, r, img, img.Rect.Min, draw.Src)
	return dst
}

// errExists is returned when a file of the same name is already there: it is kept.
var errExists = errors.New("a file of that name exists and is kept")

// write writes a whole file under a temporary name and links it to its name, so a
// reader never finds half a PNG and an existing file is never replaced.
func (w *Writer) write(enc *png.Encoder, name string, img image.Image) error {
	final := filepath.Join(w.path, name)
	tmp, err := os.CreateTemp(w.path, ".frame-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 256<<10)
	err = enc.Encode(bw, img)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = place(tmp.Name(), final)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	return nil
}

// place gives the file at tmp the name final unless final exists. A hard link fails
// atomically when final exists; a file system without hard links falls back to a
// check and a rename.
func place(tmp, final string) error {
	err := os.Link(tmp, final)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return errExists
	}
	if _, serr := os.Lstat(final); serr == nil {
		return errExists
	}
	return os.Rename(tmp, final)
}
