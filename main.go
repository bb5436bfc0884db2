// Command hrvs sends live high-resolution video from one Linux machine to another on
// a LAN over UDP: `hrvs send` next to a camera or a file, `hrvs recv` next to a screen.
// This file only wires a capture.Source to a sender, and a receiver to a render.Sink,
// from command-line flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/bench"
	"github.com/hrvs/hrvs/net/impair"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/relay"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/stats"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
	"github.com/hrvs/hrvs/render"
)

// version is set at build time by build.sh (-ldflags -X main.version=...).
var version = "dev"

const usage = `hrvs: live high-resolution video over UDP on a LAN

usage:
  hrvs send --to HOST:PORT [flags]     stream a source to a receiver
  hrvs recv --listen HOST:PORT [flags] receive, assemble and show a stream
  hrvs demo [flags]                    sender and receiver in one process over loopback
  hrvs devices                         list V4L2 cameras with their formats, sizes and rates
  hrvs bench [flags]                   hrvs vs GStreamer and ffmpeg RTP/JPEG over loopback; prints a markdown table
  hrvs bench-impair [flags]            hrvs under loss, caps, jitter and blackouts (and GStreamer beside it)
  hrvs relay --listen A --to B [flags] a UDP+TCP relay that adds delay, jitter, loss,
                                       reordering, duplication and rate caps (for tests)
  hrvs version                         print the version

Run 'hrvs COMMAND --help' for a command's flags.
`

// errUsage marks a command-line mistake: exit status 2, one line of reason.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// lockedWriter serialises writes from the live lines and the log, so each lands whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// run is main without the exit, so tests can drive the command line.
func run(args []string, stdout, stderr io.Writer) int {
	stderr = &lockedWriter{w: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch cmd := args[0]; cmd {
	case "send":
		err = cmdSend(ctx, args[1:], stdout, stderr, log)
	case "recv":
		err = cmdRecv(ctx, args[1:], stdout, stderr, log)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr, log)
	case "devices":
		err = cmdDevices(args[1:], stdout)
	case "relay":
		err = cmdRelay(ctx, args[1:], stdout, log)
	case "bench-impair":
		err = cmdBenchImpair(ctx, args[1:], stdout, stderr, log)
	case "bench":
		err = bench.Main(ctx, args[1:], stdout, stderr)
		if errors.Is(err, bench.ErrUsage) {
			err = errUsage{strings.TrimPrefix(err.Error(), "bench: ")}
		}
	case "version", "--version":
		fmt.Fprintf(stdout, "hrvs %s (protocol %d, %s, %s/%s)\n", version, wire.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = errUsage{fmt.Sprintf("unknown command %q (want send, recv, demo, devices, bench, bench-impair, relay or version)", cmd)}
	}
	var ue errUsage
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "hrvs %s: %s\n", args[0], ue.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "hrvs %s: %v\n", args[0], err)
		return 1
	}
}

// parse parses flags; mistakes come back as errUsage with the flag package's reason.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return errUsage{err.Error()}
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// size is a WxH flag value.
type size struct{ w, h int }

func (s *size) String() string { return fmt.Sprintf("%dx%d", s.w, s.h) }
func (s *size) Set(v string) error {
	a, b, ok := strings.Cut(strings.ToLower(v), "x")
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return fmt.Errorf("want WIDTHxHEIGHT, like 1280x720")
	}
	s.w, s.h = w, h
	return nil
}

// rate is the --fps value: unset means the source's own rate (30 for the pattern),
// 0 or "max" as fast as frames can be made, otherwise frames per second.
type rate struct {
	fps float64
	set bool
}

func (r *rate) String() string {
	if !r.set {
		return "source's own"
	}
	if r.fps == 0 {
		return "max"
	}
	return strconv.FormatFloat(r.fps, 'g', -1, 64)
}

