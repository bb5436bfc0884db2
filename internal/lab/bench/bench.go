// Package bench measures hrvs side by side with GStreamer's and ffmpeg's RTP/JPEG on
// one machine over loopback: the same clips, sizes, rates and JPEG quality, systems
// alternated so drift hits all alike. It prints a markdown table; `hrvs bench` runs it.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	labphoto "github.com/hrvs/hrvs/internal/lab/photo"
)

// Result is one system's figures for one clip, size and rate.
type Result struct {
	System    string
	Clip      string
	W, H      int
	Rate      float64 // frames per second asked for; 0 as fast as possible
	Sent      int     // frames the sender sent
	Delivered int     // frames the receiver delivered
	FPS       float64 // delivered frames per second, first to last delivered frame
	SendCPU   time.Duration
	RecvCPU   time.Duration
	Bytes     int64 // UDP payload bytes sent; -1 unknown
	Datagrams int64
	PSNR      float64 // dB, mean over the compared frames; 0 unknown
	// PSNRFrames is how many received frames PSNR compared.
	PSNRFrames int
	LatencyP50 float64 // ms; 0 unknown
	LatencyP99 float64
	Note       []string
	Commands   []string
	Skipped    string // why the system was not run
	Err        error
}

func newResult(system string, r *run) Result {
	return Result{System: system, Clip: r.clip.spec.Kind, W: r.clip.spec.W, H: r.clip.spec.H, Rate: r.rate, Bytes: -1}
}

// CPUPerFrame returns send and receive CPU milliseconds per delivered frame.
func (r Result) CPUPerFrame() (send, recv float64) {
	if r.Delivered == 0 {
		return 0, 0
	}
	return ms(r.SendCPU) / float64(r.Delivered), ms(r.RecvCPU) / float64(r.Delivered)
}

// Options is what one benchmark run measures.
type Options struct {
	Sizes   [][2]int
	Clips   []string
	Rates   []float64 // 0 means as fast as possible
	Frames  int       // per run (and clip length); 4K runs use half
	Quality int
	Rounds  int
	Systems []string
	HRVS    string // path of the hrvs binary
	// HRVSB is a second hrvs binary measured as system "hrvs-b" in the same run,
	// for before/after comparisons of a change.
	HRVSB   string
	Photo   string
	Work    string
	Out     string
	Command string // the command line, for the table's header
}

// ErrUsage matches (errors.Is) every error Main returns for a bad command line,
// so the caller can exit with its usage status; the error's text is the reason.
var ErrUsage = errors.New("bench: bad usage")

// usageError is a command-line mistake; its text is a one-line reason.
type usageError struct{ msg string }

func (e usageError) Error() string        { return e.msg }
func (e usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

const usage = `hrvs bench [flags]: hrvs, GStreamer RTP/JPEG and ffmpeg RTP/MJPEG side by side over loopback,
on the same clips at the same JPEG quality; prints a markdown table and writes it to --out`

// Main parses args and runs the benchmark; hrvs wires it as `hrvs bench`. --help
// prints usage and returns flag.ErrHelp; a bad flag returns a one-line reason.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	return Run(ctx, o, stdout, stderr)
}

