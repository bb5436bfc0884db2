package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/internal/units"
	"github.com/hrvs/hrvs/net/discover"
	"github.com/hrvs/hrvs/net/metrics"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/stats"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
	"github.com/hrvs/hrvs/render"
	"github.com/hrvs/hrvs/render/rtpjpeg"
)

// maxRecvSockets bounds --sockets: SO_REUSEPORT readers of one port.
const maxRecvSockets = 64

// recvFlags are the flags recv and demo share. Their values when register is called
// are the defaults the flags show.
type recvFlags struct {
	sockets, frames int
	sink            string
	http, record    string
	rtpOut, sdp     string // RTP/JPEG out: address, SDP file
	rtspPublish     string
	maxSize         units.Size
	deadline        time.Duration
	duration        time.Duration
	statsJSON       string
	decoder         string
	maxMemory       units.Bytes
	key             keyFlags
	name            string     // recv only: the name announced on the LAN
	announce        bool       // recv only: announce at all
	group           groupFlags // recv only: multicast (multicast.go)
}

// newRecvFlags returns the receive flags' defaults.
func newRecvFlags() *recvFlags {
	return &recvFlags{sockets: min(runtime.NumCPU(), maxRecvSockets), maxSize: maxFrame,
		deadline: receiver.DefaultDeadline, decoder: "fast", maxMemory: receiver.DefaultMaxMemory, announce: true}
}

// register adds the receiver's flags; demo leaves out those the sender's flags already name.
func (f *recvFlags) register(fs *flag.FlagSet, demo bool) {
	fs.Var(&f.maxSize, "max-size", fmt.Sprintf("largest frame accepted, `WxH` in pixels, 16x16 up to %s; datagrams for larger frames are dropped", maxFrame.String()))
	fs.DurationVar(&f.deadline, "deadline", f.deadline, "how long a stalled frame waits for missing tiles, above 0")
	fs.StringVar(&f.decoder, "decoder", f.decoder, "tile JPEG decoder: fast (the project's own, image/jpeg for what it does not take) or stdlib")
	fs.StringVar(&f.sink, "sink", f.sink, "where frames go: window, null or dir:PATH (a PNG per frame, never overwriting)\n(default: the window when a display is available, else null)")
	fs.StringVar(&f.http, "http", f.http, "also serve a browser view on this `address`: the page draws JPEG tiles sent over a WebSocket (/ws), only\nthose that changed; /mjpeg and /stream.mjpg, /snapshot.jpg, /stats.json, Prometheus /metrics too. :8080 listens on\nloopback only, 0.0.0.0:8080 on every interface (default: none)")
	fs.Var(&f.maxMemory, "max-memory", "the most `bytes` the receiver holds from the network (queue, reassembly, frame images), like 256mb;\nat least 32mb")
	fs.StringVar(&f.record, "record", f.record, "also record what is received into this AVI (MJPEG) `file` (default: none)")
	fs.StringVar(&f.rtpOut, "rtp-out", f.rtpOut, "also send the newest frames as RTP/JPEG (RFC 2435) to this `HOST:PORT`, for VLC, ffplay and GStreamer;\n:5004 sends to this machine; frames above 2040 pixels a side are scaled down (default: none)")
	fs.StringVar(&f.sdp, "sdp", f.sdp, "write the --rtp-out stream's session description to this `file`, for a player to open (default: none)")
	fs.StringVar(&f.rtspPublish, "rtsp-publish", f.rtspPublish, "also publish the RTP/JPEG stream to an RTSP server at this `URL`, rtsp://SERVER/PATH, reconnecting\nwhen it drops (default: none)")
	if demo {
		return
	}
	f.key.register(fs, "the sender")
	fs.StringVar(&f.name, "name", f.name, "the `name` announced on the LAN, letters, digits, '-' and '_' (default: this host's name)")
	fs.BoolVar(&f.announce, "announce", f.announce, "announce this receiver with mDNS ("+discover.Service+") so hrvs list and send --to NAME find it;\nnot on loopback; --announce=false to stay unannounced")
	fs.IntVar(&f.sockets, "sockets", f.sockets, fmt.Sprintf("UDP sockets sharing the port (SO_REUSEPORT), one reader each, 1..%d; the default is this machine's CPU count", maxRecvSockets))
	fs.DurationVar(&f.duration, "duration", f.duration, "stop after streaming this long, like 10s or 2m; counted once --pair has paired and a NAME is found (default 0: run until interrupted)")
	fs.IntVar(&f.frames, "frames", f.frames, "stop after this many frames (default 0: no limit)")
	fs.StringVar(&f.statsJSON, "stats-json", f.statsJSON, "write a JSON summary to this `file` on exit (default: none)")
}