func (r *rate) Set(v string) error {
	if v == "max" {
		r.fps, r.set = 0, true
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1000 {
		return fmt.Errorf("want 0..1000 frames per second, or max")
	}
	r.fps, r.set = f, true
	return nil
}

// captureFPS maps the flag onto capture.Options.FPS.
func (r *rate) captureFPS() float64 {
	switch {
	case !r.set:
		return 0
	case r.fps == 0:
		return -1
	}
	return r.fps
}

// sendFlags are the flags send and demo share.
type sendFlags struct {
	source                  string
	size, tile              size
	sizeSet                 bool
	fps                     rate
	format, ctrl            string
	loop                    bool
	quality, mtu, workers   int
	sockets, window, frames int
	rate                    float64
	duration                time.Duration
	statsJSON               string
	encoder                 string
	maxBitrate              int64
	changeThreshold         int
	refresh                 time.Duration
	minQuality, fec         int
}

func (f *sendFlags) register(fs *flag.FlagSet) {
	f.size, f.tile = size{1280, 720}, size{sender.DefaultTileW, sender.DefaultTileH}
	fs.StringVar(&f.source, "source", "pattern", "what to send: pattern (the built-in test pattern), a V4L2 camera\n(/dev/video0) or a video file (Y4M and MJPEG read directly, anything else through ffmpeg)")
	fs.Var(&f.size, "size", "frame size WxH for the pattern, or the size to ask a camera for (files keep theirs)")
	fs.Var(&f.fps, "fps", "frames per second; default: the source's own (30 for the pattern); 0 or max: as fast as possible")
	fs.StringVar(&f.format, "format", "auto", "camera pixel format: mjpeg, yuyv or auto (MJPEG at high resolutions)")
	fs.StringVar(&f.ctrl, "ctrl", "", "camera controls to set, name=value[,name=value] (hrvs devices lists them), e.g. power_line_frequency=1")
	fs.BoolVar(&f.loop, "loop", false, "restart a file at its end")
	fs.IntVar(&f.quality, "quality", sender.DefaultQuality, "JPEG quality 1..100")
	fs.Var(&f.tile, "tile", "tile size WxH, multiples of 16")
	fs.IntVar(&f.mtu, "mtu", sender.DefaultMTU, "largest datagram payload in bytes (up to 65507; above ~1472 IP fragments)")
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "tile encoder goroutines")
	fs.IntVar(&f.sockets, "send-sockets", 4, "UDP source ports to spread datagrams over the receiver's sockets")
	fs.IntVar(&f.window, "window", sender.DefaultWindow, "frames in flight without acknowledgement before frames are skipped")
	fs.Float64Var(&f.rate, "rate", sender.DefaultRateBits/1e6, "pacing rate in Mbit/s")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until interrupted)")
	fs.IntVar(&f.frames, "frames", 0, "stop after sending this many frames (0: no limit)")
	fs.StringVar(&f.statsJSON, "stats-json", "", "write a JSON summary to this file on exit")
	fs.StringVar(&f.encoder, "encoder", "fast", "tile JPEG encoder: fast (the project's own) or stdlib (Go's image/jpeg, the reference)")
	fs.Func("max-bitrate", "cap the average rate, like 20mbit or 500kbit (default: none; rate control still follows the path)", func(v string) error {
		n, err := relay.ParseRate(v)
		f.maxBitrate = n
		return err
	})
	fs.IntVar(&f.changeThreshold, "change-threshold", sender.DefaultChangeThreshold, "mean change in levels over a 16x16 block that makes a tile worth sending; -1 sends every tile")
	fs.DurationVar(&f.refresh, "refresh", sender.DefaultRefresh, "every tile is sent again at least this often, changed or not")
	fs.IntVar(&f.minQuality, "min-quality", sender.DefaultMinQuality, "lowest JPEG quality rate control may choose before it skips frames")
	fs.IntVar(&f.fec, "fec", 0, "Reed-Solomon parity: 0 adapts to the measured loss, -1 off, 1..100 parity datagrams per 100 data datagrams")
}

