//go:build cgo && window

package window

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/receiver/mailbox"
)

const builtIn = true

//go:embed yuv.kage
var yuvKage []byte

// Window shows the newest frame it was given. Show may be called from any goroutine
// and never waits for the screen; Run owns the screen and must be called on the main
// goroutine.
type Window struct {
	opt Options

	frames *mailbox.Box[*receiver.Frame] // newest frame not yet uploaded

	started atomic.Bool
	uploads atomic.Uint64 // frames uploaded so far (tests wait on it)
	lastSeq atomic.Uint32 // sequence number of the last frame uploaded

	// Owned by Run's goroutine.
	ctx     context.Context
	shader  *ebiten.Shader
	planes  [3]*ebiten.Image
	bufs    [3][]byte
	rgb     *ebiten.Image
	rgbPix  []byte // the RGB picture, for the CPU conversion
	info    frameInfo
	overlay atomic.Bool // the stats overlay is on (S toggles it); read by tests too
	title   string
	shown   rateMeter
	stats   string
	statsAt time.Time
	drawn   drawState // what the screen shows now, to skip redrawing an unchanged screen

	convert    atomic.Int32 // convertAuto, convertShader or convertCPU
	uploadTime atomic.Int64 // nanoseconds spent in upload, summed
}

// How the window converts Y'CbCr to RGB. The shader costs the CPU next to nothing with
// a GPU, but with Mesa's software rasteriser (no GPU, as under Xvfb) its work is CPU
// time too, and there it costs about twice the CPU conversion: for a 1080p 4:2:0 frame
// ~65 ms of process CPU against ~30 ms, measured by TestWindowColourConversionCost on a
// 2-core VM. So the window picks the CPU conversion when it finds itself on swrast.
const (
	convertAuto int32 = iota
	convertShader
	convertCPU
)

// softwareGL reports whether the process draws with Mesa's software rasteriser.
func softwareGL() bool {
	maps, err := os.ReadFile("/proc/self/maps")
	return err == nil && bytes.Contains(maps, []byte("/swrast_dri.so"))
}

// New prepares a window; it appears when Run is called.
func New(opt Options) (*Window, error) {
	if !HasDisplay() {
		return nil, ErrNoDisplay
	}
	if opt.Width <= 0 || opt.Height <= 0 {
		opt.Width, opt.Height = 1280, 720
	}
	return &Window{opt: opt, frames: mailbox.New[*receiver.Frame]()}, nil
}

// Show keeps f as the newest frame, dropping the one that was waiting, if any.
func (w *Window) Show(f *receiver.Frame) error {
	f.Retain()
	w.frames.Put(f) // after Close, Put releases it at once
	return nil
}

// Close gives back the waiting frame and makes Run return if it is running.
func (w *Window) Close() error {
	w.frames.Close()
	return nil
}

// Run opens the window and shows frames until ctx ends or Close is called (it returns
// nil then) or the user quits (it returns ErrQuit). It must be called on the main
// goroutine, and only once: Ebitengine runs one game per process.
func (w *Window) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("window: Run called twice")
	}
	w.ctx = ctx
	w.title = title(w.opt.Title, "")
	ebiten.SetWindowTitle(w.title)
	ebiten.SetWindowSize(w.opt.Width, w.opt.Height)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetWindowClosingHandled(true)
	ebiten.SetRunnableOnUnfocused(true)
	// The screen is redrawn only when something on it changed (see Draw): without a
	// GPU (Mesa's llvmpipe) every redraw is CPU time.
	ebiten.SetScreenClearedEveryFrame(false)
	err := ebiten.RunGameWithOptions(&game{w}, &ebiten.RunGameOptions{})
	if errors.Is(err, ErrQuit) {
		return ErrQuit
	}
	return err
}

// game adapts Window to ebiten.Game without exporting Update, Draw and Layout.
type game struct{ w *Window }

func (g *game) Update() error {
	w := g.w
	if w.ctx.Err() != nil || w.frames.Closed() {
		return ebiten.Termination
	}
	if ebiten.IsWindowBeingClosed() || inpututil.IsKeyJustPressed(ebiten.KeyQ) || inpututil.IsKeyJustPressed(ebiten.KeyEscape) {
		return ErrQuit
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyF) {
		ebiten.SetFullscreen(!ebiten.IsFullscreen())
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyS) {
		w.overlay.Store(!w.overlay.Load())
	}
	if t := title(w.opt.Title, w.info.sender); t != w.title {
		w.title = t
		ebiten.SetWindowTitle(t)
	}
	return nil
}

func (g *game) Draw(screen *ebiten.Image) {
	w := g.w
	if f, ok := w.frames.TryTake(); ok {
		start := time.Now()
		err := w.upload(f)
		w.uploadTime.Add(int64(time.Since(start)))
		w.info = infoOf(f)
		f.Release()
		if err != nil {
			if w.opt.Log != nil {
				w.opt.Log.Error("window: cannot show frame", "err", err)
			}
		} else {
			w.shown.tick(time.Now())
			w.lastSeq.Store(w.info.seq)
			w.uploads.Add(1)
		}
	}
	sb := screen.Bounds()
	now := drawState{uploads: w.uploads.Load(), size: sb.Size(), overlay: w.overlay.Load(), title: w.title}
	if now.overlay {
		w.updateStats()
		now.stats = w.stats
	}
	if now == w.drawn {
		return
	}
	w.drawn = now
	screen.Clear()
	if w.rgb == nil {
		ebitenutil.DebugPrintAt(screen, "waiting for video\n"+w.title, 8, 8)
		return
	}
	fb := w.rgb.Bounds()
	r := fit(fb.Dx(), fb.Dy(), sb.Dx(), sb.Dy())
	op := &ebiten.DrawImageOptions{Filter: ebiten.FilterLinear}
	op.GeoM.Scale(float64(r.Dx())/float64(fb.Dx()), float64(r.Dy())/float64(fb.Dy()))
	op.GeoM.Translate(float64(r.Min.X), float64(r.Min.Y))
	screen.DrawImage(w.rgb, op)
	if now.overlay {
		w.drawOverlay(screen)
	}
}

