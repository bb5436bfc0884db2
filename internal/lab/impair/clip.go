package impair

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/hrvs/hrvs/capture"
)

// DefaultPhoto is the photograph the natural clips are cut from: Debian's
// plasma-workspace-wallpapers "Autumn", the picture docs/PROTOCOL.md measured tiles on.
const DefaultPhoto = "/usr/share/wallpapers/Autumn/contents/images/2560x1440.jpg"

// drawer regenerates frame seq of a clip, so the display can compare what it shows
// with exactly what was captured.
type drawer interface {
	capture.Source
	Draw(img *image.YCbCr, seq uint64)
}

// photoClip is a deterministic "natural" clip cut from a photograph: a camera pan
// (every tile changes every frame, the hard case for conditional replenishment), or a
// static camera whose only change is sensor noise (the easy case it exists for).
type photoClip struct {
	name  string
	w, h  int
	fps   float64
	pan   bool
	photo *image.YCbCr // 4:2:0
	noise [4][]int8    // luma noise planes, cycled; sensor noise of sigma ~1.5 levels

	clock capture.LiveClock
	pool  *capture.ImagePool
}

// newPhotoClip loads path (any size; it is tiled when smaller than the frame).
func newPhotoClip(name, path string, w, h int, fps float64, pan bool) (*photoClip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("natural clip: %w", err)
	}
	defer f.Close()
	m, err := jpeg.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("natural clip %s: %w", path, err)
	}
	b := m.Bounds()
	photo := image.NewYCbCr(image.Rect(0, 0, b.Dx()&^1, b.Dy()&^1), image.YCbCrSubsampleRatio420)
	if yc, ok := m.(*image.YCbCr); ok && yc.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		for y := 0; y < photo.Rect.Dy(); y++ {
			copy(photo.Y[y*photo.YStride:(y+1)*photo.YStride], yc.Y[yc.YOffset(b.Min.X, b.Min.Y+y):])
		}
		for y := 0; y < photo.Rect.Dy()/2; y++ {
			o := yc.COffset(b.Min.X, b.Min.Y+2*y)
			copy(photo.Cb[y*photo.CStride:(y+1)*photo.CStride], yc.Cb[o:])
			copy(photo.Cr[y*photo.CStride:(y+1)*photo.CStride], yc.Cr[o:])
		}
	} else {
		rgba := image.NewRGBA(photo.Rect)
		draw.Draw(rgba, rgba.Rect, m, b.Min, draw.Src)
		toYCbCr(rgba, photo)
	}
	c := &photoClip{name: name, w: w, h: h, fps: fps, pan: pan, photo: photo,
		clock: capture.LiveClock{FPS: fps}, pool: capture.NewImagePool(w, h, image.YCbCrSubsampleRatio420)}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range c.noise {
		c.noise[k] = make([]int8, w*h)
		for i := range c.noise[k] {
			c.noise[k][i] = int8(max(-6, min(6, math.Round(rng.NormFloat64()*1.5))))
		}
	}
	return c, nil
}

func toYCbCr(src *image.RGBA, dst *image.YCbCr) {
	for y := 0; y < dst.Rect.Dy(); y++ {
		for x := 0; x < dst.Rect.Dx(); x++ {
			o := src.PixOffset(x, y)
			yy, cb, cr := colorToYCbCr(src.Pix[o], src.Pix[o+1], src.Pix[o+2])
			dst.Y[dst.YOffset(x, y)] = yy
			if x&1 == 0 && y&1 == 0 {
				ci := dst.COffset(x, y)
				dst.Cb[ci], dst.Cr[ci] = cb, cr
			}
		}
	}
}

func colorToYCbCr(r, g, b uint8) (uint8, uint8, uint8) {
	rf, gf, bf := float64(r), float64(g), float64(b)
	y := 0.299*rf + 0.587*gf + 0.114*bf
	cb := 128 - 0.168736*rf - 0.331264*gf + 0.5*bf
	cr := 128 + 0.5*rf - 0.418688*gf - 0.081312*bf
	cl := func(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }
	return cl(y), cl(cb), cl(cr)
}

func (c *photoClip) Info() capture.Info {
	return capture.Info{Name: c.name, Width: c.w, Height: c.h, FPS: c.fps, Subsample: image.YCbCrSubsampleRatio420}
}

func (c *photoClip) Close() error { return nil }

// Next paces like a live camera: a late caller gets the current frame, not a backlog.
func (c *photoClip) Next(ctx context.Context) (*capture.Frame, error) {
	seq, _, err := c.clock.Wait(ctx)
	if err != nil {
		return nil, err
	}
	img := c.pool.Get()
	c.Draw(img, seq)
	return capture.NewFrame(img, seq, time.Now(), c.pool.Release), nil
}

// offset is the pan position of frame seq: 2 pixels a frame across, bouncing, and
// a slow vertical sway; both even so chroma moves with luma.
func (c *photoClip) offset(seq uint64) (int, int) {
	if !c.pan {
		return 0, 0
	}
	span := max(2, c.photo.Rect.Dx()-c.w)
	x := int(seq*2) % (2 * span)
	if x > span {
		x = 2*span - x
	}
	y := int(40*math.Sin(float64(seq)/45)) + 40
	return x &^ 1, y &^ 1
}

// Draw renders frame seq into img (4:2:0, the clip's size).
func (c *photoClip) Draw(img *image.YCbCr, seq uint64) {
	dx, dy := c.offset(seq)
	pw, ph := c.photo.Rect.Dx(), c.photo.Rect.Dy()
	noise := c.noise[seq%uint64(len(c.noise))]
	for y := 0; y < c.h; y++ {
		sy := (y + dy) % ph
		src := c.photo.Y[sy*c.photo.YStride:]
		dst := img.Y[y*img.YStride : y*img.YStride+c.w]
		nz := noise[y*c.w : (y+1)*c.w]
		for x := range dst {
			v := int(src[(x+dx)%pw])
			if !c.pan {
				v += int(nz[x])
			}
			dst[x] = uint8(max(0, min(255, v)))
		}
	}
	cw, ch := (c.w+1)/2, (c.h+1)/2
	pcw, pch := pw/2, ph/2
	for y := 0; y < ch; y++ {
		sy := (y + dy/2) % pch
		o := y * img.CStride
		so := sy * c.photo.CStride
		for x := 0; x < cw; x++ {
			sx := (x + dx/2) % pcw
			img.Cb[o+x] = c.photo.Cb[so+sx]
			img.Cr[o+x] = c.photo.Cr[so+sx]
		}
	}
}
