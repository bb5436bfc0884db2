// Package photo makes the lab's "natural" clips from one photograph: the picture every
// lab measurement of real-looking content uses (hrvs bench's photo clip, bench-impair's
// natural clips), so their figures are comparable. Only the lab imports it.
package photo

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // the wallpapers are JPEG or PNG
	_ "image/png"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/hrvs/hrvs/capture"
)

// Default is the photograph: a forest path from Debian's plasma-workspace-wallpapers,
// about 360 KB a 1080p frame at quality 75, like a camera's view of a real scene
// (docs/JPEG.md measured the codec on it).
const Default = "/usr/share/wallpapers/Path/contents/images/2560x1600.jpg"

// fallbacks stand in where a newer or older package lacks Default: moss seen from
// above, then a smoother mountain landscape. Some of the package's other wallpapers are
// paintings, not photographs.
var fallbacks = []string{
	"/usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/Altai/contents/images/5120x2880.png",
}

// Find returns Default, or the first fallback installed when Default is not, or ""
// when none is.
func Find() string {
	for _, p := range append([]string{Default}, fallbacks...) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Clip is a deterministic "natural" clip cut from a photograph: a camera pan
// (every tile changes every frame, the hard case for conditional replenishment), or a
// static camera whose only change is sensor noise (the easy case it exists for).
type Clip struct {
	name  string
	w, h  int
	fps   float64
	pan   bool
	photo *image.YCbCr // 4:2:0
	noise [4][]int8    // luma noise planes, cycled; sensor noise of sigma ~1.5 levels

	clock capture.LiveClock
	pool  *capture.ImagePool
}

// NewClip makes a w x h clip at fps from the photograph at path (JPEG or PNG, any
// size; it is tiled when smaller than the frame): a pan when pan is set, otherwise a
// static camera with sensor noise.
func NewClip(name, path string, w, h int, fps float64, pan bool) (*Clip, error) {
	photo, err := Load(path)
	if err != nil {
		return nil, err
	}
	return FromPicture(name, photo, w, h, fps, pan), nil
}

// Load decodes the photograph at path into 4:2:0 Y'CbCr, for FromPicture: decoding a
// 2560x1600 photograph costs more than making many clips from it.
func Load(path string) (*image.YCbCr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("photo clip: %w (apt-get install plasma-workspace-wallpapers, or name another photograph)", err)
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("photo clip %s: %w", path, err)
	}
	b := m.Bounds()
	photo := image.NewYCbCr(image.Rect(0, 0, b.Dx()&^1, b.Dy()&^1), image.YCbCrSubsampleRatio420)
	if yc, ok := m.(*image.YCbCr); ok {
		// A JPEG decodes to Y'CbCr already: copy luma, and take chroma at each 2x2
		// block's top-left sample whatever the subsampling (the RGB round trip below
		// costs seconds for a 2560x1600 photograph under the race detector).
		for y := 0; y < photo.Rect.Dy(); y++ {
			copy(photo.Y[y*photo.YStride:(y+1)*photo.YStride], yc.Y[yc.YOffset(b.Min.X, b.Min.Y+y):])
		}
		for y := 0; y < photo.Rect.Dy()/2; y++ {
			if yc.SubsampleRatio == image.YCbCrSubsampleRatio420 {
				o := yc.COffset(b.Min.X, b.Min.Y+2*y)
				copy(photo.Cb[y*photo.CStride:(y+1)*photo.CStride], yc.Cb[o:])
				copy(photo.Cr[y*photo.CStride:(y+1)*photo.CStride], yc.Cr[o:])
				continue
			}
			for x := 0; x < photo.Rect.Dx()/2; x++ {
				o := yc.COffset(b.Min.X+2*x, b.Min.Y+2*y)
				photo.Cb[y*photo.CStride+x], photo.Cr[y*photo.CStride+x] = yc.Cb[o], yc.Cr[o]
			}
		}
	} else {
		rgba := image.NewRGBA(photo.Rect)
		draw.Draw(rgba, rgba.Rect, m, b.Min, draw.Src)
		toYCbCr(rgba, photo)
	}
	return photo, nil
}

// FromPicture makes a clip as NewClip does from a photograph Load decoded; clips share
// the picture and never write to it.
func FromPicture(name string, photo *image.YCbCr, w, h int, fps float64, pan bool) *Clip {
	c := &Clip{name: name, w: w, h: h, fps: fps, pan: pan, photo: photo,
		clock: capture.LiveClock{FPS: fps}, pool: capture.NewImagePool(w, h, image.YCbCrSubsampleRatio420)}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range c.noise {
		c.noise[k] = make([]int8, w*h)
		for i := range c.noise[k] {
			c.noise[k][i] = int8(max(-6, min(6, math.Round(rng.NormFloat64()*1.5))))
		}
	}
	return c
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

func (c *Clip) Info() capture.Info {
	return capture.Info{Name: c.name, Width: c.w, Height: c.h, FPS: c.fps, Subsample: image.YCbCrSubsampleRatio420}
}

func (c *Clip) Close() error { return nil }

// Next paces like a live camera: a late caller gets the current frame, not a backlog.
func (c *Clip) Next(ctx context.Context) (*capture.Frame, error) {
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
func (c *Clip) offset(seq uint64) (int, int) {
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
func (c *Clip) Draw(img *image.YCbCr, seq uint64) {
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
