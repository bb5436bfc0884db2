package capture

import (
	"context"
	"fmt"
	"image"
	"math"
	"sync/atomic"
	"time"
)

// MaxPatternSide bounds the pattern so a typo in --size cannot ask for gigabytes.
const MaxPatternSide = 8192

// Pattern is the built-in test source: a deterministic moving picture with the kinds
// of detail JPEG has to work for — smooth gradients, hard-edged colour bars, a band of
// fine scrolling texture, moving discs, and the frame number in large digits. Frame n
// is always the same picture, so a receiver can regenerate it to measure quality.
type Pattern struct {
	w, h  int
	fps   float64
	clock LiveClock

	bg      *image.YCbCr // static part, copied under every frame
	skipped atomic.Uint64
	pool    *ImagePool
}

// NewPattern returns a 4:2:0 pattern source of w x h at fps frames per second; fps 0
// makes frames as fast as they are asked for.
func NewPattern(w, h int, fps float64) (*Pattern, error) {
	if w < 16 || h < 16 || w > MaxPatternSide || h > MaxPatternSide {
		return nil, fmt.Errorf("pattern size %dx%d: each side must be 16..%d", w, h, MaxPatternSide)
	}
	if fps < 0 || fps > 1000 || math.IsNaN(fps) {
		return nil, fmt.Errorf("pattern rate %v fps: must be 0..1000", fps)
	}
	p := &Pattern{w: w, h: h, fps: fps, bg: image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420),
		clock: LiveClock{FPS: fps}, pool: NewImagePool(w, h, image.YCbCrSubsampleRatio420)}
	p.drawBackground()
	return p, nil
}

// Info describes the pattern stream.
func (p *Pattern) Info() Info {
	return Info{Name: "pattern", Width: p.w, Height: p.h, FPS: p.fps,
		Subsample: image.YCbCrSubsampleRatio420, Detail: "built-in test pattern, 4:2:0"}
}

// Skipped counts frame slots that passed while the caller was busy; like a live
// camera, the pattern does not queue them.
func (p *Pattern) Skipped() uint64 { return p.skipped.Load() }

// Close does nothing; a pattern holds no resources.
func (p *Pattern) Close() error { return nil }

// Next waits for the next frame slot and draws it.
func (p *Pattern) Next(ctx context.Context) (*Frame, error) {
	seq, skipped, err := p.clock.Wait(ctx)
	if err != nil {
		return nil, err
	}
	p.skipped.Add(skipped)
	img := p.pool.Get()
	p.Draw(img, seq)
	return NewFrame(img, seq, time.Now(), p.pool.Release), nil
}

// Draw renders frame seq into img, which must be a 4:2:0 image of the pattern's size.
// It is exported so tests and the receiver's quality checks can regenerate a frame.
func (p *Pattern) Draw(img *image.YCbCr, seq uint64) {
	copy(img.Y, p.bg.Y)
	copy(img.Cb, p.bg.Cb)
	copy(img.Cr, p.bg.Cr)
	p.drawTexture(img, seq)
	p.drawDiscs(img, seq)
	p.drawNumber(img, seq)
}

func (p *Pattern) drawBackground() {
	w, h, img := p.w, p.h, p.bg
	bars := [...][3]uint8{ // 75% colour bars in Y'CbCr (BT.601)
		{180, 128, 128}, {162, 44, 142}, {131, 156, 44}, {112, 72, 58},
		{84, 184, 198}, {65, 100, 212}, {35, 212, 114}, {16, 128, 128},
	}
	barH := h / 6
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v uint8
			if y < barH {
				v = bars[x*len(bars)/w][0]
			} else {
				v = uint8(16 + (x+y)*219/(w+h))
			}
			img.Y[y*img.YStride+x] = v
		}
	}
	cw, ch := (w+1)/2, (h+1)/2
	for y := 0; y < ch; y++ {
		for x := 0; x < cw; x++ {
			i := y*img.CStride + x
			if 2*y < barH {
				b := bars[2*x*len(bars)/w]
				img.Cb[i], img.Cr[i] = b[1], b[2]
			} else {
				img.Cb[i] = uint8(64 + x*128/cw)
				img.Cr[i] = uint8(192 - y*128/ch)
			}
		}
	}
}

