package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/internal/units"
	"github.com/hrvs/hrvs/net/discover"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/stats"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// Bounds of the send flags that no other package names.
const (
	maxWorkers     = 256
	maxSendSockets = 64
	// maxFEC is sender.Config.FEC's bound: 100 parity datagrams per 100 data datagrams,
	// which the largest block (wire.MaxBlockData = 128 data datagrams, a code of 128 +
	// 128 = wire.MaxCodeShards shards) can still carry.
	maxFEC = 100
	// minMaxBitrate is the lowest cap sender.Config.MaxBitrate takes, in bit/s.
	minMaxBitrate = 100_000
	// maxChangeThreshold is sender.Config.ChangeThreshold's bound, in levels.
	maxChangeThreshold = 255
	minRefresh         = 100 * time.Millisecond
	// maxRateMbps bounds --rate: 1 Tbit/s, beyond any NIC.
	maxRateMbps = 1e6
)

// maxTile is the largest tile the wire can describe (wire.MaxTileW x wire.MaxTileH) with
// both sides multiples of 16.
var maxTile = units.Size{W: wire.MaxTileW / 16 * 16, H: wire.MaxTileH / 16 * 16}

// maxFrame is the largest frame a receiver accepts by default: one limit for both ends.
var maxFrame = units.Size{W: wire.DefaultLimits.MaxWidth, H: wire.DefaultLimits.MaxHeight}

// sendFlags are the flags send and demo share. Their values when register is called
// are the defaults the flags show.
type sendFlags struct {
	source                  string
	size, tile              units.Size
	sizeGiven               bool
	fps                     units.FrameRate
	format, ctrl            string
	loop                    bool
	quality, mtu, workers   int
	sockets, window, frames int
	rate                    float64
	duration                time.Duration
	statsJSON               string
	encoder                 string
	mjpeg                   string // what MJPEG frames become: retile, split or decode
	maxBitrate              units.Bitrate
	changeThreshold         int
	refresh                 time.Duration
	minQuality, fec         int
	key                     keyFlags
	metrics                 string     // send only: where to serve /metrics
	group                   groupFlags // send only: multicast (multicast.go)
	name                    string     // send only: the name announced on the LAN
	announce                bool       // send only: announce at all
}

// newSendFlags returns the send flags' defaults.
func newSendFlags() *sendFlags {
	return &sendFlags{
		source: "pattern", size: units.Size{W: 1280, H: 720}, tile: units.Size{W: sender.DefaultTileW, H: sender.DefaultTileH},
		format: "auto", quality: sender.DefaultQuality, mtu: sender.DefaultMTU, workers: runtime.NumCPU(),
		sockets: 4, window: sender.DefaultWindow, rate: sender.DefaultRateBits / 1e6, encoder: "fast", mjpeg: sender.MJPEGRetile,
		changeThreshold: sender.DefaultChangeThreshold, refresh: sender.DefaultRefresh, minQuality: sender.DefaultMinQuality,
		announce: true,
	}
}

