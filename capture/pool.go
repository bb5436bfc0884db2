package capture

import (
	"image"
	"sync"
)

// ImagePool recycles frame buffers of one size and subsampling, so a source that
// reads raw planes (Y4M, ffmpeg, YUYV cameras) allocates no pixel memory in the
// steady state when its caller releases frames.
type ImagePool struct {
	w, h int
	sub  image.YCbCrSubsampleRatio

	mu   sync.Mutex
	free []*image.YCbCr
}

// poolKeep is how many free buffers a pool holds on to; more go to the GC.
const poolKeep = 4

// NewImagePool returns an empty pool for w x h frames of subsampling sub.
func NewImagePool(w, h int, sub image.YCbCrSubsampleRatio) *ImagePool {
	return &ImagePool{w: w, h: h, sub: sub}
}

// Get returns a buffer with stale pixels; the caller overwrites every sample.
func (p *ImagePool) Get() *image.YCbCr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		img := p.free[n-1]
		p.free = p.free[:n-1]
		return img
	}
	return image.NewYCbCr(image.Rect(0, 0, p.w, p.h), p.sub)
}

// Put takes a buffer back; one of another shape is left to the GC.
func (p *ImagePool) Put(img *image.YCbCr) {
	if img == nil || img.Rect != image.Rect(0, 0, p.w, p.h) || img.SubsampleRatio != p.sub {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < poolKeep {
		p.free = append(p.free, img)
	}
}

// Release is a Frame release func that returns the frame's image to p.
func (p *ImagePool) Release(f *Frame) { p.Put(f.Image) }