func (f *sendFlags) config(to string, log *slog.Logger) (sender.Config, error) {
	switch {
	case f.frames < 0 || f.duration < 0:
		return sender.Config{}, errUsage{"--frames and --duration must not be negative"}
	case f.rate <= 0:
		return sender.Config{}, errUsage{fmt.Sprintf("--rate %v: want a positive Mbit/s", f.rate)}
	case f.workers < 1 || f.workers > 256 || f.sockets < 1 || f.sockets > 64 || f.window < 1:
		return sender.Config{}, errUsage{"--workers 1..256, --send-sockets 1..64 and --window >= 1"}
	}
	if f.fec < -1 || f.fec > 16 || f.minQuality < 1 || f.refresh <= 0 {
		return sender.Config{}, errUsage{"--fec -1..16, --min-quality 1..100 and a positive --refresh"}
	}
	cfg := sender.Config{To: to, Quality: f.quality, TileW: f.tile.w, TileH: f.tile.h, MTU: f.mtu,
		Workers: f.workers, Sockets: f.sockets, Window: f.window, RateBits: int64(f.rate * 1e6),
		MaxBitrate: f.maxBitrate, ChangeThreshold: f.changeThreshold, Refresh: f.refresh,
		MinQuality: min(f.minQuality, f.quality), FEC: f.fec, Log: log}
	switch f.encoder {
	case "fast":
		cfg.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
	case "stdlib":
		cfg.NewEncoder = func() tile.Encoder { return &tile.StdEncoder{} }
	default:
		return sender.Config{}, errUsage{fmt.Sprintf("--encoder %q: want fast or stdlib", f.encoder)}
	}
	return cfg, nil
}

func (f *sendFlags) open(ctx context.Context, log *slog.Logger) (capture.Source, error) {
	o := capture.Options{FPS: f.fps.captureFPS(), Format: f.format, Controls: f.ctrl, Loop: f.loop, Log: log}
	if f.sizeSet || f.source == "pattern" {
		o.Width, o.Height = f.size.w, f.size.h
	}
	src, err := capture.Open(ctx, f.source, o)
	if err != nil {
		return nil, errUsage{fmt.Sprintf("--source %s: %v", f.source, err)}
	}
	return src, nil
}

// parsed records which flags the user gave, for defaults that depend on it.
func (f *sendFlags) parsed(fs *flag.FlagSet) {
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "size" {
			f.sizeSet = true
		}
	})
}

func cmdRelay(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := relay.ParseFlags(args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{strings.TrimPrefix(err.Error(), "relay: ")}
	}
	_, err = relay.Run(ctx, cfg, log)
	return err
}

func cmdBenchImpair(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	cfg, err := impair.ParseFlags(args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{strings.TrimPrefix(err.Error(), "bench-impair: ")}
	}
	cfg.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
	cfg.NewDecoder = func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }
	cfg.Log = log
	_, err = impair.Run(ctx, cfg, stdout)
	return err
}

func cmdDevices(args []string, stdout io.Writer) error {
	fs := newFlagSet("devices", "hrvs devices: list V4L2 cameras with their pixel formats, frame sizes and frame rates")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return capture.ListDevices(stdout)
}