func (f *sendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.source, "source", f.source, "what to send: pattern (the built-in test pattern), a V4L2 camera\n(/dev/video0) or a video file (Y4M and MJPEG read directly, anything else through ffmpeg)")
	fs.Var(&f.size, "size", fmt.Sprintf("frame size `WxH` in pixels for the pattern, or the size to ask a camera for (files keep theirs);\n16x16 up to %s, the most a receiver accepts", maxFrame.String()))
	fs.Var(&f.fps, "fps", "frame `rate` in frames per second, 0..1000 (default: the source's own, 30 for the pattern); 0 or max: as fast as possible")
	fs.StringVar(&f.format, "format", f.format, "camera pixel format: mjpeg, yuyv or auto (MJPEG at high resolutions)")
	fs.StringVar(&f.ctrl, "ctrl", "", "camera controls to set at start and after a reconnect, name=value[,name=value] (hrvs devices lists them), e.g. power_line_frequency=1 (default: leave them as they are)")
	fs.BoolVar(&f.loop, "loop", f.loop, "restart a file at its end (default: stop)")
	fs.IntVar(&f.quality, "quality", f.quality, "highest JPEG quality, 1..100, where rate control starts")
	fs.Var(&f.tile, "tile", fmt.Sprintf("tile size `WxH` in pixels, both multiples of 16, up to %s", maxTile.String()))
	fs.IntVar(&f.mtu, "mtu", f.mtu, fmt.Sprintf("largest datagram payload in `bytes`, %d..%d (above ~1472 IP fragments)", sender.MinMTU, wire.MaxDatagram))
	fs.IntVar(&f.workers, "workers", f.workers, fmt.Sprintf("tile encoder goroutines, 1..%d; the default is this machine's CPU count", maxWorkers))
	fs.IntVar(&f.sockets, "send-sockets", f.sockets, fmt.Sprintf("UDP source ports to spread datagrams over the receiver's sockets, 1..%d", maxSendSockets))
	fs.IntVar(&f.window, "window", f.window, "frames in flight without acknowledgement before frames are skipped, at least 1")
	fs.Float64Var(&f.rate, "rate", f.rate, "pacing rate in `Mbit/s`, above 0")
	fs.DurationVar(&f.duration, "duration", f.duration, "stop after streaming this long, like 10s or 2m; counted once --pair has paired and a NAME is found (default 0: run until interrupted)")
	fs.IntVar(&f.frames, "frames", f.frames, "stop after sending this many frames (default 0: no limit)")
	fs.StringVar(&f.statsJSON, "stats-json", f.statsJSON, "write a JSON summary to this `file` on exit (default: none)")
	fs.StringVar(&f.encoder, "encoder", f.encoder, "tile JPEG encoder: fast (the project's own) or stdlib (Go's image/jpeg, the reference)")
	fs.StringVar(&f.mjpeg, "mjpeg", f.mjpeg, "what an MJPEG camera's or file's frames become: retile (cut into tiles from the camera's own JPEG,\nno decode, no second generation of loss; the camera's tables travel with the stream), split (as retile, but a frame whose\nrestart markers line up with the tiles is cut at them without even Huffman decoding: docs/JPEG.md) or decode (decoded and encoded again)")
	fs.Var(&f.maxBitrate, "max-bitrate", fmt.Sprintf("cap the average `rate` in tc units, like 20mbit or 500kbit, at least %dkbit\n(default: none; rate control still follows the path)", minMaxBitrate/1000))
	fs.IntVar(&f.changeThreshold, "change-threshold", f.changeThreshold, fmt.Sprintf("mean change in `levels` (1..%d) over a 16x16 block that makes a tile worth sending; -1 sends every tile", maxChangeThreshold))
	fs.DurationVar(&f.refresh, "refresh", f.refresh, fmt.Sprintf("every tile is sent again at least this often, changed or not; at least %v", minRefresh))
	fs.IntVar(&f.minQuality, "min-quality", f.minQuality, "lowest JPEG quality rate control may choose before it skips frames, 1..--quality")
	f.key.register(fs, "the receiver")
	fs.IntVar(&f.fec, "fec", f.fec, fmt.Sprintf("Reed-Solomon parity: 0 adapts to the measured loss, -1 off, 1..%d parity datagrams per 100 data datagrams (default 0)", maxFEC))
}