// check validates the receive flags: the one place their bounds are checked.
func (f *recvFlags) check() error {
	switch {
	case f.sockets < 1 || f.sockets > maxRecvSockets:
		return cli.Usagef("--sockets %d: want 1..%d", f.sockets, maxRecvSockets)
	case f.frames < 0:
		return cli.Usagef("--frames %d: must not be negative", f.frames)
	case f.duration < 0:
		return cli.Usagef("--duration %v: must not be negative", f.duration)
	case f.deadline <= 0:
		return cli.Usagef("--deadline %v: must be positive", f.deadline)
	case f.maxSize.W > maxFrame.W || f.maxSize.H > maxFrame.H:
		return cli.Usagef("--max-size %s: want at most %s, the largest frame a sender sends", f.maxSize.String(), maxFrame.String())
	case f.maxSize.W < 16 || f.maxSize.H < 16: // every frame would be dropped: a sender's frames are at least 16x16
		return cli.Usagef("--max-size %s: want 16x16 up to %s, the smallest and largest frames a sender sends", f.maxSize.String(), maxFrame.String())
	case f.decoder != "fast" && f.decoder != "stdlib":
		return cli.Usagef("--decoder %q: want fast or stdlib", f.decoder)
	case f.maxMemory < 32<<20:
		return cli.Usagef("--max-memory %s: want at least 32mb", f.maxMemory.String())
	}
	if f.statsJSON != "" {
		if err := stats.CheckWritable(f.statsJSON); err != nil {
			return cli.Usagef("--stats-json: %v", err)
		}
	}
	if f.http != "" {
		host, _, err := net.SplitHostPort(f.http)
		if err != nil {
			return cli.Usagef("--http %q: want [HOST]:PORT, like :8080", f.http)
		}
		if host == "" { // no address given: loopback only (docs/SECURITY.md)
			f.http = "127.0.0.1" + f.http
		}
	}
	if err := f.checkRTP(); err != nil {
		return err
	}
	if f.name != "" {
		if err := discover.CheckName(f.name); err != nil {
			return cli.Usagef("--name: %v", err)
		}
	}
	return f.key.check()
}

// checkRTP validates the RTP/JPEG output's flags.
func (f *recvFlags) checkRTP() error {
	if f.rtpOut != "" {
		if err := checkAddr("--rtp-out", f.rtpOut, false); err != nil {
			return err
		}
		host, _, _ := net.SplitHostPort(f.rtpOut)
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return cli.Usagef("--rtp-out %s: want the address of the player's machine, not %s", f.rtpOut, host)
		}
		if host == "" { // no host: a player on this machine
			f.rtpOut = "127.0.0.1" + f.rtpOut
		}
	}
	if f.sdp != "" && f.rtpOut == "" {
		return cli.Usagef("--sdp %s describes the --rtp-out stream: give --rtp-out HOST:PORT too", f.sdp)
	}
	if f.rtspPublish != "" {
		if err := rtpjpeg.CheckPublishURL(f.rtspPublish); err != nil {
			return cli.Usagef("--rtsp-publish %q: %v; want rtsp://SERVER[:PORT]/PATH", f.rtspPublish, err)
		}
	}
	return nil
}

// backlog is how many frames wait for the outputs: a file sink wants every frame, so
// frames queue for it while it catches up; a window or a browser wants the newest.
func (f *recvFlags) backlog() int {
	if strings.HasPrefix(f.sink, "dir:") {
		return dirBacklog
	}
	return 1
}

// dirBacklog is the frames that may wait for a dir: sink (at 1080p, 25 MB).
const dirBacklog = 8