// drawTexture fills the lower fifth with fine diagonal stripes and a checkerboard
// that scroll by 3 pixels a frame, so every tile in the band changes every frame.
func (p *Pattern) drawTexture(img *image.YCbCr, seq uint64) {
	y0 := p.h - p.h/5
	off := int(seq*3) % 64
	for y := y0; y < p.h; y++ {
		row := img.Y[y*img.YStride : y*img.YStride+p.w]
		for x := range row {
			u := x + off
			stripe := (u + y) & 7
			check := ((u >> 3) ^ (y >> 3)) & 1
			row[x] = uint8(40 + stripe*16 + check*60)
		}
	}
}

func (p *Pattern) drawDiscs(img *image.YCbCr, seq uint64) {
	t := float64(seq)
	r := float64(min(p.w, p.h)) / 10
	discs := [...]struct {
		cx, cy    float64
		y, cb, cr uint8
	}{
		{bounce(t*7, float64(p.w)), bounce(t*5+float64(p.h)/3, float64(p.h)*0.8), 235, 110, 200},
		{bounce(t*4+float64(p.w)/2, float64(p.w)), bounce(t*6, float64(p.h)*0.8), 60, 200, 90},
	}
	for _, d := range discs {
		x0, x1 := int(max(0, d.cx-r)), int(min(float64(p.w-1), d.cx+r))
		y0, y1 := int(max(0, d.cy-r)), int(min(float64(p.h-1), d.cy+r))
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				dx, dy := float64(x)-d.cx, float64(y)-d.cy
				if dx*dx+dy*dy > r*r {
					continue
				}
				img.Y[y*img.YStride+x] = d.y
				if x&1 == 0 && y&1 == 0 {
					c := (y/2)*img.CStride + x/2
					img.Cb[c], img.Cr[c] = d.cb, d.cr
				}
			}
		}
	}
}

// bounce maps a growing position onto 0..span and back, like a ball between walls.
func bounce(pos, span float64) float64 {
	if span <= 0 {
		return 0
	}
	m := math.Mod(pos, 2*span)
	if m > span {
		m = 2*span - m
	}
	return m
}

// digits is a 3x5 bitmap font; bit 14 is the top-left pixel.
var digits = [10]uint16{
	0b111101101101111, 0b010110010010111, 0b111001111100111, 0b111001111001111, 0b101101111001001,
	0b111100111001111, 0b111100111101111, 0b111001001001001, 0b111101111101111, 0b111101111001111,
}

// drawNumber writes seq in white-on-black digits at the top left.
func (p *Pattern) drawNumber(img *image.YCbCr, seq uint64) {
	s := fmt.Appendf(nil, "%06d", seq%1000000)
	cell := max(2, p.h/60)
	x0, y0 := cell, cell
	boxW, boxH := len(s)*4*cell+cell, 7*cell
	for y := y0 - cell/2; y < min(p.h, y0+boxH-cell); y++ {
		for x := x0 - cell/2; x < min(p.w, x0+boxW); x++ {
			img.Y[y*img.YStride+x] = 16
			if x&1 == 0 && y&1 == 0 { // grey box: the digits read the same on any bar
				c := (y/2)*img.CStride + x/2
				img.Cb[c], img.Cr[c] = 128, 128
			}
		}
	}
	for i, ch := range s {
		glyph := digits[ch-'0']
		for gy := 0; gy < 5; gy++ {
			for gx := 0; gx < 3; gx++ {
				if glyph&(1<<(14-(gy*3+gx))) == 0 {
					continue
				}
				px, py := x0+(i*4+gx)*cell, y0+gy*cell
				for y := py; y < min(p.h, py+cell); y++ {
					for x := px; x < min(p.w, px+cell); x++ {
						img.Y[y*img.YStride+x] = 235
					}
				}
			}
		}
	}
}