// check validates the send flags: the one place their bounds are checked, naming the
// limit of the package that sets it.
func (f *sendFlags) check(fs *flag.FlagSet) error {
	f.sizeGiven = cli.Given(fs, "size")
	switch {
	case f.size.W < 16 || f.size.H < 16 || f.size.W > maxFrame.W || f.size.H > maxFrame.H:
		return cli.Usagef("--size %s: want 16x16 up to %s, the largest frame a receiver accepts", f.size.String(), maxFrame.String())
	case f.quality < 1 || f.quality > 100:
		return cli.Usagef("--quality %d: want 1..100", f.quality)
	case f.minQuality < 1 || f.minQuality > f.quality:
		return cli.Usagef("--min-quality %d: want 1..%d (--quality)", f.minQuality, f.quality)
	case f.tile.W%16 != 0 || f.tile.H%16 != 0 || f.tile.W > maxTile.W || f.tile.H > maxTile.H:
		return cli.Usagef("--tile %s: want both sides multiples of 16, up to %s", f.tile.String(), maxTile.String())
	case f.mtu < sender.MinMTU || f.mtu > wire.MaxDatagram:
		return cli.Usagef("--mtu %d: want %d..%d bytes", f.mtu, sender.MinMTU, wire.MaxDatagram)
	case f.workers < 1 || f.workers > maxWorkers:
		return cli.Usagef("--workers %d: want 1..%d", f.workers, maxWorkers)
	case f.sockets < 1 || f.sockets > maxSendSockets:
		return cli.Usagef("--send-sockets %d: want 1..%d", f.sockets, maxSendSockets)
	case f.window < 1:
		return cli.Usagef("--window %d: want at least 1", f.window)
	case !(f.rate > 0 && f.rate <= maxRateMbps): // also refuses NaN
		return cli.Usagef("--rate %v: want a positive Mbit/s up to %g", f.rate, maxRateMbps)
	case f.frames < 0:
		return cli.Usagef("--frames %d: must not be negative", f.frames)
	case f.duration < 0:
		return cli.Usagef("--duration %v: must not be negative", f.duration)
	case f.encoder != "fast" && f.encoder != "stdlib":
		return cli.Usagef("--encoder %q: want fast or stdlib", f.encoder)
	case f.mjpeg != sender.MJPEGRetile && f.mjpeg != sender.MJPEGSplit && f.mjpeg != sender.MJPEGDecode:
		return cli.Usagef("--mjpeg %q: want %s, %s or %s", f.mjpeg, sender.MJPEGRetile, sender.MJPEGSplit, sender.MJPEGDecode)
	case f.maxBitrate != 0 && f.maxBitrate < minMaxBitrate:
		return cli.Usagef("--max-bitrate %s: want at least %dkbit, or 0 for none", f.maxBitrate.String(), minMaxBitrate/1000)
	case f.changeThreshold < -1 || f.changeThreshold == 0 || f.changeThreshold > maxChangeThreshold:
		// 0 is refused: sender.Config reads it as "the default" (4), not as 0 levels.
		return cli.Usagef("--change-threshold %d: want -1 (every tile) or 1..%d levels", f.changeThreshold, maxChangeThreshold)
	case f.refresh < minRefresh:
		return cli.Usagef("--refresh %v: want at least %v", f.refresh, minRefresh)
	case f.fec < -1 || f.fec > maxFEC:
		return cli.Usagef("--fec %d: want -1 (off), 0 (adaptive) or 1..%d parity datagrams per 100", f.fec, maxFEC)
	}
	if f.statsJSON != "" {
		if err := stats.CheckWritable(f.statsJSON); err != nil {
			return cli.Usagef("--stats-json: %v", err)
		}
	}
	return f.key.check()
}

// config is the sender's configuration from checked flags.
func (f *sendFlags) config(to string, log *slog.Logger) sender.Config {
	cfg := sender.Config{To: to, Quality: f.quality, TileW: f.tile.W, TileH: f.tile.H, MTU: f.mtu,
		Workers: f.workers, Sockets: f.sockets, Window: f.window, RateBits: int64(f.rate * 1e6),
		MaxBitrate: int64(f.maxBitrate), ChangeThreshold: f.changeThreshold, Refresh: f.refresh,
		MinQuality: f.minQuality, FEC: f.fec, MJPEG: f.mjpeg, Log: log,
		Iface: f.group.iface, TTL: f.group.ttl, GroupFloor: int64(f.group.floor * 1e6)}
	if f.encoder == "stdlib" {
		cfg.NewEncoder = func() tile.Encoder { return &tile.StdEncoder{} }
	} else {
		cfg.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
	}
	return cfg
}