func (g *game) Layout(ow, oh int) (int, int) { return ow, oh }

// LayoutF gives the screen one pixel per device pixel so the video is not blurred on
// high-density displays.
func (g *game) LayoutF(ow, oh float64) (float64, float64) {
	s := ebiten.Monitor().DeviceScaleFactor()
	return ow * s, oh * s
}

// upload puts f on the GPU and converts it to RGB there.
func (w *Window) upload(f *receiver.Frame) error {
	img := f.Image
	if img == nil || img.Rect.Empty() {
		return errors.New("frame has no picture")
	}
	fw, fh := img.Rect.Dx(), img.Rect.Dy()
	if w.rgb == nil || w.rgb.Bounds().Dx() != fw || w.rgb.Bounds().Dy() != fh {
		if w.rgb != nil {
			w.rgb.Deallocate()
		}
		w.rgb = ebiten.NewImageWithOptions(image.Rect(0, 0, fw, fh), &ebiten.NewImageOptions{Unmanaged: true})
	}
	mode := w.convert.Load()
	if mode == convertAuto {
		mode = convertShader
		if softwareGL() {
			mode = convertCPU
		}
		w.convert.Store(mode)
		if w.opt.Log != nil {
			w.opt.Log.Info("window colour conversion", "on", map[int32]string{convertShader: "GPU (Kage shader)", convertCPU: "CPU (software OpenGL found)"}[mode])
		}
	}
	if mode == convertCPU {
		return w.uploadCPU(img)
	}
	if w.shader == nil {
		s, err := ebiten.NewShader(yuvKage)
		if err != nil {
			return fmt.Errorf("compiling the colour shader: %w", err)
		}
		w.shader = s
	}
	p := planes(img, &w.bufs)
	for i := range p {
		pi := w.planes[i]
		if pi == nil || pi.Bounds().Dx() != p[i].texW || pi.Bounds().Dy() != p[i].rows {
			if pi != nil {
				pi.Deallocate()
			}
			pi = ebiten.NewImageWithOptions(image.Rect(0, 0, p[i].texW, p[i].rows), &ebiten.NewImageOptions{Unmanaged: true})
			w.planes[i] = pi
		}
		pi.WritePixels(p[i].pix)
	}
	dx, dy := chromaDiv(img.SubsampleRatio)
	x, y := float32(fw), float32(fh)
	vs := []ebiten.Vertex{
		{DstX: 0, DstY: 0, SrcX: 0, SrcY: 0, ColorR: 1, ColorG: 1, ColorB: 1, ColorA: 1},
		{DstX: x, DstY: 0, SrcX: x, SrcY: 0, ColorR: 1, ColorG: 1, ColorB: 1, ColorA: 1},
		{DstX: 0, DstY: y, SrcX: 0, SrcY: y, ColorR: 1, ColorG: 1, ColorB: 1, ColorA: 1},
		{DstX: x, DstY: y, SrcX: x, SrcY: y, ColorR: 1, ColorG: 1, ColorB: 1, ColorA: 1},
	}
	op := &ebiten.DrawTrianglesShaderOptions{
		Uniforms: map[string]any{
			"Min": []float32{float32(img.Rect.Min.X), float32(img.Rect.Min.Y)},
			"Div": []float32{float32(dx), float32(dy)},
		},
		Images: [4]*ebiten.Image{w.planes[0], w.planes[1], w.planes[2]},
		Blend:  ebiten.BlendCopy,
	}
	w.rgb.DrawTrianglesShader(vs, []uint16{0, 1, 2, 1, 2, 3}, w.shader, op)
	return nil
}

// uploadCPU is the per-pixel CPU conversion the shader replaces, kept to measure the
// difference.
func (w *Window) uploadCPU(img *image.YCbCr) error {
	b := img.Rect
	rgba := &image.RGBA{Pix: w.rgbPix, Stride: 4 * b.Dx(), Rect: image.Rect(0, 0, b.Dx(), b.Dy())}
	if n := 4 * b.Dx() * b.Dy(); cap(rgba.Pix) < n {
		rgba.Pix = make([]byte, n)
	} else {
		rgba.Pix = rgba.Pix[:n]
	}
	draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	w.rgbPix = rgba.Pix
	w.rgb.WritePixels(rgba.Pix)
	return nil
}

var overlayBack = color.RGBA{0, 0, 0, 0xb0}

// drawState is what decides the screen's content.
type drawState struct {
	uploads uint64
	size    image.Point
	overlay bool
	title   string
	stats   string
}

// updateStats refreshes the overlay's text four times a second.
func (w *Window) updateStats() {
	now := time.Now()
	if now.Sub(w.statsAt) < 250*time.Millisecond {
		return
	}
	extra := ""
	if w.opt.StatsText != nil {
		extra = w.opt.StatsText()
	}
	w.stats = overlayText(w.info, w.shown.current(now), extra)
	w.statsAt = now
}

func (w *Window) drawOverlay(screen *ebiten.Image) {
	lines := strings.Split(w.stats, "\n")
	width := 0
	for _, l := range lines {
		width = max(width, len(l))
	}
	// The debug font is 6x16 pixels.
	vector.DrawFilledRect(screen, 4, 4, float32(width*6+8), float32(len(lines)*16+8), overlayBack, false)
	ebitenutil.DebugPrintAt(screen, w.stats, 8, 8)
}
