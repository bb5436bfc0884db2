// Package dir writes every received frame as a PNG file named by the sender's frame
// number, for tests and forensics. Encoding runs on its own goroutine behind a short
// queue so the receiver is never held up by the disk.
package dir

import (
	"bufio"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hrvs/hrvs/net/receiver"
)

// QueueLen is how many frames may wait for encoding; a frame that finds the queue full
// is skipped and counted.
const QueueLen = 8

// Options tune a Writer.
type Options struct {
	Frames int          // stop after this many frames; 0 for no bound
	Log    *slog.Logger // may be nil
}

// Writer is a Sink that writes PATH/frame-NNNNNNNN.png.
type Writer struct {
	path  string
	opt   Options
	queue chan *receiver.Frame
	done  chan struct{} // closed when Frames files are written
	wg    sync.WaitGroup

	accepted int // frames queued; only Show touches it
	closed   atomic.Bool
	written  atomic.Uint64
	skipped  atomic.Uint64
	errMu    sync.Mutex
	err      error
}

// New creates path if needed and starts the encoder.
func New(path string, opt Options) (*Writer, error) {
	if opt.Frames < 0 {
		return nil, fmt.Errorf("frame bound %d must not be negative", opt.Frames)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	w := &Writer{path: path, opt: opt, queue: make(chan *receiver.Frame, QueueLen), done: make(chan struct{})}
	w.wg.Add(1)
	go w.run()
	return w, nil
}

// Name is the file frame seq is written to.
func Name(seq uint32) string { return fmt.Sprintf("frame-%08d.png", seq) }

// Show queues f for writing, or counts it as skipped when the queue is full. It
// returns the error that stopped the encoder, if one did.
func (w *Writer) Show(f *receiver.Frame) error {
	if err := w.Err(); err != nil {
		return err
	}
	if w.closed.Load() || (w.opt.Frames > 0 && w.accepted >= w.opt.Frames) {
		return nil
	}
	f.Retain()
	select {
	case w.queue <- f:
		w.accepted++
	default:
		f.Release()
		w.skipped.Add(1)
	}
	return nil
}

// Close writes what is queued and stops the encoder. Show must not be running.
func (w *Writer) Close() error {
	if w.closed.Swap(true) {
		return w.Err()
	}
	close(w.queue)
	w.wg.Wait()
	if n := w.skipped.Load(); n > 0 && w.opt.Log != nil {
		w.opt.Log.Warn("dir sink skipped frames it could not encode in time", "skipped", n, "written", w.written.Load())
	}
	return w.Err()
}

// Done is closed once Frames files are written; never without a bound.
func (w *Writer) Done() <-chan struct{} { return w.done }

// Written and Skipped count frames written and frames dropped for a full queue.
func (w *Writer) Written() uint64 { return w.written.Load() }
func (w *Writer) Skipped() uint64 { return w.skipped.Load() }

// Err is the error that stopped the encoder, if any.
func (w *Writer) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func (w *Writer) run() {
	defer w.wg.Done()
	var rgba *image.RGBA
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	for f := range w.queue {
		if w.Err() != nil {
			f.Release()
			continue
		}
		rgba = toRGBA(rgba, f.Image)
		seq := f.Seq
		f.Release()
		if err := w.write(&enc, Name(seq), rgba); err != nil {
			w.errMu.Lock()
			w.err = err
			w.errMu.Unlock()
			continue
		}
		if n := w.written.Add(1); w.opt.Frames > 0 && n == uint64(w.opt.Frames) {
			close(w.done)
		}
	}
}

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

// write writes a whole file under a temporary name and renames it, so a reader never
// finds half a PNG.
func (w *Writer) write(enc *png.Encoder, name string, img image.Image) error {
	final := filepath.Join(w.path, name)
	tmp, err := os.CreateTemp(w.path, ".frame-*.tmp")
	if err != nil {
		return err
	}
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
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", final, err)
	}
	return nil
}