// config is the receiver's configuration from checked flags.
func (f *recvFlags) config(listen string, log *slog.Logger) receiver.Config {
	cfg := receiver.Config{Listen: listen, Sockets: f.sockets, Deadline: f.deadline, MaxMemory: int64(f.maxMemory),
		Backlog: f.backlog(),
		Limits:  wire.Limits{MaxWidth: f.maxSize.W, MaxHeight: f.maxSize.H}, Log: log, Iface: f.group.iface}
	if f.decoder == "stdlib" {
		cfg.NewDecoder = func(h *tile.Headers) tile.Decoder { return &tile.StdDecoder{Headers: h} }
	} else {
		cfg.NewDecoder = func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }
	}
	return cfg
}

func recvCommand() *cli.Command {
	f := newRecvFlags()
	var listen, cpuProfile string
	return &cli.Command{
		Name:      "recv",
		UsageLine: "recv --listen HOST:PORT|GROUP:PORT|NAME|auto [flags]",
		Short:     "receive, assemble and show a stream",
		Long: "Receives a stream on a UDP port (and TCP on the same port for acknowledgements),\n" +
			"rebuilds frames and shows the newest; or joins a multicast group, given as GROUP:PORT or\n" +
			"found on the LAN by the name its sender announces (hrvs list --role send).",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&listen, "listen", "", "`address` to listen on, HOST:PORT, e.g. 0.0.0.0:5000; port 0 picks a free one;\nor a multicast GROUP:PORT to join, e.g. 239.1.2.3:5000; or the name a multicast sender announces on the LAN\n(hrvs list), or auto for the only one, to join its group (required)")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) of the whole run to this `file` (default: none)")
			f.register(fs, false)
			f.group.register(fs, false)
		},
		Check: func(fs *flag.FlagSet) error {
			if err := checkListen(listen); err != nil {
				return err
			}
			addr := listen
			if isName(listen) {
				// A name stands for a multicast sender's group: the group flags are
				// checked as for any group.
				addr = anyGroup
			}
			if err := f.group.check(fs, "--listen", addr); err != nil {
				return err
			}
			return f.check()
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			stop, err := profileCPU(cpuProfile)
			if err != nil {
				return err
			}
			return errors.Join(runRecv(ctx, env, f, listen), stop())
		},
	}
}

// anyGroup is a multicast group that stands for the one a sender's name resolves to
// when the flags are checked, before the LAN is asked.
const anyGroup = "239.0.0.1:5000"