// open opens the source; a source the user named wrongly, or one whose frames are larger
// than a receiver accepts, is a usage error.
func (f *sendFlags) open(ctx context.Context, log *slog.Logger) (capture.Source, error) {
	o := capture.Options{Format: f.format, Controls: f.ctrl, Loop: f.loop, Log: log, JPEG: f.mjpeg != sender.MJPEGDecode}
	switch {
	case !f.fps.Given:
		o.FPS = 0 // the source's own
	case f.fps.FPS == 0:
		o.FPS = -1 // as fast as possible
	default:
		o.FPS = f.fps.FPS
	}
	if f.sizeGiven || f.source == "pattern" {
		o.Width, o.Height = f.size.W, f.size.H
	}
	src, err := capture.Open(ctx, f.source, o)
	if err != nil {
		return nil, cli.Usagef("--source %s: %v", f.source, err)
	}
	if in := src.Info(); in.Width > maxFrame.W || in.Height > maxFrame.H {
		src.Close()
		return nil, cli.Usagef("--source %s: its %dx%d frames are larger than %s, the largest a receiver accepts", f.source, in.Width, in.Height, maxFrame.String())
	}
	return src, nil
}

func sendCommand() *cli.Command {
	f := newSendFlags()
	var to, cpuProfile string
	return &cli.Command{
		Name:      "send",
		UsageLine: "send --to HOST:PORT|GROUP:PORT|NAME|auto [flags]",
		Short:     "stream a source to a receiver",
		Long: "Streams a source (the test pattern, a V4L2 camera or a video file) to a receiver over UDP,\n" +
			"with acknowledgements over TCP on the same port; or to any number of receivers at once\n" +
			"through a multicast group (--to 239.1.2.3:5000), each receiver dialling back for its acknowledgements.",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&to, "to", "", "receiver `address` HOST:PORT, port 1..65535, or the name a receiver announces on the LAN\n(hrvs list), or auto for the only one (required)")
			fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus /metrics on this `address`; :9100 listens on loopback only,\n0.0.0.0:9100 on every interface (default: none)")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) of the whole run to this `file` (default: none)")
			fs.StringVar(&f.name, "name", "", "the `name` announced on the LAN, letters, digits, '-' and '_' (default: this host's name)")
			fs.BoolVar(&f.announce, "announce", f.announce, "announce this sender with mDNS ("+discover.SenderService+": frame size, rate, key fingerprint, and the\nmulticast group, which hrvs recv --listen NAME joins; never the receiver sent to); not when sending over\nloopback; --announce=false to stay unannounced")
			f.register(fs)
			f.group.register(fs, true)
		},
		Check: func(fs *flag.FlagSet) error {
			if err := checkTo(to); err != nil {
				return err
			}
			if f.name != "" {
				if err := discover.CheckName(f.name); err != nil {
					return cli.Usagef("--name: %v", err)
				}
			}
			if err := f.group.check(fs, "--to", to); err != nil {
				return err
			}
			if f.metrics != "" {
				var err error
				if f.metrics, err = loopbackUnlessHost("--metrics", f.metrics); err != nil {
					return err
				}
			}
			return f.check(fs)
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			stop, err := profileCPU(cpuProfile)
			if err != nil {
				return err
			}
			return errors.Join(runSend(ctx, env, f, to), stop())
		},
	}
}

// profileCPU starts a CPU profile written to path (none when path is empty); stop
// ends it and closes the file.
func profileCPU(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	out, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := out.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}

