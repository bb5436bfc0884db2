// Package record writes the received video into an MJPEG AVI file that ffmpeg, VLC,
// mpv and Windows play. Frames are encoded to JPEG on the recorder's own goroutine
// behind a short queue, so the receiver never waits for the encoder or the disk.
//
// A recording cut short (kill -9, power loss) has no index yet; ffmpeg then reads the
// frames in order and plays it up to its last whole frame (tested here). The
// header's counts and sizes are refreshed every second for players that trust them, and
// `ffmpeg -i cut.avi -c copy fixed.avi` rewrites such a file with a full index.
package record

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/jpegenc"
)

// Quality is the JPEG quality of recorded frames: high, since they were compressed once
// already by the sender.
const Quality = 90

// QueueLen is how many frames may wait for the encoder; a frame that finds the queue
// full is skipped and counted.
const QueueLen = 4

// syncEvery is how often the header is brought up to date while recording.
const syncEvery = time.Second

// Options tune a Recorder.
type Options struct {
	Log *slog.Logger // may be nil
}

// Recorder is a Sink that records into an AVI file.
type Recorder struct {
	path  string
	log   *slog.Logger
	file  *os.File
	queue chan queued
	wg    sync.WaitGroup

	closed  atomic.Bool
	written atomic.Uint64
	skipped atomic.Uint64
	errMu   sync.Mutex
	err     error

	// Owned by the encoder goroutine.
	avi         *aviWriter
	size        image.Point
	first, last time.Time
	otherSize   int
	lastSync    time.Time
}

type queued struct {
	f *receiver.Frame
	t time.Time
}

// Create creates (or truncates) the file at path and starts the recorder. The AVI
// header is written with the first frame, whose size the whole recording keeps.
func Create(path string, opt Options) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	r := &Recorder{path: path, log: opt.Log, file: f, queue: make(chan queued, QueueLen)}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.wg.Add(1)
	go r.run()
	return r, nil
}

// Show queues f for recording, or counts it as skipped when the encoder is behind.
// It returns the error that stopped the recording, if one did.
func (r *Recorder) Show(f *receiver.Frame) error {
	if err := r.Err(); err != nil {
		return err
	}
	if r.closed.Load() {
		return nil
	}
	t := f.Captured
	if t.IsZero() {
		t = f.Ready
	}
	if t.IsZero() {
		t = time.Now()
	}
	f.Retain()
	select {
	case r.queue <- queued{f, t}:
	default:
		f.Release()
		r.skipped.Add(1)
	}
	return nil
}

// Close records what is queued, writes the index and the final header, and closes
// the file. Show must not be running.
func (r *Recorder) Close() error {
	if r.closed.Swap(true) {
		return r.Err()
	}
	close(r.queue)
	r.wg.Wait()
	if r.avi != nil {
		rate, scale := r.rate()
		r.fail(r.avi.finish(rate, scale))
	}
	r.fail(r.file.Close())
	if r.otherSize > 0 {
		r.log.Warn("recording left out frames whose size differs from the first frame's", "left_out", r.otherSize, "size", r.size)
	}
	r.log.Info("recording closed", "file", r.path, "frames", r.written.Load(), "skipped", r.skipped.Load())
	return r.Err()
}

// Written and Skipped count frames recorded and frames dropped because the encoder
// was behind.
func (r *Recorder) Written() uint64 { return r.written.Load() }
func (r *Recorder) Skipped() uint64 { return r.skipped.Load() }

// Err is the error that stopped the recording, if any.
func (r *Recorder) Err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

func (r *Recorder) fail(err error) {
	if err == nil {
		return
	}
	r.errMu.Lock()
	if r.err == nil {
		r.err = fmt.Errorf("recording %s: %w", r.path, err)
	}
	r.errMu.Unlock()
}

func (r *Recorder) run() {
	defer r.wg.Done()
	var jpg []byte
	for q := range r.queue {
		if r.Err() != nil {
			q.f.Release()
			continue
		}
		var err error
		jpg, err = r.encode(jpg, q.f)
		q.f.Release()
		if err == nil && jpg != nil {
			err = r.add(jpg, q.t)
		}
		r.fail(err)
	}
}

// encode returns the frame as JPEG, or nil for a frame that cannot go in this file.
func (r *Recorder) encode(buf []byte, f *receiver.Frame) ([]byte, error) {
	img := f.Image
	if img == nil {
		return nil, errors.New("frame has no picture")
	}
	size := img.Rect.Size()
	if r.avi == nil {
		avi, err := newAVI(r.file, size.X, size.Y)
		if err != nil {
			return nil, err
		}
		r.avi, r.size, r.lastSync = avi, size, time.Now()
	} else if size != r.size {
		r.otherSize++
		return nil, nil
	}
	return jpegenc.Encode(buf, img, Quality)
}

func (r *Recorder) add(jpg []byte, t time.Time) error {
	if err := r.avi.writeFrame(jpg); err != nil {
		return err
	}
	if r.written.Add(1) == 1 {
		r.first = t
	}
	r.last = t
	if now := time.Now(); now.Sub(r.lastSync) >= syncEvery {
		r.lastSync = now
		rate, scale := r.rate()
		return r.avi.sync(rate, scale)
	}
	return nil
}

// rate is the frame rate of what was recorded, frames over the time they span, as
// rate/scale; a rate within 0.5% of a usual one is written as that one.
func (r *Recorder) rate() (uint32, uint32) {
	n := r.written.Load()
	span := r.last.Sub(r.first).Seconds()
	if n < 2 || span <= 0 {
		return 30, 1
	}
	return fraction(float64(n-1) / span)
}

var usualRates = [...][2]uint32{{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {50, 1}, {60000, 1001}, {60, 1}, {120, 1}}

func fraction(fps float64) (uint32, uint32) {
	best, bestDiff := -1, math.Inf(1)
	for i, u := range usualRates {
		v := float64(u[0]) / float64(u[1])
		if d := math.Abs(fps - v); d <= v*0.005 && d < bestDiff {
			best, bestDiff = i, d
		}
	}
	if best >= 0 {
		return usualRates[best][0], usualRates[best][1]
	}
	fps = min(max(fps, 0.001), 1e6)
	return uint32(math.Round(fps * 1000)), 1000
}