func runRecv(ctx context.Context, env *cli.Env, f *recvFlags, listen string) error {
	if prog, err := windowHandover(f.sink); err != nil || prog != "" {
		if err != nil {
			return err
		}
		return becomeWindowProgram(prog)
	}
	var found *discover.Entry // the multicast sender --listen names
	if isName(listen) {
		ifi, err := udp.Interface(f.group.iface)
		if err != nil {
			return err
		}
		e, err := resolveListen(ctx, listen, browseLAN(discover.RoleSender, ifi, env.Log), env.Log)
		if err != nil {
			return err
		}
		found, listen = &e, e.Info.Group.String()
	}
	cfg := f.config(listen, env.Log)
	_, port, _ := net.SplitHostPort(listen)
	var err error
	if cfg.Key, err = f.key.resolve(ctx, env, storeName("recv", port), pairAsReceiver(listen, env.Log)); err != nil {
		return err
	}
	if found != nil {
		checkSenderKey(*found, cfg.Key, env.Log)
	}
	// The Go runtime keeps the heap near the budget too, collecting sooner as it nears it.
	debug.SetMemoryLimit(int64(f.maxMemory) + 64<<20)
	rx, err := receiver.New(cfg)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", listen, err)
	}
	token := ""
	if cfg.Key != nil && f.http != "" {
		// A keyed stream's picture is as private as its datagrams: the view wants a token.
		var b [16]byte
		rand.Read(b[:])
		token = hex.EncodeToString(b[:])
	}
	sinks, err := f.outputs(rx, env.Log, token)
	if err != nil {
		rx.Close()
		return err
	}
	env.Log.Info("receiving", "listen", rx.Addr(), "sockets", cfg.Sockets)
	if f.announce && isGroupAddr(listen) {
		env.Log.Info(groupNote(listen, f.group.iface))
	} else if f.announce {
		name := f.name
		if name == "" {
			name = discover.DefaultName()
		}
		defer announceReceiver(rx, name, f.maxSize.W, f.maxSize.H, cfg.Key, env.Log)()
	}
	ctx, cancel := withDuration(ctx, f.duration)
	defer cancel()
	start := time.Now()
	err = receive(ctx, cancel, rx, sinks, f.frames, env.Stderr, env.Log)
	fmt.Fprintln(env.Stderr, recvDone(rx.Stats(), time.Since(start)))
	if f.statsJSON != "" {
		if jerr := stats.WriteJSON(f.statsJSON, rx.Stats()); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// recvDone is the line printed when the receiver stops, as sendDone is the sender's:
// the last live line is up to a second old and misses the last frames (--frames 20
// ended on "frames 18").
func recvDone(s receiver.Stats, took time.Duration) string {
	return fmt.Sprintf("recv: done after %.1f s: %d frames (%d complete, %d partial), %d shown, %.1f fps, %.1f Mbit/s, latency p50 %.1f ms p99 %.1f ms",
		took.Seconds(), s.FramesReceived, s.FramesComplete, s.FramesPartial, s.FramesDisplayed, s.FPS, s.Mbps, s.LatencyP50, s.LatencyP99)
}

// outputs opens the sinks the flags name, fed with the receiver's live stats.
func (f *recvFlags) outputs(rx *receiver.Receiver, log *slog.Logger, token string) (*render.Set, error) {
	var mh http.Handler
	if f.http != "" {
		var err error
		if mh, err = metrics.Handler(metrics.NewReceiverCollector(rx)); err != nil {
			return nil, err
		}
	}
	set, err := render.Open(render.Config{Sink: f.sink, HTTP: f.http, Record: f.record, Frames: f.frames, Token: token,
		Title: "hrvs recv on " + rx.Addr(), Log: log,
		Stats:     func() any { return rx.Stats() },
		StatsText: func() string { return overlay(rx.Stats()) },
		Metrics:   mh,
		RTPOut:    f.rtpOut, SDP: f.sdp, RTSPPublish: f.rtspPublish,
	})
	if errors.Is(err, render.ErrBadSink) {
		return nil, &cli.UsageError{Reason: err.Error()}
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
func receive(ctx context.Context, cancel context.CancelFunc, rx *receiver.Receiver, sinks *render.Set, frames int, stderr io.Writer, log *slog.Logger) error {
	if !sinks.HasWindow() {
		return feed(ctx, cancel, rx, sinks, frames, stderr, log)
	}
	fed := make(chan error, 1)
	go func() { fed <- feed(ctx, cancel, rx, sinks, frames, stderr, log) }()
	werr := sinks.RunWindow(ctx)
	if errors.Is(werr, render.ErrQuit) {
		werr = nil // the user closed the window: a normal end
	}
	cancel()
	return errors.Join(<-fed, werr)
}

// feed is receive without the window.
func feed(ctx context.Context, cancel context.CancelFunc, rx *receiver.Receiver, sink *render.Set, frames int, stderr io.Writer, log *slog.Logger) error {
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
	// The receiver keeps only the newest frame for the outputs: say how many they never
	// saw, so a file sink's count of frames written adds up.
	if s := rx.Stats(); s.FramesReceived > s.FramesDisplayed {
		log.Warn("outputs missed frames: a newer frame replaced each before they were free to take it",
			"missed", s.FramesReceived-s.FramesDisplayed, "received", s.FramesReceived)
	}
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
		q := fmt.Sprintf("q%d", s.Quality)
		if s.Codec != 0 {
			q = "camera tables" // re-tiled MJPEG: the sender's own tables, no quality number
		}
		line := fmt.Sprintf("recv: %5.1f fps %7.1f Mbit/s  %dx%d %s  frames %d complete, %d partial  datagrams lost %.0f/s invalid %d  latency p50 %.1f ms",
			frames.Per(s.FramesReceived, now), bytes.Per(s.BytesReceived, now)*8/1e6, s.Width, s.Height, q,
			s.FramesComplete, s.FramesPartial, lost.Per(s.DatagramsLost, now), s.DatagramsInvalid, rx.LiveLatency())
		if s.DatagramsDroppedHere > 0 {
			line += fmt.Sprintf("  dropped here %d", s.DatagramsDroppedHere) // this receiver's own, not the path's
		}
		if rx.LeftBehind() {
			line += "  left behind by the multicast group"
		}
		return line
	}
}