func parseFlags(args []string, stdout io.Writer) (Options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	quick := fs.Bool("quick", false, "one size (1280x720), the pattern, as fast as possible and 30 fps, 45 frames: a smoke test of a few seconds")
	sizes := fs.String("sizes", "1280x720,1920x1080,3840x2160", "frame sizes, comma separated")
	clips := fs.String("clips", "pattern,photo", "clips: pattern (built-in test pattern), photo (pan over a photograph)")
	rates := fs.String("rates", "max,30,60", "frame rates: max (as fast as possible) or frames per second")
	frames := fs.Int("frames", 150, "frames per run (4K runs use half)")
	quality := fs.Int("quality", 75, "JPEG quality 1..100 for every system")
	rounds := fs.Int("rounds", 1, "rounds over all systems; figures are the median of rounds")
	systems := fs.String("systems", "hrvs,gstreamer,ffmpeg", "systems to run")
	bin := fs.String("hrvs", "", "hrvs binary to measure (default: this hrvs)")
	binB := fs.String("hrvs-b", "", "a second hrvs binary, measured as system hrvs-b alongside (before/after a change)")
	photo := fs.String("photo", "", "photograph for the photo clip (default: one from plasma-workspace-wallpapers)")
	work := fs.String("work", filepath.Join(os.TempDir(), "hrvs-bench"), "directory for clips (kept and reused) and run files")
	out := fs.String("out", "bench.md", "file the markdown table is written to")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return Options{}, err
		}
		return Options{}, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return Options{}, usagef("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o := Options{Frames: *frames, Quality: *quality, Rounds: *rounds, HRVS: *bin, HRVSB: *binB, Photo: *photo, Work: *work, Out: *out,
		Command: strings.TrimSpace("hrvs bench " + strings.Join(args, " "))}
	if *quick {
		if !set["sizes"] {
			*sizes = "1280x720"
		}
		if !set["clips"] {
			*clips = ClipPattern
		}
		if !set["rates"] {
			*rates = "max,30"
		}
		if !set["frames"] {
			o.Frames = 45
		}
	}
	var err error
	if o.Sizes, err = parseSizes(*sizes); err != nil {
		return Options{}, err
	}
	for _, c := range splitList(*clips) {
		if c != ClipPattern && c != ClipPhoto {
			return Options{}, usagef("--clips: unknown clip %q (want pattern or photo)", c)
		}
		o.Clips = append(o.Clips, c)
	}
	for _, r := range splitList(*rates) {
		if r == "max" {
			o.Rates = append(o.Rates, 0)
			continue
		}
		v, err := strconv.ParseFloat(r, 64)
		if err != nil || v <= 0 || v > 1000 || v != math.Trunc(v) {
			return Options{}, usagef("--rates: %q is neither max nor a whole number of frames per second up to 1000", r)
		}
		o.Rates = append(o.Rates, v)
	}
	for _, s := range splitList(*systems) {
		if s != "hrvs" && s != "gstreamer" && s != "ffmpeg" {
			return Options{}, usagef("--systems: unknown system %q (want hrvs, gstreamer, ffmpeg; --hrvs-b adds hrvs-b)", s)
		}
		o.Systems = append(o.Systems, s)
	}
	if o.HRVSB != "" && !contains(o.Systems, "hrvs-b") {
		o.Systems = append(o.Systems, "hrvs-b")
	}
	switch {
	case len(o.Clips) == 0 || len(o.Rates) == 0 || len(o.Systems) == 0:
		return Options{}, usagef("--clips, --rates and --systems must each name at least one")
	case o.Frames < 10 || o.Frames > 100000:
		return Options{}, usagef("--frames %d: want 10..100000", o.Frames)
	case o.Quality < 1 || o.Quality > 100:
		return Options{}, usagef("--quality %d: want 1..100", o.Quality)
	case o.Rounds < 1 || o.Rounds > 20:
		return Options{}, usagef("--rounds %d: want 1..20", o.Rounds)
	case o.Out == "":
		return Options{}, usagef("--out must name a file")
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseSizes(s string) ([][2]int, error) {
	var out [][2]int
	for _, f := range splitList(s) {
		a, b, ok := strings.Cut(strings.ToLower(f), "x")
		w, err1 := strconv.Atoi(a)
		h, err2 := strconv.Atoi(b)
		// Widths on 8 and heights on 2 keep every I420 plane free of row padding in
		// all three systems' raw formats.
		if !ok || err1 != nil || err2 != nil || w < 128 || h < 16 || w > 7680 || h > 4320 || w%8 != 0 || h%2 != 0 {
			return nil, usagef("--sizes: %q is not WIDTHxHEIGHT with width 128..7680 (multiple of 8) and height 16..4320 (even)", f)
		}
		out = append(out, [2]int{w, h})
	}
	if len(out) == 0 {
		return nil, usagef("--sizes names no size")
	}
	return out, nil
}

// tools lists what each system needs and the Debian package that has it.
var tools = map[string][][2]string{
	"gstreamer": {{"gst-launch-1.0", "gstreamer1.0-tools"}},
	"ffmpeg":    {{"ffmpeg", "ffmpeg"}},
}

// gstElements must all exist for the GStreamer runs, with the package holding each.
var gstElements = [][2]string{
	{"rawvideoparse", "gstreamer1.0-plugins-base"}, {"videoconvert", "gstreamer1.0-plugins-base"},
	{"jpegenc", "gstreamer1.0-plugins-good"}, {"jpegdec", "gstreamer1.0-plugins-good"},
	{"rtpjpegpay", "gstreamer1.0-plugins-good"}, {"rtpjpegdepay", "gstreamer1.0-plugins-good"},
	{"udpsrc", "gstreamer1.0-plugins-good"}, {"udpsink", "gstreamer1.0-plugins-good"},
}

// missing returns, for a system, what is not installed, naming the Debian packages;
// the benchmark installs nothing itself.
func missing(ctx context.Context, system string) []string {
	var out []string
	for _, t := range tools[system] {
		if _, err := exec.LookPath(t[0]); err != nil {
			out = append(out, fmt.Sprintf("%s (apt-get install %s)", t[0], t[1]))
		}
	}
	if system == "gstreamer" && len(out) == 0 {
		for _, e := range gstElements {
			if exec.CommandContext(ctx, "gst-inspect-1.0", "--exists", e[0]).Run() != nil {
				out = append(out, fmt.Sprintf("GStreamer element %s (apt-get install %s)", e[0], e[1]))
			}
		}
	}
	return out
}

// Run measures everything o asks for, prints the table to stdout, progress to
// stderr, and writes the table to o.Out.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	loadBefore := loadAverage()
	results, hb, err := measure(ctx, o, stderr)
	if err != nil {
		return err
	}
	md := renderTable(ctx, o, hb, results, fmt.Sprintf("load average %s before the run, %s after", loadBefore, loadAverage()))
	fmt.Fprint(stdout, md)
	if err := os.WriteFile(o.Out, []byte(md), 0o644); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	return nil
}