func cmdSend(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := newFlagSet("send", "hrvs send --to HOST:PORT [flags]: stream a source to a receiver over UDP,\nwith acknowledgements over TCP on the same port")
	to := fs.String("to", "", "receiver address HOST:PORT (required)")
	var f sendFlags
	f.register(fs)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if err := checkAddr("--to", *to); err != nil {
		return err
	}
	f.parsed(fs)
	cfg, err := f.config(*to, log)
	if err != nil {
		return err
	}
	src, err := f.open(ctx, log)
	if err != nil {
		return err
	}
	defer src.Close()
	tx, err := sender.New(cfg)
	if err != nil {
		return errUsage{err.Error()}
	}
	info := src.Info()
	log.Info("sending", "to", *to, "source", info.Name, "size", fmt.Sprintf("%dx%d", info.Width, info.Height), "fps", info.FPS, "stream", tx.Stream())
	ctx, cancel := withDuration(ctx, f.duration)
	defer cancel()
	var wg sync.WaitGroup
	liveCtx, stopLive := context.WithCancel(ctx)
	wg.Add(1)
	go func() { defer wg.Done(); stats.Live(liveCtx, stderr, time.Second, sendLine(tx)) }()
	err = tx.Run(ctx, src, f.frames)
	stopLive()
	wg.Wait()
	if f.statsJSON != "" {
		if jerr := stats.WriteJSON(f.statsJSON, tx.Stats()); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// checkAddr rejects an address that is not HOST:PORT before anything is opened.
func checkAddr(flagName, addr string) error {
	if addr == "" {
		return errUsage{flagName + " HOST:PORT is required"}
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errUsage{fmt.Sprintf("%s %q: want HOST:PORT, like 192.168.1.20:5000", flagName, addr)}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errUsage{fmt.Sprintf("%s %q: port must be a number 0..65535", flagName, addr)}
	}
	return nil
}

func withDuration(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

func sendLine(tx *sender.Sender) func(time.Time) string {
	var frames, bytes stats.Rate
	frames.Per(0, time.Now())
	bytes.Per(0, time.Now())
	return func(now time.Time) string {
		s := tx.Stats()
		link := "no control link"
		if s.ControlConnected {
			link = fmt.Sprintf("rtt %.1f ms", s.RTTMs)
		}
		return fmt.Sprintf("send: %5.1f fps %7.1f Mbit/s (target %.1f)  q%d  %dx%d  tiles %.0f%%  loss %.1f%%  fec %.0f%%  sent %d  dropped %d busy %d window %d rate  encode %.1f ms  %s",
			frames.Per(s.FramesSent, now), bytes.Per(s.BytesSent, now)*8/1e6, s.TargetMbps, s.Quality, s.Width, s.Height,
			s.TileShare*100, s.LossPct, s.FECPct, s.FramesSent, s.FramesDroppedBusy, s.FramesDroppedAck, s.FramesDroppedRate, s.EncodeMsP50, link)
	}
}

// recvFlags are the flags recv and demo share.
type recvFlags struct {
	sockets, frames int
	sink            string
	http, record    string
	maxSize         size
	deadline        time.Duration
	duration        time.Duration
	statsJSON       string
	decoder         string
}

// register adds the receiver's flags; demo leaves out those the sender's flags already name.
func (f *recvFlags) register(fs *flag.FlagSet, demo bool) {
	f.maxSize = size{wire.DefaultLimits.MaxWidth, wire.DefaultLimits.MaxHeight}
	fs.Var(&f.maxSize, "max-size", "largest frame accepted; datagrams for larger frames are dropped")
	fs.DurationVar(&f.deadline, "deadline", receiver.DefaultDeadline, "how long a stalled frame waits for missing tiles")
	fs.StringVar(&f.decoder, "decoder", "fast", "tile JPEG decoder: fast (the project's own, image/jpeg for what it does not take) or stdlib")
	fs.StringVar(&f.sink, "sink", "", "where frames go: window, null or dir:PATH (a PNG per frame); default: the window\nwhen a display is available, else null")
	fs.StringVar(&f.http, "http", "", "also serve a browser view (MJPEG, /snapshot.jpg, /stats.json) on this address, e.g. :8080")
	fs.StringVar(&f.record, "record", "", "also record what is received into this AVI (MJPEG) file")
	if demo {
		return
	}
	fs.IntVar(&f.sockets, "sockets", runtime.NumCPU(), "UDP sockets sharing the port (SO_REUSEPORT), one reader each")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until interrupted)")
	fs.IntVar(&f.frames, "frames", 0, "stop after this many frames (0: no limit)")
	fs.StringVar(&f.statsJSON, "stats-json", "", "write a JSON summary to this file on exit")
}

func (f *recvFlags) config(listen string, log *slog.Logger) (receiver.Config, error) {
	if f.frames < 0 || f.duration < 0 || f.deadline <= 0 || f.sockets < 0 || f.sockets > 64 {
		return receiver.Config{}, errUsage{"--frames and --duration must not be negative, --deadline must be positive, --sockets 1..64"}
	}
	if f.maxSize.w > 65535 || f.maxSize.h > 65535 {
		return receiver.Config{}, errUsage{"--max-size: sides up to 65535"}
	}
	cfg := receiver.Config{Listen: listen, Sockets: f.sockets, Deadline: f.deadline,
		Limits: wire.Limits{MaxWidth: f.maxSize.w, MaxHeight: f.maxSize.h}, Log: log}
	switch f.decoder {
	case "fast":
		cfg.NewDecoder = func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }
	case "stdlib":
		cfg.NewDecoder = func(h *tile.Headers) tile.Decoder { return &tile.StdDecoder{Headers: h} }
	default:
		return receiver.Config{}, errUsage{fmt.Sprintf("--decoder %q: want fast or stdlib", f.decoder)}
	}
	return cfg, nil
}

func cmdRecv(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := newFlagSet("recv", "hrvs recv --listen HOST:PORT [flags]: receive a stream on a UDP port (and TCP on the\nsame port for acknowledgements), rebuild frames and show the newest")
	listen := fs.String("listen", "", "address to listen on, HOST:PORT, e.g. 0.0.0.0:5000 (required)")
	var f recvFlags
	f.register(fs, false)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if err := checkAddr("--listen", *listen); err != nil {
		return err
	}
	cfg, err := f.config(*listen, log)
	if err != nil {
		return err
	}
	rx, err := receiver.New(cfg)
	if err != nil {
		return err
	}
	sinks, err := f.outputs(rx, log)
	if err != nil {
		rx.Close()
		return err
	}
	log.Info("receiving", "listen", rx.Addr(), "sockets", cfg.Sockets)
	ctx, cancel := withDuration(ctx, f.duration)
	defer cancel()
	err = receive(ctx, cancel, rx, sinks, f.frames, stderr)
	if f.statsJSON != "" {
		if jerr := stats.WriteJSON(f.statsJSON, rx.Stats()); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// outputs opens the sinks the flags name, fed with the receiver's live stats.
func (f *recvFlags) outputs(rx *receiver.Receiver, log *slog.Logger) (*render.Set, error) {
	set, err := render.Open(render.Config{Sink: f.sink, HTTP: f.http, Record: f.record, Frames: f.frames,
		Title: "hrvs recv on " + rx.Addr(), Log: log,
		Stats:     func() any { return rx.Stats() },
		StatsText: func() string { return overlay(rx.Stats()) },
	})
	if errors.Is(err, render.ErrBadSink) {
		return nil, errUsage{err.Error()}
	}
	return set, err
}

// overlay is the window's stats text.
func overlay(s receiver.Stats) string {
	return fmt.Sprintf("%dx%d q%d  %.1f fps  %.1f Mbit/s\nlost %d datagrams  concealed %d frames  invalid %d\nlatency p50 %.1f ms  p99 %.1f ms",
		s.Width, s.Height, s.Quality, s.FPS, s.Mbps, s.DatagramsLost, s.FramesPartial, s.DatagramsInvalid, s.LatencyP50, s.LatencyP99)
}

// receive runs rx and feeds sinks until ctx ends, frames frames have been released,
// the sinks have what they asked for, or the user closes the window. The window,
// when there is one, runs on this goroutine: the caller must be the main one.
func receive(ctx context.Context, cancel context.CancelFunc, rx *receiver.Receiver, sinks *render.Set, frames int, stderr io.Writer) error {
	if !sinks.HasWindow() {
		return feed(ctx, cancel, rx, sinks, frames, stderr)
	}
	fed := make(chan error, 1)
	go func() { fed <- feed(ctx, cancel, rx, sinks, frames, stderr) }()
	werr := sinks.RunWindow(ctx)
	if errors.Is(werr, render.ErrQuit) {
		werr = nil // the user closed the window: a normal end
	}
	cancel()
	return errors.Join(<-fed, werr)
}

// feed is receive without the window.
func feed(ctx context.Context, cancel context.CancelFunc, rx *receiver.Receiver, sink *render.Set, frames int, stderr io.Writer) error {
	if done := sink.Done(); done != nil {
		go func() { // ends with ctx at the latest
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	var wg sync.WaitGroup
	runErr := make(chan error, 1)
	wg.Add(2)
	go func() { defer wg.Done(); runErr <- rx.Run(ctx) }()
	go func() { defer wg.Done(); stats.Live(ctx, stderr, time.Second, recvLine(rx)) }()
	var sinkErr error
	for {
		f, err := rx.Next(ctx)
		if err != nil {
			break
		}
		if sinkErr == nil {
			sinkErr = sink.Show(f)
			if sinkErr != nil {
				cancel()
			}
		}
		f.Release()
		if frames > 0 && rx.Stats().FramesReceived >= uint64(frames) {
			cancel()
		}
	}
	cancel()
	wg.Wait()
	err := <-runErr
	if cerr := sink.Close(); sinkErr == nil {
		sinkErr = cerr
	}
	return errors.Join(err, sinkErr)
}

func recvLine(rx *receiver.Receiver) func(time.Time) string {
	var frames, bytes, lost stats.Rate
	for _, r := range []*stats.Rate{&frames, &bytes, &lost} {
		r.Per(0, time.Now())
	}
	return func(now time.Time) string {
		s := rx.Stats()
		return fmt.Sprintf("recv: %5.1f fps %7.1f Mbit/s  %dx%d q%d  frames %d complete %d partial  datagrams lost %.0f/s invalid %d  latency p50 %.1f ms",
			frames.Per(s.FramesReceived, now), bytes.Per(s.BytesReceived, now)*8/1e6, s.Width, s.Height, s.Quality,
			s.FramesComplete, s.FramesPartial, lost.Per(s.DatagramsLost, now), s.DatagramsInvalid, rx.LiveLatency())
	}
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := newFlagSet("demo", "hrvs demo [flags]: the test pattern through a sender and a receiver in one process over loopback")
	var sf sendFlags
	sf.register(fs)
	var rf recvFlags
	rf.register(fs, true)
	sf.duration = 10 * time.Second
	fs.Lookup("duration").DefValue = "10s"
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	rf.duration, rf.frames, rf.statsJSON = sf.duration, sf.frames, sf.statsJSON
	sf.parsed(fs)
	rcfg, err := rf.config("127.0.0.1:0", log)
	if err != nil {
		return err
	}
	rx, err := receiver.New(rcfg)
	if err != nil {
		return err
	}
	scfg, err := sf.config(rx.Addr(), log)
	if err != nil {
		return err
	}
	src, err := sf.open(ctx, log)
	if err != nil {
		return err
	}
	defer src.Close()
	tx, err := sender.New(scfg)
	if err != nil {
		return errUsage{err.Error()}
	}
	sinks, err := rf.outputs(rx, log)
	if err != nil {
		rx.Close()
		return err
	}
	// The sender stops first and the receiver when the sender is done, so the last
	// frames are acknowledged and neither end sees the other vanish.
	sctx, scancel := withDuration(ctx, rf.duration)
	defer scancel()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	var wg sync.WaitGroup
	sendErr := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		sendErr <- tx.Run(sctx, src, sf.frames)
		rcancel()
	}()
	go func() { defer wg.Done(); stats.Live(sctx, stderr, time.Second, sendLine(tx)) }()
	err = receive(rctx, rcancel, rx, sinks, rf.frames, stderr)
	scancel()
	wg.Wait()
	err = errors.Join(err, <-sendErr)
	s := rx.Stats()
	fmt.Fprintf(stdout, "demo: %d frames (%d complete, %d partial) at %.1f fps, %.1f Mbit/s, latency p50 %.1f ms p99 %.1f ms\n",
		s.FramesReceived, s.FramesComplete, s.FramesPartial, s.FPS, s.Mbps, s.LatencyP50, s.LatencyP99)
	if rf.statsJSON != "" {
		if jerr := stats.WriteJSON(rf.statsJSON, s); jerr != nil {
			err = errors.Join(err, jerr)
		}
	}
	return err
}
