package impair

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hrvs/hrvs/internal/units"
)

// Usage is what `hrvs bench-impair --help` says above the flags.
func Usage() string {
	return `Streams clips over loopback through an impairing relay (random loss 0-20%, caps of
100, 20 and 5 Mbit/s, 20±10 ms jitter with 1% reordering, a 2 s blackout) and prints a
Markdown table: frames shown, complete vs concealed, PSNR against the source, latency
p50/p99, time to heal after the blackout. With --kernel (root) the loss and the caps
are made by the kernel instead (nftables and tc tbf between two network namespaces).
docs/CONTROL.md has the figures.

Scenarios: ` + strings.Join(names(), "; ")
}

// DefaultConfig is the command line's defaults: 1080p30 of the pattern and the natural
// clip, 10 s measured after 2 s of warm-up, every scenario.
func DefaultConfig() Config {
	return Config{Width: 1920, Height: 1080, FPS: 30, Duration: 10 * time.Second, Warmup: 2 * time.Second,
		Clips: []string{"pattern", "natural"}, Photo: DefaultPhoto, Seed: 1}
}

// Bounds of the sender settings bench-impair passes through (sender.Config's).
const (
	maxFEC             = 100
	minMaxBitrate      = 100_000
	maxChangeThreshold = 255
	minRefresh         = 100 * time.Millisecond
	maxFPS             = 240
)

// Flags declares the `hrvs bench-impair` command line on fs, writing into c; the values c
// holds (DefaultConfig's, usually) are the defaults. Check validates the result.
// NewEncoder and NewDecoder are left for the caller to set.
//
//	hrvs bench-impair --size 1920x1080 --fps 30 --duration 10s --clips pattern,natural --gstreamer
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.Var(&sizeValue{c}, "size", "frame size `WxH` in pixels, 16x16..7680x4320")
	fs.Float64Var(&c.FPS, "fps", c.FPS, fmt.Sprintf("source frame `rate` in frames per second, above 0 up to %d", maxFPS))
	fs.DurationVar(&c.Duration, "duration", c.Duration, "measured `time` per run")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "`time` before measuring, for rate control to settle")
	fs.Var((*listValue)(&c.Clips), "clips", "comma-separated `clips`: pattern, natural (a pan over a photograph), static (a still camera with sensor noise)")
	fs.Var((*listValue)(&c.Scenarios), "scenarios", "comma-separated scenario `keys`, like loss5,cap5 (default: all)")
	fs.StringVar(&c.Photo, "photo", c.Photo, "JPEG `file` the natural clips are cut from")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "relay random `seed`")
	fs.BoolVar(&c.GStreamer, "gstreamer", c.GStreamer, "also run GStreamer RTP/JPEG under the same loss (needs gst-launch-1.0)")
	fs.BoolVar(&c.Kernel, "kernel", c.Kernel, "make loss (nftables) and rate caps (tc tbf) in the kernel between two network namespaces instead of in the relay (needs root, ip, nft, tc)")
	fs.IntVar(&c.Quality, "quality", c.Quality, "highest JPEG `quality`, 1..100 (default 0: the sender's, 75)")
	fs.Var((*units.Bitrate)(&c.MaxBitrate), "max-bitrate", "cap the sender's average `rate` in tc units, like 20mbit, at least 100kbit (default 0: none)")
	fs.IntVar(&c.ChangeThreshold, "change-threshold", c.ChangeThreshold, "sender change threshold in `levels`, 1..255; -1 sends every tile (default 0: the sender's, 4)")
	fs.DurationVar(&c.Refresh, "refresh", c.Refresh, "sender refresh `period`, at least 100ms (default 0: the sender's, 2s)")
	fs.IntVar(&c.FEC, "fec", c.FEC, "Reed-Solomon parity: 0 adaptive, -1 off, 1..100 parity datagrams per 100 data datagrams (default 0)")
}

// Check validates a configuration read by Flags, naming the flag at fault.
func (c *Config) Check() error {
	switch {
	case c.Width < 16 || c.Height < 16 || c.Width > 7680 || c.Height > 4320:
		return fmt.Errorf("--size %dx%d: want 16x16..7680x4320", c.Width, c.Height)
	case !(c.FPS > 0 && c.FPS <= maxFPS):
		return fmt.Errorf("--fps %v: want above 0 up to %d", c.FPS, maxFPS)
	case c.Duration <= 0:
		return fmt.Errorf("--duration %v: must be positive", c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("--warmup %v: must not be negative", c.Warmup)
	case len(c.Clips) == 0:
		return fmt.Errorf("--clips names no clip")
	case c.Quality < 0 || c.Quality > 100:
		return fmt.Errorf("--quality %d: want 1..100, or 0 for the sender's", c.Quality)
	case c.MaxBitrate != 0 && c.MaxBitrate < minMaxBitrate:
		return fmt.Errorf("--max-bitrate %d bit/s: want at least 100kbit, or 0 for none", c.MaxBitrate)
	case c.ChangeThreshold < -1 || c.ChangeThreshold > maxChangeThreshold:
		return fmt.Errorf("--change-threshold %d: want -1, 1..%d, or 0 for the sender's", c.ChangeThreshold, maxChangeThreshold)
	case c.Refresh != 0 && c.Refresh < minRefresh:
		return fmt.Errorf("--refresh %v: want at least %v, or 0 for the sender's", c.Refresh, minRefresh)
	case c.FEC < -1 || c.FEC > maxFEC:
		return fmt.Errorf("--fec %d: want -1 (off), 0 (adaptive) or 1..%d", c.FEC, maxFEC)
	}
	for _, cl := range c.Clips {
		if cl != "pattern" && cl != "natural" && cl != "static" {
			return fmt.Errorf("--clips: unknown clip %q (pattern, natural, static)", cl)
		}
	}
	for _, s := range c.Scenarios {
		found := false
		for _, m := range Matrix() {
			found = found || m.Key == s
		}
		if !found {
			return fmt.Errorf("--scenarios: unknown scenario %q (%s)", s, strings.Join(names(), "; "))
		}
	}
	return nil
}

// sizeValue is --size, a units.Size written into Config's Width and Height.
type sizeValue struct{ c *Config }

func (v *sizeValue) String() string {
	if v.c == nil {
		return ""
	}
	return fmt.Sprintf("%dx%d", v.c.Width, v.c.Height)
}

func (v *sizeValue) Set(s string) error {
	var z units.Size
	if err := z.Set(s); err != nil {
		return err
	}
	v.c.Width, v.c.Height = z.W, z.H
	return nil
}

// listValue is a comma-separated list; blanks are dropped.
type listValue []string

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listValue) Set(s string) error {
	*l = split(s)
	return nil
}

func names() []string {
	var n []string
	for _, s := range Matrix() {
		n = append(n, s.Key+" ("+s.Name+")")
	}
	return n
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