// measure runs every case and returns the results in the order they ran.
func measure(ctx context.Context, o Options, stderr io.Writer) ([]Result, *hrvsBinary, error) {
	if err := os.MkdirAll(o.Work, 0o755); err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	var hb *hrvsBinary
	bins := map[string]*hrvsBinary{}
	absent := map[string]string{}
	for _, s := range o.Systems {
		switch s {
		case "hrvs", "hrvs-b":
			path := o.HRVSB
			if s == "hrvs" {
				var err error
				if path, err = locateHRVS(ctx, o.HRVS, o.Work, logf); err != nil {
					return nil, nil, err
				}
			}
			b, err := probeHRVS(ctx, path)
			if err != nil {
				return nil, nil, err
			}
			bins[s] = b
			if s == "hrvs" {
				hb = b
			}
		default:
			if m := missing(ctx, s); len(m) > 0 {
				absent[s] = "not installed: " + strings.Join(m, ", ")
				logf("%s: %s", s, absent[s])
			}
		}
	}
	photo := o.Photo
	if photo == "" {
		photo = labphoto.Find()
	}
	var counter *udpCounter
	if c, err := newUDPCounter(ctx); err != nil {
		logf("bytes on the wire come from each system's own count: %v", err)
	} else {
		counter = c
		defer c.close(ctx)
	}

	var results []Result
	cell := 0
	for _, kind := range o.Clips {
		for _, sz := range o.Sizes {
			frames := o.Frames
			if sz[0]*sz[1] > 1920*1080 {
				frames = max(10, frames/2)
			}
			spec := clipSpec{Kind: kind, W: sz[0], H: sz[1], Frames: frames, FPS: 30}
			if kind == ClipPhoto {
				spec.Photo = photo
			}
			logf("clip %s %dx%d, %d frames", kind, sz[0], sz[1], frames)
			path, err := makeClip(ctx, o.Work, spec)
			if err != nil {
				return nil, nil, err
			}
			clip, err := loadClip(path, spec)
			if err != nil {
				return nil, nil, err
			}
			ffQ := 0
			if contains(o.Systems, "ffmpeg") && absent["ffmpeg"] == "" {
				if ffQ, err = calibrate(ctx, clip, o.Quality); err != nil {
					return nil, nil, err
				}
				logf("ffmpeg -q:v %d matches JPEG quality %d on this clip", ffQ, o.Quality)
			}
			for _, rate := range o.Rates {
				for round := 0; round < o.Rounds; round++ {
					order := rotate(o.Systems, cell+round)
					for _, sys := range order {
						if err := ctx.Err(); err != nil {
							return nil, nil, err
						}
						res, err := measureOne(ctx, sys, clip, rate, o, ffQ, bins[sys], counter, absent)
						if err != nil {
							return nil, nil, err
						}
						logf("%s", res.line())
						results = append(results, res)
					}
				}
				cell++
			}
			clip.data = nil // let the next clip's frames have the memory
		}
	}
	return results, hb, nil
}

