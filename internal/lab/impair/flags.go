package impair

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hrvs/hrvs/internal/lab/photo"
	"github.com/hrvs/hrvs/internal/units"
)

// ParseFlags reads the `hrvs bench-impair` command line (without the subcommand) into a
// Config. --help prints the usage to help and returns an error wrapping flag.ErrHelp,
// which the caller treats as success; a bad flag comes back as an error starting
// "bench-impair: ". NewEncoder and NewDecoder are left for the caller to set.
//
//	hrvs bench-impair --size 1920x1080 --fps 30 --duration 10s --clips pattern,natural --gstreamer
func ParseFlags(args []string, help io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("bench-impair", flag.ContinueOnError)
	fs.SetOutput(help)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: hrvs bench-impair [flags]

Streams clips over loopback through an impairing relay (random loss 0-20%, caps of
100, 20 and 5 Mbit/s, 20±10 ms jitter with 1% reordering, a 2 s blackout) and prints a
Markdown table: frames shown, complete vs concealed, PSNR against the source, latency
p50/p99, time to heal after the blackout. With --kernel (root) the loss and the caps
are made by the kernel instead (nftables and tc tbf between two network namespaces).
docs/CONTROL.md has the figures.

Scenarios: `+strings.Join(names(), "; ")+`

Flags:
`)
		fs.PrintDefaults()
	}
	size := "1920x1080"
	clips, scens := "pattern,natural", ""
	fs.StringVar(&size, "size", size, "frame `WxH`")
	fs.Float64Var(&c.FPS, "fps", 30, "source frame `rate`")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured `time` per run")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "`time` before measuring, for rate control to settle")
	fs.StringVar(&clips, "clips", clips, "comma-separated `clips`: pattern, natural (a pan over a photograph), static (a still camera with sensor noise)")
	fs.StringVar(&scens, "scenarios", "", "comma-separated scenario `keys`, like loss5,cap5 (default: all)")
	fs.StringVar(&c.Photo, "photo", photo.Default, "JPEG `file` the natural clips are cut from")
	fs.Int64Var(&c.Seed, "seed", 1, "relay random `seed`")
	fs.BoolVar(&c.GStreamer, "gstreamer", false, "also run GStreamer RTP/JPEG under the same loss (needs gst-launch-1.0)")
	fs.BoolVar(&c.Kernel, "kernel", false, "make loss (nftables) and rate caps (tc tbf) in the kernel between two network namespaces instead of in the relay (needs root, ip, nft, tc)")
	fs.IntVar(&c.Quality, "quality", 0, "highest JPEG `quality` (sender default)")
	fs.Func("max-bitrate", "cap the sender's average `rate`, like 20mbit", func(s string) error {
		v, err := units.ParseBitrate(s)
		c.MaxBitrate = v
		return err
	})
	fs.IntVar(&c.ChangeThreshold, "change-threshold", 0, "sender change threshold in `levels` (0: default, -1: send every tile)")
	fs.DurationVar(&c.Refresh, "refresh", 0, "sender refresh `period` (0: default)")
	fs.IntVar(&c.FEC, "fec", 0, "Reed-Solomon parity: 0 adaptive, -1 off, 1..100 a fixed `share` (parity per 100 data datagrams)")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("bench-impair: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("bench-impair: unexpected argument %q", fs.Arg(0))
	}
	w, h, ok := strings.Cut(size, "x")
	var err1, err2 error
	c.Width, err1 = strconv.Atoi(w)
	c.Height, err2 = strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil || c.Width < 16 || c.Height < 16 || c.Width > 7680 || c.Height > 4320 {
		return Config{}, fmt.Errorf("bench-impair: --size %q: want WxH, like 1920x1080", size)
	}
	if c.FPS <= 0 || c.FPS > 240 || c.Duration <= 0 || c.Warmup < 0 {
		return Config{}, fmt.Errorf("bench-impair: --fps must be 0..240 and --duration positive")
	}
	c.Clips = split(clips)
	for _, cl := range c.Clips {
		if cl != "pattern" && cl != "natural" && cl != "static" {
			return Config{}, fmt.Errorf("bench-impair: unknown clip %q (pattern, natural, static)", cl)
		}
	}
	c.Scenarios = split(scens)
	for _, s := range c.Scenarios {
		found := false
		for _, m := range Matrix() {
			found = found || m.Key == s
		}
		if !found {
			return Config{}, fmt.Errorf("bench-impair: unknown scenario %q (%s)", s, strings.Join(names(), "; "))
		}
	}
	return c, nil
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
