// Package window shows received frames in a desktop window drawn by Ebitengine, with
// the colour conversion done on the GPU. The window is built only with cgo and the
// build tag "window"; other builds get a stub whose New returns ErrUnavailable.
// Ebitengine (v2.8, internal/ui's package init) opens the X display while the program
// starts, before main, and panics without one, so a binary that links it cannot run
// any command without a display: build.sh builds it as bin/hrvs-window beside the
// headless bin/hrvs, which hands a command that opens the window over to it.
package window

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hrvs/hrvs/internal/ycbcr"
	"github.com/hrvs/hrvs/net/receiver"
)

// ErrQuit is what Run returns when the person at the window quits it (Q, Esc, or the
// window's close button), so the caller can stop the receiver too.
var ErrQuit = errors.New("window: closed by the user")

// ErrUnavailable is what New returns in a build without the window.
var ErrUnavailable = errors.New("this binary is headless and no hrvs-window is beside it (./build.sh builds one where gcc and the X11 headers are installed): use --sink null, --http or --record")

// ErrNoDisplay is what New returns when the window is built in but there is no display.
var ErrNoDisplay = errors.New("the window needs a display: DISPLAY is not set (use --sink null, --http or --record)")

// Options configure a window.
type Options struct {
	Title     string        // what the receiver listens on; the title names the sender once frames carry it
	Width     int           // initial window size in device-independent pixels; 0 means 1280x720
	Height    int           //
	StatsText func() string // live stats for the overlay (S); may be nil
	Log       *slog.Logger  // may be nil
}

// Available reports whether New can open a window: the window is built in and a
// display is named in the environment.
func Available() bool { return builtIn && HasDisplay() }

// BuiltIn reports whether this binary links the window (and so needed a display to
// start at all).
func BuiltIn() bool { return builtIn }

// HasDisplay reports whether the environment names an X11 or Wayland display.
func HasDisplay() bool { return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" }

// fit returns where a w x h picture goes on a sw x sh screen: as large as fits with its
// aspect ratio kept, centred, on whole pixels.
func fit(w, h, sw, sh int) image.Rectangle {
	if w <= 0 || h <= 0 || sw <= 0 || sh <= 0 {
		return image.Rectangle{}
	}
	dw, dh := sw, sw*h/w
	if dh > sh {
		dw, dh = sh*w/h, sh
	}
	x, y := (sw-dw)/2, (sh-dh)/2
	return image.Rect(x, y, x+dw, y+dh)
}

// title is the window title before and after the sender is known.
func title(listen, sender string) string {
	if sender != "" {
		return "HRVS: video from " + sender
	}
	if listen != "" {
		return "HRVS: waiting for video on " + listen
	}
	return "HRVS"
}

// rateMeter counts events over a sliding second to give a rate.
type rateMeter struct {
	start, last time.Time
	n           int
	rate        float64
}

// current is the rate, or 0 once events have stopped for two seconds.
func (m *rateMeter) current(now time.Time) float64 {
	if now.Sub(m.last) > 2*time.Second {
		return 0
	}
	return m.rate
}

func (m *rateMeter) tick(now time.Time) {
	if m.start.IsZero() {
		m.start = now
	}
	m.last = now
	m.n++
	if d := now.Sub(m.start); d >= time.Second {
		m.rate = float64(m.n) / d.Seconds()
		m.start, m.n = now, 0
	}
}

// overlayText is the window's own line about the picture it shows, followed by the
// receiver's stats.
func overlayText(f frameInfo, shownFPS float64, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%dx%d %s  frame %d  shown %.1f fps", f.w, f.h, ycbcr.Name(f.sub), f.seq, shownFPS)
	if f.latency != 0 {
		fmt.Fprintf(&b, "\nlatency %.1f ms", f.latency.Seconds()*1000)
	}
	if f.tiles > 0 {
		fmt.Fprintf(&b, "\nconcealed %d/%d tiles", f.missing, f.tiles)
	}
	if extra = strings.TrimSpace(extra); extra != "" {
		b.WriteString("\n")
		b.WriteString(extra)
	}
	b.WriteString("\n[F] fullscreen  [S] stats  [Q] quit")
	return b.String()
}

// frameInfo is what the window remembers about the frame on screen once it has given
// the frame back.
type frameInfo struct {
	w, h           int
	sub            image.YCbCrSubsampleRatio
	seq            uint32
	sender         string
	latency        time.Duration
	tiles, missing int
}

func infoOf(f *receiver.Frame) frameInfo {
	i := frameInfo{seq: f.Seq, sender: f.Sender, tiles: f.Tiles, missing: f.TilesMissing}
	if f.Image != nil {
		i.w, i.h, i.sub = f.Image.Rect.Dx(), f.Image.Rect.Dy(), f.Image.SubsampleRatio
	}
	if !f.Captured.IsZero() && !f.Ready.IsZero() {
		i.latency = f.Latency()
	}
	return i
}
