package receiver

import (
	"image"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/internal/ycbcr"
)

// Frame is one picture rebuilt by the receiver. Tiles that did not arrive in time
// hold the pixels of the frame shown before it (concealment), and TilesMissing says
// how many those were.
//
// Frames come from a pool and are reference counted: a sink that keeps a frame after
// Show returns calls Retain, and Release when done. Pixels must not be touched after
// the last Release.
type Frame struct {
	Image        *image.YCbCr
	Stream       uint32    // sender's stream id
	Sender       string    // sender's address as host:port, for titles and logs
	Seq          uint32    // sender's frame number
	Captured     time.Time // capture instant mapped onto the receiver's clock
	CaptureUS    int64     // capture instant as stamped by the sender, µs on its clock
	Ready        time.Time // when the receiver finished (or gave up on) the frame
	Tiles        int       // tiles in the frame
	TilesMissing int       // tiles concealed with the previous frame's pixels
	Quality      int       // JPEG quality the sender used, 1..100; 0 when the tiles carry the sender's own tables (codecs 1 and 2, re-tiled MJPEG)
	Bytes        int       // payload bytes received for this frame

	refs atomic.Int32
	pool *framePool
}

// Complete reports whether every tile of the frame arrived.
func (f *Frame) Complete() bool { return f.TilesMissing == 0 }

// Latency is capture to frame-ready, with the capture time mapped to this clock.
func (f *Frame) Latency() time.Duration { return f.Ready.Sub(f.Captured) }

// Retain adds a reference; every Retain needs one Release.
func (f *Frame) Retain() { f.refs.Add(1) }

// Release drops a reference and returns the frame to its pool on the last one.
func (f *Frame) Release() {
	n := f.refs.Add(-1)
	if n == 0 && f.pool != nil {
		f.pool.put(f)
	}
	if n < 0 {
		panic("receiver: Frame released more times than retained")
	}
}

// framePool recycles frame buffers of one size and subsampling so the steady state
// allocates no pixel memory.
type framePool struct {
	mu      sync.Mutex
	free    []*Frame
	w, h    int
	sub     image.YCbCrSubsampleRatio
	bytes   int64     // one frame's pixel memory
	mem     *frameMem // shared by every pool of the receiver
	retired bool      // replaced by a pool of another size: frames coming back are dropped
}

// frameMem is the budget of frame images across pools, so frames of several sizes
// alive at once (a size change, or hostile datagrams announcing other sizes) still fit.
type frameMem struct {
	mu        sync.Mutex
	used, max int64
}

func (m *frameMem) take(n int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used+n > m.max {
		return false
	}
	m.used += n
	return true
}

func (m *frameMem) give(n int64) {
	m.mu.Lock()
	m.used -= n
	m.mu.Unlock()
}

// newFramePool makes a pool for w x h frames that takes its memory from mem.
func newFramePool(w, h int, sub image.YCbCrSubsampleRatio, mem *frameMem) *framePool {
	return &framePool{w: w, h: h, sub: sub, bytes: ycbcr.Bytes(w, h, sub), mem: mem}
}

// get returns a frame with one reference, or nil when the budget has no room for
// another. Its pixels are stale; the caller overwrites them.
func (p *framePool) get() *Frame {
	p.mu.Lock()
	var f *Frame
	if n := len(p.free); n > 0 {
		f = p.free[n-1]
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if f == nil {
		if !p.mem.take(p.bytes) {
			return nil
		}
		f = &Frame{Image: image.NewYCbCr(image.Rect(0, 0, p.w, p.h), p.sub), pool: p}
	}
	f.refs.Store(1)
	return f
}

func (p *framePool) put(f *Frame) {
	p.mu.Lock()
	keep := !p.retired
	if keep {
		p.free = append(p.free, f) // every frame was budgeted, so free stays bounded
	}
	p.mu.Unlock()
	if !keep {
		p.mem.give(p.bytes) // left to the GC
	}
}

// retire gives the pool's free frames back to the budget; frames still out are given
// back as they are released.
func (p *framePool) retire() {
	p.mu.Lock()
	n := len(p.free)
	p.free, p.retired = nil, true
	p.mu.Unlock()
	p.mem.give(int64(n) * p.bytes)
}

// NewFrame wraps img in an unpooled frame holding one reference, for sinks' tests and
// for tools that feed sinks without a receiver.
func NewFrame(img *image.YCbCr, seq uint32) *Frame {
	f := &Frame{Image: img, Seq: seq, Tiles: 1}
	f.refs.Store(1)
	return f
}
