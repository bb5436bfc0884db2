// Package impair is the impairment benchmark behind `hrvs bench-impair`: it streams a
// clip through internal/lab/relay under each impairment of a fixed matrix (random loss,
// bandwidth caps, jitter with reordering, a total blackout) and reports what a viewer
// gets: frames shown, complete against concealed, PSNR against the source, latency,
// and how long the picture takes to heal after the blackout. With Config.Kernel the
// loss and the caps are the kernel's instead, between two network namespaces
// (internal/lab/testbed).
package impair

import (
	"context"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/lab/testbed"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// Config says what to stream and for how long; zero values take the defaults noted.
type Config struct {
	Width, Height int           // frame size (1920x1080)
	FPS           float64       // source rate (30)
	Duration      time.Duration // measured time per run, after Warmup (10s)
	Warmup        time.Duration // time for rate control to settle before measuring (2s)
	Clips         []string      // "pattern", "natural" (a pan over a photograph), "static" (a still camera) (pattern and natural)
	Scenarios     []string      // names from Matrix; empty runs them all
	Photo         string        // photograph for the natural clips (DefaultPhoto)
	Seed          int64         // relay seed (1)
	GStreamer     bool          // also run GStreamer RTP/JPEG under the same random loss
	// Kernel puts the sender and the receiver in two network namespaces joined by a
	// veth pair (internal/lab/testbed) and makes random loss with nftables and bandwidth caps
	// with a tc tbf qdisc, as a real host would; delay, jitter, reordering and the
	// blackout stay with the relay. Needs root, ip, nft and tc.
	Kernel bool
	// Sender settings passed through (sender.Config has the defaults).
	Quality         int
	MaxBitrate      int64
	ChangeThreshold int
	Refresh         time.Duration
	FEC             int
	NewEncoder      func() tile.Encoder
	NewDecoder      func(h *tile.Headers) tile.Decoder
	Log             *slog.Logger
}

// Scenario is one impairment of the path from sender to receiver.
type Scenario struct {
	Key      string // short name for --scenarios
	Name     string
	Relay    relay.Config  // impairment fields only; addresses are filled in per run
	Blackout time.Duration // a total blackout this long, 2 s into the measured time
}

// kernel reports whether the kernel can make this impairment (Config.Kernel): loss
// and rate caps, nothing else.
func (sc Scenario) kernel() bool {
	r := sc.Relay
	return sc.Blackout == 0 && r.Delay == 0 && r.Jitter == 0 && r.Reorder == 0 && r.Duplicate == 0 && (r.Loss > 0 || r.RateBits > 0)
}

// Matrix is the set of impairments the issue asks for, lossless first (the PSNR reference).
func Matrix() []Scenario {
	return []Scenario{
		{Key: "lossless", Name: "lossless"},
		{Key: "loss1", Name: "loss 1%", Relay: relay.Config{Loss: 0.01}},
		{Key: "loss5", Name: "loss 5%", Relay: relay.Config{Loss: 0.05}},
		{Key: "loss10", Name: "loss 10%", Relay: relay.Config{Loss: 0.10}},
		{Key: "loss20", Name: "loss 20%", Relay: relay.Config{Loss: 0.20}},
		{Key: "cap100", Name: "cap 100 Mbit/s", Relay: relay.Config{RateBits: 100e6}},
		{Key: "cap20", Name: "cap 20 Mbit/s", Relay: relay.Config{RateBits: 20e6}},
		{Key: "cap5", Name: "cap 5 Mbit/s", Relay: relay.Config{RateBits: 5e6}},
		{Key: "jitter", Name: "jitter 20±10 ms + 1% reorder", Relay: relay.Config{Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Reorder: 0.01}},
		{Key: "blackout", Name: "blackout 2 s", Blackout: 2 * time.Second},
	}
}

// Result is one row of the table.
type Result struct {
	Clip, Scenario string
	ShownFPS       float64 // frames released by the receiver per second
	ShownPct       float64 // of the frames the source produced
	CompletePct    float64 // of the frames shown, every tile the frame carried arrived
	ConcealedPct   float64 // of the frames shown, some tile came from an older frame because it was lost
	PSNR           float64 // mean over sampled shown frames, dB, against the exact source frame
	LatencyP50     float64 // ms, capture to frame ready
	LatencyP99     float64
	HealMs         float64 // blackout runs: from the end of the blackout to the first whole picture; -1 never
	Mbps           float64 // sent
	Quality        int     // quality at the end
	TileShare      float64 // tiles sent / full frames
	Note           string
}

func (c *Config) fill() {
	if c.Width == 0 || c.Height == 0 {
		c.Width, c.Height = 1920, 1080
	}
	if c.FPS == 0 {
		c.FPS = 30
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if len(c.Clips) == 0 {
		c.Clips = []string{"pattern", "natural"}
	}
	if c.Photo == "" {
		c.Photo = DefaultPhoto
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Run streams every clip under every chosen scenario, writes a Markdown table to out
// as rows complete, and returns the rows.
func Run(ctx context.Context, cfg Config, out io.Writer) ([]Result, error) {
	cfg.fill()
	var scens []Scenario
	for _, s := range Matrix() {
		if len(cfg.Scenarios) == 0 || slices.Contains(cfg.Scenarios, s.Key) {
			scens = append(scens, s)
		}
	}
	if len(scens) == 0 {
		return nil, fmt.Errorf("impair: no scenario matches %q", cfg.Scenarios)
	}
	fmt.Fprintf(out, "%dx%d at %g fps, %v measured after %v warm-up per run\n\n", cfg.Width, cfg.Height, cfg.FPS, cfg.Duration, cfg.Warmup)
	fmt.Fprintln(out, "| clip | impairment | shown fps | shown | complete | concealed | PSNR dB | latency p50 / p99 ms | heal ms | Mbit/s | q | tiles sent |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	var all []Result
	for _, clip := range cfg.Clips {
		for _, sc := range scens {
			if ctx.Err() != nil {
				return all, ctx.Err()
			}
			r, err := RunOne(ctx, cfg, clip, sc)
			if err != nil {
				return all, err
			}
			all = append(all, r)
			name := r.Scenario
			if r.Note != "" {
				name += " (" + r.Note + ")"
			}
			heal := "-"
			if sc.Blackout > 0 {
				heal = fmt.Sprintf("%.0f", r.HealMs)
			}
			fmt.Fprintf(out, "| %s | %s | %.1f | %.1f%% | %.1f%% | %.1f%% | %.2f | %.0f / %.0f | %s | %.1f | %d | %.0f%% |\n",
				r.Clip, name, r.ShownFPS, r.ShownPct, r.CompletePct, r.ConcealedPct, r.PSNR,
				r.LatencyP50, r.LatencyP99, heal, r.Mbps, r.Quality, 100*r.TileShare)
		}
	}
	if cfg.GStreamer {
		if err := gstTable(ctx, cfg, scens, out); err != nil {
			return all, err
		}
	}
	return all, nil
}

// kernelPath builds a two-namespace bed with sc's loss (nftables, on the receiver's
// input) and rate cap (tbf on the sender's egress).
func kernelPath(ctx context.Context, sc Scenario) (*testbed.Bed, error) {
	if err := testbed.Check(); err != nil {
		return nil, fmt.Errorf("impair: --kernel: %w", err)
	}
	bed, err := testbed.New(ctx, "impair")
	if err != nil {
		return nil, fmt.Errorf("impair: --kernel: %w", err)
	}
	if sc.Relay.Loss > 0 {
		err = bed.SetLoss(int(math.Round(100 * sc.Relay.Loss)))
	}
	if err == nil && sc.Relay.RateBits > 0 {
		err = bed.SetRate(sc.Relay.RateBits)
	}
	if err != nil {
		bed.Close()
		return nil, fmt.Errorf("impair: --kernel: %w", err)
	}
	return bed, nil
}

func openClip(cfg Config, clip string) (drawer, error) {
	switch clip {
	case "pattern":
		return capture.NewPattern(cfg.Width, cfg.Height, cfg.FPS)
	case "natural":
		return newPhotoClip(clip, cfg.Photo, cfg.Width, cfg.Height, cfg.FPS, true)
	case "static":
		return newPhotoClip(clip, cfg.Photo, cfg.Width, cfg.Height, cfg.FPS, false)
	}
	return nil, fmt.Errorf("impair: unknown clip %q (pattern, natural or static)", clip)
}

// sample is what the display saw of one frame.
type sample struct {
	ready    time.Time
	latency  time.Duration
	complete bool
	psnr     float64 // NaN when not measured
}

// measured picks the source frames whose PSNR the display measures outside the
// heal window: one in four (every frame would cost a core at 1080p and starve the
// stream being measured), chosen by a hash of the source frame number, so every
// run measures the same frames whatever it drops, and a clip whose difficulty
// repeats every few frames cannot alias with the choice.
func measured(seq uint64) bool { return (seq*0x9e3779b97f4a7c15)>>62 == 0 }

// RunOne streams one clip under one scenario.
func RunOne(ctx context.Context, cfg Config, clip string, sc Scenario) (Result, error) {
	cfg.fill()
	res := Result{Clip: clip, Scenario: sc.Name, HealMs: -1}
	src, err := openClip(cfg, clip)
	if err != nil {
		return res, err
	}
	defer src.Close()
	rxCfg := receiver.Config{Listen: "127.0.0.1:0", Sockets: 2, NewDecoder: cfg.NewDecoder, Log: cfg.Log}
	txCfg := sender.Config{Quality: cfg.Quality, MaxBitrate: cfg.MaxBitrate,
		ChangeThreshold: cfg.ChangeThreshold, Refresh: cfg.Refresh, FEC: cfg.FEC, NewEncoder: cfg.NewEncoder, Log: cfg.Log}
	var rx *receiver.Receiver
	var tx *sender.Sender
	var rl *relay.Relay // nil when the kernel impairs the path
	if cfg.Kernel && sc.kernel() {
		bed, err := kernelPath(ctx, sc)
		if err != nil {
			return res, err
		}
		defer bed.Close()
		res.Note = "kernel"
		rxCfg.Listen = netip.AddrPortFrom(bed.ReceiverAddr(), 0).String()
		if err := bed.Do(testbed.Receiver, func() (err error) { rx, err = receiver.New(rxCfg); return err }); err != nil {
			return res, err
		}
		txCfg.To = rx.Addr()
		txCfg.DialControl = func(ctx context.Context, addr string) (net.Conn, error) {
			return bed.DialTCP(ctx, testbed.Sender, addr)
		}
		if err := bed.Do(testbed.Sender, func() (err error) { tx, err = sender.New(txCfg); return err }); err != nil {
			return res, err
		}
	} else {
		if rx, err = receiver.New(rxCfg); err != nil {
			return res, err
		}
		rcfg := sc.Relay
		rcfg.Listen, rcfg.Forward, rcfg.Seed = "127.0.0.1:0", rx.Addr(), cfg.Seed
		if rl, err = relay.Start(rcfg, cfg.Log); err != nil {
			return res, err
		}
		defer rl.Close()
		txCfg.To = rl.Addr().String()
		if tx, err = sender.New(txCfg); err != nil {
			return res, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rec := capture.NewStamps(src)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rx.Run(ctx) }()
	var (
		mu        sync.Mutex
		samples   []sample
		measuring bool
		healFrom  time.Time // blackout end: measure every frame until healed
		healed    bool
		baseline  []float64 // PSNR before the blackout
	)
	go func() { // the display: takes the newest frame, compares some with their source
		defer wg.Done()
		ref := image.NewYCbCr(image.Rect(0, 0, cfg.Width, cfg.Height), image.YCbCrSubsampleRatio420)
		for {
			f, err := rx.Next(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			on, from, done := measuring, healFrom, healed
			mu.Unlock()
			s := sample{ready: f.Ready, latency: f.Latency(), complete: f.Complete(), psnr: math.NaN()}
			inHeal := !from.IsZero() && !done && f.Ready.After(from)
			if seq, ok := rec.Seq(f.CaptureUS); ok && on && (measured(seq) || inHeal) {
				if f.Image.Rect.Dx() == cfg.Width && f.Image.Rect.Dy() == cfg.Height {
					src.Draw(ref, seq)
					s.psnr = tile.PSNR(ref, f.Image)
				}
			}
			f.Release()
			mu.Lock()
			if on {
				samples = append(samples, s)
				if !math.IsNaN(s.psnr) && from.IsZero() && sc.Blackout > 0 {
					baseline = append(baseline, s.psnr)
				}
				if inHeal && !math.IsNaN(s.psnr) && len(baseline) > 0 && s.psnr >= median(baseline)-1 {
					healed = true
					res.HealMs = float64(s.ready.Sub(from)) / float64(time.Millisecond)
				}
			}
			mu.Unlock()
		}
	}()
	sendDone := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); sendDone <- tx.Run(ctx, rec, 0) }()

	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	stop := func() {
		cancel()
		wg.Wait()
	}
	if !wait(cfg.Warmup) {
		stop()
		return res, ctx.Err()
	}
	rs0, ss0 := rx.Stats(), tx.Stats()
	t0 := time.Now()
	mu.Lock()
	measuring = true
	mu.Unlock()
	if sc.Blackout > 0 {
		lead := min(2*time.Second, cfg.Duration/3)
		wait(lead)
		rl.BlackoutFor(sc.Blackout)
		mu.Lock()
		healFrom = time.Now().Add(sc.Blackout)
		mu.Unlock()
		wait(cfg.Duration - lead)
	} else {
		wait(cfg.Duration)
	}
	rs1, ss1 := rx.Stats(), tx.Stats()
	secs := time.Since(t0).Seconds()
	mu.Lock()
	measuring = false
	mu.Unlock()
	stop()
	select {
	case err := <-sendDone:
		if err != nil {
			return res, err
		}
	default:
	}

	got := float64(rs1.FramesReceived - rs0.FramesReceived)
	res.ShownFPS = got / secs
	res.ShownPct = 100 * got / (secs * cfg.FPS)
	if got > 0 {
		res.CompletePct = 100 * float64(rs1.FramesComplete-rs0.FramesComplete) / got
		res.ConcealedPct = 100 * float64(rs1.FramesPartial-rs0.FramesPartial) / got
	}
	res.Mbps = float64(ss1.BytesSent-ss0.BytesSent) * 8 / secs / 1e6
	res.Quality = ss1.Quality
	if fr := ss1.FramesSent - ss0.FramesSent; fr > 0 && ss1.Tiles > 0 {
		res.TileShare = float64(ss1.TilesSent-ss0.TilesSent) / float64(fr) / float64(ss1.Tiles)
	}
	var lat []float64
	var psnr []float64
	for _, s := range samples {
		lat = append(lat, float64(s.latency)/float64(time.Millisecond))
		if !math.IsNaN(s.psnr) && !math.IsInf(s.psnr, 0) {
			psnr = append(psnr, s.psnr)
		}
	}
	res.LatencyP50, res.LatencyP99 = percentile(lat, 50), percentile(lat, 99)
	res.PSNR = mean(psnr)
	path := any("kernel (netns, nftables, tbf)")
	if rl != nil {
		path = rl.Stats()
	}
	cfg.Log.Info("impair run", "clip", clip, "scenario", sc.Name, "sender", ss1, "receiver", rs1, "path", path)
	return res, nil
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, i))]
}

func median(v []float64) float64 { return percentile(v, 50) }

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
