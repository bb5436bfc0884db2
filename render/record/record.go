// Package record writes the received video into MJPEG AVI files that ffmpeg, VLC,
// mpv and Windows play. Frames are encoded to JPEG on the recorder's own goroutine
// behind a short queue, so the receiver never waits for the encoder or the disk.
//
// A file holds one stream at one size. It is begun only once Confirm frames in a row
// of one stream and size have arrived, so a stray datagram of another size cannot
// claim it; a size change or a new stream (a restarted sender) finishes the file and
// goes on in FILE-2.avi, FILE-3.avi, ..., never replacing a file that exists.
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
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// Confirm is how many consecutive frames of one stream and size open a file (or the
// next segment): a stray frame of another stream or size, such as one datagram from
// elsewhere on the LAN before the sender starts, never decides what the file holds.
// The frames of the run are kept (as JPEG) until it is confirmed, so none is lost.
const Confirm = 3

// maxNames is how many names (FILE-2.avi, FILE-3.avi, ...) a new segment tries before
// giving up.
const maxNames = 10000

// Options tune a Recorder.
type Options struct {
	Log *slog.Logger // may be nil
}

// Segment is one file of a recording: the frames of one stream at one size.
type Segment struct {
	Path   string
	Stream uint32      // sender's stream id (receiver.Frame.Stream)
	Size   image.Point // frame size, pixels
	Frames uint64      // frames written to the file
}

// Recorder is a Sink that records the stream being shown into AVI files: the file
// named at Create, then FILE-2.avi, FILE-3.avi, ... each time the stream changes
// size or a new stream (a restarted sender) replaces it.
type Recorder struct {
	path     string
	log      *slog.Logger
	queue    chan queued
	wg       sync.WaitGroup
	reserved *os.File // the file at path, until the first segment takes it

	closed  atomic.Bool
	written atomic.Uint64
	skipped atomic.Uint64
	leftOut atomic.Uint64
	handled atomic.Uint64 // frames taken off the queue and dealt with
	errMu   sync.Mutex
	err     error

	segMu sync.Mutex
	segs  []Segment // every segment begun, the current one last

	// Owned by the encoder goroutine.
	cur     *segment
	run     streamKey      // stream and size of the frames in pending
	pending []pendingFrame // a run of frames not yet confirmed, oldest first
	spare   [][]byte       // JPEG buffers to reuse
	nextN   int            // the number the next segment's name tries first
}

// streamKey is what a file holds one of: a stream at one size.
type streamKey struct {
	stream uint32
	size   image.Point
}

func (k streamKey) sizeString() string { return fmt.Sprintf("%dx%d", k.size.X, k.size.Y) }

type pendingFrame struct {
	jpg []byte
	t   time.Time
}

// segment is the file being written, owned by the encoder goroutine.
type segment struct {
	key         streamKey
	path        string
	file        *os.File
	avi         *aviWriter
	frames      uint64
	first, last time.Time // capture times of its first and last frame
	lastSync    time.Time
}

type queued struct {
	f *receiver.Frame
	t time.Time
}

// Create creates (or truncates) the file at path and starts the recorder. The AVI
// header is written once Confirm consecutive frames of one stream and size have
// arrived; that size is the file's. Later segments never replace an existing file.
func Create(path string, opt Options) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	r := &Recorder{path: path, log: opt.Log, reserved: f, queue: make(chan queued, QueueLen), nextN: 2}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.wg.Add(1)
	go r.loop()
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

// Close records what is queued, writes the index and the final header of the last
// segment, closes the files and logs every segment written. Show must not be running.
func (r *Recorder) Close() error {
	if r.closed.Swap(true) {
		return r.Err()
	}
	close(r.queue)
	r.wg.Wait()
	if n := r.leftOut.Load(); n > 0 {
		r.log.Warn("recording left out frames of a stream or size that never lasted Confirm frames in a row",
			"left_out", n, "confirm", Confirm)
	}
	segs := r.Segments()
	for i, s := range segs {
		r.log.Info("recording closed", "segment", i+1, "of", len(segs), "file", s.Path, "frames", s.Frames,
			"size", fmt.Sprintf("%dx%d", s.Size.X, s.Size.Y), "stream", s.Stream)
	}
	if len(segs) == 0 {
		r.log.Info("recording closed with no frames", "file", r.path)
	}
	if n := r.skipped.Load(); n > 0 {
		r.log.Info("recording skipped frames while the encoder was behind", "skipped", n)
	}
	return r.Err()
}

// Written, Skipped and LeftOut count frames recorded, frames dropped because the
// encoder was behind, and frames of a run too short to be recorded (a stray frame).
func (r *Recorder) Written() uint64 { return r.written.Load() }
func (r *Recorder) Skipped() uint64 { return r.skipped.Load() }
func (r *Recorder) LeftOut() uint64 { return r.leftOut.Load() }

// Segments lists the files begun so far, in order; after Close, every file written.
func (r *Recorder) Segments() []Segment {
	r.segMu.Lock()
	defer r.segMu.Unlock()
	return append([]Segment(nil), r.segs...)
}

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

func (r *Recorder) loop() {
	defer r.wg.Done()
	var jpg []byte
	for q := range r.queue {
		if r.Err() == nil {
			var err error
			jpg, err = r.take(jpg, q)
			r.fail(err)
		}
		q.f.Release()
		r.handled.Add(1)
	}
	r.fail(r.end())
}

