package capture

import (
	"image"
	"sync"
)

// imagePool recycles frame buffers of one size and subsampling, so a source that
// reads raw planes (Y4M, ffmpeg, YUYV cameras) allocates no pixel memory in the
// steady state when its caller releases frames.
type imagePool struct {
	w, h int
	sub  image.YCbCrSubsampleRatio

	mu   sync.Mutex
	free []*image.YCbCr
}

// poolKeep is how many free buffers a pool holds on to; more go to the GC.
const poolKeep = 4

func newImagePool(w, h int, sub image.YCbCrSubsampleRatio) *imagePool {
	return &imagePool{w: w, h: h, sub: sub}
}

// get returns a buffer with stale pixels; the caller overwrites every sample.
func (p *imagePool) get() *image.YCbCr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		img := p.free[n-1]
		p.free = p.free[:n-1]
		return img
	}
	return image.NewYCbCr(image.Rect(0, 0, p.w, p.h), p.sub)
}

// put takes a buffer back; one of another shape is left to the GC.
func (p *imagePool) put(img *image.YCbCr) {
	if img == nil || img.Rect != image.Rect(0, 0, p.w, p.h) || img.SubsampleRatio != p.sub {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < poolKeep {
		p.free = append(p.free, img)
	}
}

// release is a Frame release func that returns the frame's image to p.
func (p *imagePool) release(f *Frame) { p.put(f.Image) }