func runSend(ctx context.Context, env *cli.Env, f *sendFlags, to string) error {
	to, err := resolveTo(ctx, to, browseLAN(discover.RoleReceiver, nil, env.Log), env.Log)
	if err != nil {
		return err
	}
	src, err := f.open(ctx, env.Log)
	if err != nil {
		return err
	}
	defer src.Close()
	cfg := f.config(to, env.Log)
	if cfg.Key, err = f.key.resolve(ctx, env, storeName("send", to), pairAsSender(to)); err != nil {
		return err
	}
	tx, err := sender.New(cfg)
	if err != nil {
		return fmt.Errorf("starting the sender: %w", err)
	}
	if f.metrics != "" {
		ms, err := serveSenderMetrics(f.metrics, tx, env.Log)
		if err != nil {
			return err
		}
		defer ms.Close()
	}
	info := src.Info()
	env.Log.Info("sending", "to", to, "source", info.Name, "size", fmt.Sprintf("%dx%d", info.Width, info.Height), "fps", info.FPS, "stream", tx.Stream())
	if f.announce {
		name := f.name
		if name == "" {
			name = discover.DefaultName()
		}
		defer announceSender(to, f.group.iface, tx.ControlAddr(), info.Width, info.Height, info.FPS, cfg.Key, name, env.Log)()
	}
	ctx, cancel := withDuration(ctx, f.duration)
	defer cancel()
	var wg sync.WaitGroup
	liveCtx, stopLive := context.WithCancel(ctx)
	wg.Add(1)
	go func() { defer wg.Done(); stats.Live(liveCtx, env.Stderr, time.Second, sendLine(tx, src)) }()
	start := time.Now()
	err = tx.Run(ctx, src, f.frames)
	stopLive()
	wg.Wait()
	fmt.Fprintln(env.Stderr, sendDone(tx.Stats(), time.Since(start))+sourceLeftOut(src))
	if f.statsJSON != "" {
		if jerr := stats.WriteJSON(f.statsJSON, sendSummary(tx, src)); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// sendSummary is the sender's --stats-json: its Stats, and a camera's own counters
// under "camera" when the source is one.
func sendSummary(tx *sender.Sender, src capture.Source) any {
	late, corrupt := sourceCounts(src)
	sum := struct {
		sender.Stats
		SourceLate    uint64               `json:"source_frames_late"`    // frame slots that passed while the sender was busy (files keep real time, the pattern too)
		SourceCorrupt uint64               `json:"source_frames_corrupt"` // file frames that could not be decoded
		Camera        *capture.CameraStats `json:"camera,omitempty"`
	}{Stats: tx.Stats(), SourceLate: late, SourceCorrupt: corrupt}
	if cam, ok := capture.CameraStatsOf(src); ok {
		sum.Camera = &cam
	}
	return sum
}

// sourceCounts is what a file or the pattern left out before the sender saw it:
// frame slots that passed while the sender was busy (late: a file keeps to real
// time, as a camera does) and file frames that could not be decoded (corrupt).
// Cameras count theirs in capture.CameraStats.
// sourceLeftOut ends the last line with the frames the source itself left out (a
// file's or the pattern's slots that passed while the sender was busy, a file's corrupt
// frames), which the sender never saw; nothing when there were none.
func sourceLeftOut(src capture.Source) string {
	late, corrupt := sourceCounts(src)
	if late == 0 && corrupt == 0 {
		return ""
	}
	return fmt.Sprintf(", the source left out %d late (their time passed while the sender was busy), %d corrupt", late, corrupt)
}

func sourceCounts(src capture.Source) (late, corrupt uint64) {
	switch s := src.(type) {
	case *capture.FileSource:
		return s.Dropped(), s.Skipped()
	case *capture.Pattern:
		return s.Skipped(), 0
	}
	return 0, 0
}

// checkAddr refuses an address that is not HOST:PORT before anything is opened. Port 0
// (any free port) is allowed where anyPort is true: for an address to listen on.
func checkAddr(flagName, addr string, anyPort bool) error {
	if addr == "" {
		return cli.Usagef("%s HOST:PORT is required", flagName)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return cli.Usagef("%s %q: want HOST:PORT, like 192.168.1.20:5000", flagName, addr)
	}
	lowest := 1
	if anyPort {
		lowest = 0
	}
	if n, err := strconv.Atoi(port); err != nil || n < lowest || n > math.MaxUint16 {
		return cli.Usagef("%s %q: port must be a number %d..65535", flagName, addr, lowest)
	}
	return nil
}

func withDuration(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

func sendLine(tx *sender.Sender, src capture.Source) func(time.Time) string {
	var frames, bytes stats.Rate
	frames.Per(0, time.Now())
	bytes.Per(0, time.Now())
	return func(now time.Time) string {
		s := tx.Stats()
		link := "no control link"
		if s.Refusal != "" {
			link = "refused: " + s.Refusal
		}
		if s.ControlConnected {
			link = fmt.Sprintf("rtt %.1f ms", s.RTTMs)
		}
		if s.Receivers != nil {
			link = groupLine(s)
		}
		line := fmt.Sprintf("send: %5.1f fps %7.1f Mbit/s (target %.1f)  q%d  %dx%d  tiles %.0f%%  loss %.1f%%  fec %.0f%%  sent %d  dropped %d busy %d window %d rate  encode %.1f ms  %s",
			frames.Per(s.FramesSent, now), bytes.Per(s.BytesSent, now)*8/1e6, s.TargetMbps, s.Quality, s.Width, s.Height,
			s.TileShare*100, s.LossPct, s.FECPct, s.FramesSent, s.FramesDroppedBusy, s.FramesDroppedAck, s.FramesDroppedRate, s.EncodeMsP50, link)
		if s.FramesRetiled+s.FramesFellBack > 0 {
			line += "  " + mjpegLine(s)
		}
		if late, corrupt := sourceCounts(src); late+corrupt > 0 {
			line += fmt.Sprintf("  source left out %d late, %d corrupt", late, corrupt)
		}
		if c, ok := capture.CameraStatsOf(src); ok {
			line += fmt.Sprintf("  camera %d delivered, dropped %d stale %d corrupt %d bad, %d gaps, %d reconnects",
				c.Delivered, c.DroppedStale, c.DroppedCorrupt, c.DroppedError, c.SequenceGaps, c.Reconnects)
		}
		return line
	}
}

// mjpegLine says what became of MJPEG frames handed through compressed: how many
// were re-tiled, of those how many were cut at their restart markers (and why the
// others were not), and how many had to be decoded.
func mjpegLine(s sender.Stats) string {
	line := fmt.Sprintf("mjpeg %s: %d re-tiled", s.MJPEG, s.FramesRetiled)
	if s.FramesSplit+s.FramesSplitFellBack > 0 || s.MJPEG == sender.MJPEGSplit {
		noMarkers := s.FramesRetiled - min(s.FramesRetiled, s.FramesSplit+s.FramesSplitFellBack)
		line += fmt.Sprintf(" (%d cut at restart markers, %d with markers off the tile grid, %d without markers)",
			s.FramesSplit, s.FramesSplitFellBack, noMarkers)
	}
	return line + fmt.Sprintf(", %d decoded (could not be re-tiled)", s.FramesFellBack)
}

// sendDone is the line printed when the sender stops: what it captured, sent and
// skipped, and at what rate, so the last live line (up to a second old) is not the
// only account of the run.
func sendDone(s sender.Stats, took time.Duration) string {
	sec := max(took.Seconds(), 1e-3)
	skipped := s.FramesDroppedBusy + s.FramesDroppedAck + s.FramesDroppedRate + s.FramesSkippedReceiver
	why := fmt.Sprintf("busy %d, window %d, rate %d", s.FramesDroppedBusy, s.FramesDroppedAck, s.FramesDroppedRate)
	if s.FramesSkippedReceiver > 0 {
		why += fmt.Sprintf(", receiver %d", s.FramesSkippedReceiver)
	}
	if s.FramesUnreadable > 0 {
		why += fmt.Sprintf("), %d unreadable (a JPEG neither re-tiled nor decoded", s.FramesUnreadable)
	}
	return fmt.Sprintf("send: done after %.1f s: %d frames captured, %d sent (%.1f fps), %d skipped (%s), %.1f MB (%.1f Mbit/s), quality %d",
		took.Seconds(), s.FramesCaptured, s.FramesSent, float64(s.FramesSent)/sec, skipped, why,
		float64(s.BytesSent)/1e6, float64(s.BytesSent)*8/1e6/sec, s.Quality)
}