// take records one frame: into the current file when it is of the stream and size
// recorded, otherwise into the pending run, which becomes the next file once it is
// Confirm frames long. It returns jpg's storage for reuse.
func (r *Recorder) take(jpg []byte, q queued) ([]byte, error) {
	img := q.f.Image
	if img == nil {
		return jpg, errors.New("frame has no picture")
	}
	k := streamKey{stream: q.f.Stream, size: img.Rect.Size()}
	if r.cur != nil && k == r.cur.key {
		// The recorded stream goes on: a run of another that began is a stray.
		r.dropPending()
		var err error
		if jpg, err = jpegenc.Encode(jpg, img, Quality); err != nil {
			return jpg, err
		}
		return jpg, r.add(jpg, q.t)
	}
	if len(r.pending) > 0 && k != r.run {
		r.dropPending()
	}
	r.run = k
	var buf []byte
	if n := len(r.spare); n > 0 {
		buf, r.spare = r.spare[n-1], r.spare[:n-1]
	}
	buf, err := jpegenc.Encode(buf, img, Quality)
	if err != nil {
		return jpg, err
	}
	r.pending = append(r.pending, pendingFrame{buf, q.t})
	if len(r.pending) < Confirm {
		return jpg, nil
	}
	return jpg, r.begin()
}

// dropPending counts the pending run as left out and keeps its buffers.
func (r *Recorder) dropPending() {
	r.leftOut.Add(uint64(len(r.pending)))
	r.recycle()
}

func (r *Recorder) recycle() {
	for _, p := range r.pending {
		if len(r.spare) < Confirm {
			r.spare = append(r.spare, p.jpg)
		}
	}
	clear(r.pending)
	r.pending = r.pending[:0]
}

// begin finishes the current file, if any, and starts the next with the pending run.
func (r *Recorder) begin() error {
	old := r.cur
	if old != nil {
		r.cur = nil
		if err := old.finish(); err != nil {
			return err
		}
	}
	var f *os.File
	path := r.path
	if r.reserved != nil {
		f, r.reserved = r.reserved, nil
	} else {
		var err error
		if f, path, err = r.nextFile(); err != nil {
			return err
		}
	}
	avi, err := newAVI(f, r.run.size.X, r.run.size.Y)
	if err != nil {
		f.Close()
		return err
	}
	r.cur = &segment{key: r.run, path: path, file: f, avi: avi, lastSync: time.Now()}
	r.segMu.Lock()
	r.segs = append(r.segs, Segment{Path: path, Stream: r.run.stream, Size: r.run.size})
	r.segMu.Unlock()
	if old == nil {
		r.log.Info("recording", "file", path, "size", r.run.sizeString(), "stream", r.run.stream)
	} else {
		r.log.Warn("recording goes on in a new file: "+change(old.key, r.run),
			"file", path, "previous_file", old.path, "previous_frames", old.frames,
			"from_size", old.key.sizeString(), "to_size", r.run.sizeString(),
			"from_stream", old.key.stream, "to_stream", r.run.stream)
	}
	for _, p := range r.pending {
		if err := r.add(p.jpg, p.t); err != nil {
			return err
		}
	}
	r.recycle()
	return nil
}

func change(from, to streamKey) string {
	switch {
	case from.stream != to.stream && from.size != to.size:
		return "a new stream of another size"
	case from.stream != to.stream:
		return "a new stream"
	default:
		return "the stream changed size"
	}
}

// nextFile creates the first free FILE-N.ext, never replacing a file that exists.
func (r *Recorder) nextFile() (*os.File, string, error) {
	ext := filepath.Ext(r.path)
	base := strings.TrimSuffix(r.path, ext)
	for tries := 0; tries < maxNames; tries++ {
		n := r.nextN
		r.nextN++
		path := fmt.Sprintf("%s-%d%s", base, n, ext)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, path, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", fmt.Errorf("next segment: %w", err)
		}
	}
	return nil, "", fmt.Errorf("next segment: %s-2%s to %s-%d%s all exist", base, ext, base, r.nextN-1, ext)
}

// add writes one JPEG into the current file.
func (r *Recorder) add(jpg []byte, t time.Time) error {
	s := r.cur
	if err := s.avi.writeFrame(jpg); err != nil {
		return err
	}
	s.frames++
	if s.frames == 1 {
		s.first = t
	}
	s.last = t
	r.written.Add(1)
	r.segMu.Lock()
	r.segs[len(r.segs)-1].Frames = s.frames
	r.segMu.Unlock()
	if now := time.Now(); now.Sub(s.lastSync) >= syncEvery {
		s.lastSync = now
		rate, scale := s.rate()
		return s.avi.sync(rate, scale)
	}
	return nil
}

// end finishes the recording once the queue is drained. A run that never reached
// Confirm frames is recorded only when nothing else was: it is then all there is.
func (r *Recorder) end() error {
	var err error
	if len(r.pending) > 0 {
		if r.cur == nil && r.Err() == nil {
			err = r.begin()
		} else {
			r.dropPending()
		}
	}
	if r.cur != nil {
		err = errors.Join(err, r.cur.finish())
		r.cur = nil
	}
	if r.reserved != nil {
		err = errors.Join(err, r.reserved.Close())
		r.reserved = nil
	}
	return err
}

// finish writes the segment's index and final header and closes its file.
func (s *segment) finish() error {
	rate, scale := s.rate()
	err := s.avi.finish(rate, scale)
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finishing %s: %w", s.path, err)
	}
	return nil
}

// rate is the frame rate of what was recorded, frames over the time they span, as
// rate/scale; a rate within 0.5% of a usual one is written as that one.
func (s *segment) rate() (uint32, uint32) {
	n := s.frames
	span := s.last.Sub(s.first).Seconds()
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
