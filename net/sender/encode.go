package sender

import (
	"fmt"
	"image"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// frameJob is one frame on its way through the encoders and the packer.
type frameJob struct {
	f        *capture.Frame
	hdr      wire.Header // what every datagram of the frame carries (frameHeader)
	grid     tile.Grid
	held     bool          // the chooser holds f as the reference of its tiles and releases it
	sizes    []int32       // encoded bytes per carried tile, in job order; read once the frame is done
	tiles    []uint16      // the grid tiles carried, in job order
	deferred int           // estimated bytes of the tiles fit left for later frames
	parity   *fec.Outgoing // the frame's parity, nil when unprotected (docs/PROTOCOL.md §3.4)
	left     atomic.Int32  // tiles not yet encoded and sent
	rt       *retiler      // a re-tiled MJPEG frame's coefficients and payloads (mjpeg.go); nil for pictures
	prepare  time.Duration // re-tiling the frame before its tiles went to the encoders
	sent     tally
	start    time.Time
}

// tileJob is one tile of a frame for an encoder.
type tileJob struct {
	fj   *frameJob
	tile int
	pos  int // place in the frame's jobs
	flag uint8
}

// encoders is the pool of tile encoders. One frame is encoded at a time: its
// tiles are spread over the workers, and each is handed to the packer as soon as
// it is encoded.
type encoders struct {
	jobs chan tileJob
	busy atomic.Bool   // a frame's tiles are still being encoded
	idle chan struct{} // signalled when busy clears, for unpaced sources
	wg   sync.WaitGroup
}

func newEncoders() *encoders {
	return &encoders{jobs: make(chan tileJob, tile.MaxTiles), idle: make(chan struct{}, 1)}
}

// worker is one encoder goroutine's own state.
type worker struct {
	enc     tile.Encoder
	payload []byte  // the tile being sent, reused
	out     *outbox // the datagrams on their way to a socket
	sent    int     // tiles this worker sent, which spreads them over the sockets
}

// start runs n workers, each with its own encoder from newEnc and outbox from
// newOut, calling do for every tile job until stop.
func (e *encoders) start(n int, newEnc func() tile.Encoder, newOut func() *outbox, do func(w *worker, j tileJob)) {
	for range n {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			w := &worker{enc: newEnc(), out: newOut()}
			for j := range e.jobs {
				do(w, j)
			}
		}()
	}
}

// stop ends the workers once the queued jobs are done.
func (e *encoders) stop() {
	close(e.jobs)
	e.wg.Wait()
}

// submit queues a frame's tiles; the frame must not be busy.
func (e *encoders) submit(jobs []tileJob) {
	e.busy.Store(true)
	for _, j := range jobs {
		e.jobs <- j
	}
}

// done marks the frame finished.
func (e *encoders) done() {
	e.busy.Store(false)
	select {
	case e.idle <- struct{}{}:
	default:
	}
}

// encodeTile is worker w's turn at tile j: encode, hand to the packer, and finish
// the frame after its last tile. (The frame itself is the reference of the tiles
// it carries: chooser.hold.)
func (s *Sender) encodeTile(w *worker, j tileJob) {
	fj := j.fj
	if fj.rt != nil {
		s.sendRetiled(w, j)
		return
	}
	r := fj.grid.Rect(j.tile)
	var sub uint8
	var err error
	start := time.Now()
	w.payload, sub, err = w.enc.AppendTile(w.payload[:0], fj.f.Image, r, int(fj.hdr.Quality))
	fj.sent.encoding.Add(int64(time.Since(start)))
	switch {
	case err != nil:
		s.count.encErrs.Add(1)
	case sub != fj.hdr.Format&0xf:
		// The frame's format is the encoder's answer for this picture (scanFormat); a
		// tile in another would be mislabelled.
		s.count.encErrs.Add(1)
	default:
		w.sent++
		fj.sizes[j.pos] = int32(len(w.payload))
		s.pack.packTile(w.out, fj, j, w.payload, j.tile+w.sent)
	}
	if fj.left.Add(-1) == 0 {
		s.frameDone(w.out, fj)
	}
}

// scanFormat is the format byte of the scans enc makes of img, which every
// datagram of a frame of img carries: the encoder decides the subsampling (image/jpeg
// writes 4:2:0 whatever it is given), so it is asked once, with a small corner of
// the picture, when the picture's subsampling is first seen.
func scanFormat(enc tile.Encoder, img *image.YCbCr) (uint8, error) {
	if _, ok := tile.SubsampleCode(img.SubsampleRatio); !ok {
		return 0, fmt.Errorf("frame subsampling %v: only 4:2:0 and 4:2:2 can be sent", img.SubsampleRatio)
	}
	b := img.Rect
	r := image.Rect(b.Min.X, b.Min.Y, min(b.Max.X, b.Min.X+16), min(b.Max.Y, b.Min.Y+16))
	_, sub, err := enc.AppendTile(nil, img, r, DefaultQuality)
	if err != nil {
		return 0, fmt.Errorf("probe the encoder's format: %w", err)
	}
	if sub != wire.Sub420 && sub != wire.Sub422 {
		return 0, fmt.Errorf("encoder writes subsampling code %d, which the format does not carry", sub)
	}
	return wire.CodecJPEGScan<<4 | sub, nil
}