func measureOne(ctx context.Context, sys string, clip *loadedClip, rate float64, o Options, ffQ int, hb *hrvsBinary, counter *udpCounter, absent map[string]string) (Result, error) {
	port, err := freePort()
	if err != nil {
		return Result{}, err
	}
	dir, err := os.MkdirTemp(o.Work, "run-")
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	r := &run{clip: clip, rate: rate, quality: o.Quality, ffQ: ffQ, port: port, dir: dir}
	if why := absent[sys]; why != "" {
		res := newResult(sys, r)
		res.Skipped = why
		return res, nil
	}
	switch sys {
	case "hrvs", "hrvs-b":
		res := measureHRVS(ctx, sys, hb, r, counter)
		if res.Skipped == "" && res.Err == nil && rate > 0 && hb.dirSink {
			p, n, err := psnrHRVS(ctx, hb, r, min(20, clip.spec.Frames))
			if err != nil {
				res.Note = append(res.Note, "PSNR pass failed: "+err.Error())
			} else {
				res.PSNR, res.PSNRFrames = p, n
				res.Note = append(res.Note, "PSNR from a separate short run with --sink dir")
			}
		}
		return res, nil
	case "gstreamer":
		return measurePeer(ctx, gstreamer, r, counter), nil
	case "ffmpeg":
		return measurePeer(ctx, ffmpeg, r, counter), nil
	}
	return Result{}, fmt.Errorf("bench: unknown system %q", sys)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// rotate starts the order at a different system each cell, so no system always runs
// first (on a cold cache) or last (on a machine warmed by the others).
func rotate(list []string, k int) []string {
	n := len(list)
	out := make([]string, n)
	for i := range list {
		out[i] = list[(i+k)%n]
	}
	return out
}

// locateHRVS finds the hrvs binary: the flag; else the hrvs beside this program (the lab
// binary, hrvs-lab, is built and installed next to it); else bin/hrvs in the working
// directory, else one built with go build into work.
func locateHRVS(ctx context.Context, flagPath, work string, logf func(string, ...any)) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "hrvs")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && p != exe {
			return p, nil
		}
	}
	if st, err := os.Stat(filepath.Join("bin", "hrvs")); err == nil && st.Mode().IsRegular() {
		return filepath.Abs(filepath.Join("bin", "hrvs"))
	}
	out := filepath.Join(work, "hrvs")
	logf("building hrvs into %s", out)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/hrvs/hrvs")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: go build hrvs: %w: %s", err, firstLine(string(b)))
	}
	return out, nil
}

// shellJoin renders argv as a shell command line for the table's notes.
func shellJoin(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t'\"$&|;<>()*?") {
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			parts[i] = a
		}
	}
	return strings.Join(parts, " ")
}

// line is one progress line.
func (r Result) line() string {
	head := fmt.Sprintf("%-9s %-7s %dx%d %s", r.System, r.Clip, r.W, r.H, rateName(r.Rate))
	switch {
	case r.Skipped != "":
		return head + ": skipped: " + r.Skipped
	case r.Err != nil:
		return head + ": failed: " + r.Err.Error()
	}
	s, rc := r.CPUPerFrame()
	return fmt.Sprintf("%s: %d/%d frames %.1f fps, cpu %.1f+%.1f ms/frame, psnr %.1f dB, latency p50 %.1f ms",
		head, r.Delivered, r.Sent, r.FPS, s, rc, r.PSNR, r.LatencyP50)
}

func rateName(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%g fps", r)
}
