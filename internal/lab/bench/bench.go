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
	"strings"
	"time"

	labphoto "github.com/hrvs/hrvs/internal/lab/photo"
	"github.com/hrvs/hrvs/internal/units"
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

// Usage is what `hrvs bench --help` says above the flags.
const Usage = `hrvs, GStreamer RTP/JPEG and ffmpeg RTP/MJPEG side by side over loopback, on the same
clips at the same JPEG quality; prints a markdown table and writes it to --out.`

// Flags is bench's command line before Options checks it and turns it into Options.
type Flags struct {
	quick                        bool
	sizes, clips, rates, systems string
	o                            Options
}

// NewFlags returns the command line's defaults.
func NewFlags() *Flags {
	return &Flags{sizes: "1280x720,1920x1080,3840x2160", clips: "pattern,photo", rates: "max,30,60", systems: "hrvs,gstreamer,ffmpeg",
		o: Options{Frames: 150, Quality: 75, Rounds: 1, Work: filepath.Join(os.TempDir(), "hrvs-bench"), Out: "bench.md"}}
}

// Register declares bench's flags on fs; their defaults are f's values.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&f.quick, "quick", f.quick, "one size (1280x720), the pattern, as fast as possible and 30 fps, 45 frames: a smoke test of a few seconds\n(flags given beside it win)")
	fs.StringVar(&f.sizes, "sizes", f.sizes, "frame `sizes` WxH, comma separated; widths 128..7680 on multiples of 8, heights 16..4320 even")
	fs.StringVar(&f.clips, "clips", f.clips, "`clips`: pattern (built-in test pattern), photo (pan over a photograph)")
	fs.StringVar(&f.rates, "rates", f.rates, "frame `rates`: max (as fast as possible) or whole frames per second up to 1000")
	fs.IntVar(&f.o.Frames, "frames", f.o.Frames, "frames per run, 10..100000 (4K runs use half)")
	fs.IntVar(&f.o.Quality, "quality", f.o.Quality, "JPEG quality 1..100 for every system")
	fs.IntVar(&f.o.Rounds, "rounds", f.o.Rounds, "rounds over all systems, 1..20; figures are the median of rounds")
	fs.StringVar(&f.systems, "systems", f.systems, "`systems` to run: hrvs, gstreamer, ffmpeg")
	fs.StringVar(&f.o.HRVS, "hrvs", f.o.HRVS, "hrvs `binary` to measure (default: the hrvs beside this program)")
	fs.StringVar(&f.o.HRVSB, "hrvs-b", f.o.HRVSB, "a second hrvs `binary`, measured as system hrvs-b alongside, before/after a change (default: none)")
	fs.StringVar(&f.o.Photo, "photo", f.o.Photo, "photograph `file` for the photo clip (default: one from plasma-workspace-wallpapers)")
	fs.StringVar(&f.o.Work, "work", f.o.Work, "`directory` for clips (kept and reused) and run files")
	fs.StringVar(&f.o.Out, "out", f.o.Out, "`file` the markdown table is written to")
}

// Options checks the parsed flags (fs says which were given, for --quick) and returns
// what to measure; an error names the flag at fault.
func (f *Flags) Options(fs *flag.FlagSet) (Options, error) {
	o := f.o
	set := map[string]bool{}
	words := []string{"hrvs bench"}
	fs.Visit(func(fl *flag.Flag) {
		set[fl.Name] = true
		words = append(words, "--"+fl.Name+"="+fl.Value.String())
	})
	o.Command = strings.Join(words, " ")
	sizes, clips, rates := f.sizes, f.clips, f.rates
	if f.quick {
		if !set["sizes"] {
			sizes = "1280x720"
		}
		if !set["clips"] {
			clips = ClipPattern
		}
		if !set["rates"] {
			rates = "max,30"
		}
		if !set["frames"] {
			o.Frames = 45
		}
	}
	var err error
	if o.Sizes, err = parseSizes(sizes); err != nil {
		return Options{}, err
	}
	for _, c := range splitList(clips) {
		if c != ClipPattern && c != ClipPhoto {
			return Options{}, fmt.Errorf("--clips: unknown clip %q (want pattern or photo)", c)
		}
		o.Clips = append(o.Clips, c)
	}
	for _, r := range splitList(rates) {
		v, err := units.ParseFrameRate(r)
		if err != nil || v != math.Trunc(v) || r != "max" && v == 0 {
			return Options{}, fmt.Errorf("--rates: %q is neither max nor a whole number of frames per second up to 1000", r)
		}
		o.Rates = append(o.Rates, v)
	}
	for _, s := range splitList(f.systems) {
		if s != "hrvs" && s != "gstreamer" && s != "ffmpeg" {
			return Options{}, fmt.Errorf("--systems: unknown system %q (want hrvs, gstreamer, ffmpeg; --hrvs-b adds hrvs-b)", s)
		}
		o.Systems = append(o.Systems, s)
	}
	if o.HRVSB != "" && !contains(o.Systems, "hrvs-b") {
		o.Systems = append(o.Systems, "hrvs-b")
	}
	switch {
	case len(o.Clips) == 0 || len(o.Rates) == 0 || len(o.Systems) == 0:
		return Options{}, errors.New("--clips, --rates and --systems must each name at least one")
	case o.Frames < 10 || o.Frames > 100000:
		return Options{}, fmt.Errorf("--frames %d: want 10..100000", o.Frames)
	case o.Quality < 1 || o.Quality > 100:
		return Options{}, fmt.Errorf("--quality %d: want 1..100", o.Quality)
	case o.Rounds < 1 || o.Rounds > 20:
		return Options{}, fmt.Errorf("--rounds %d: want 1..20", o.Rounds)
	case o.Out == "":
		return Options{}, errors.New("--out must name a file")
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
		w, h, err := units.ParseSize(f)
		// Widths on 8 and heights on 2 keep every I420 plane free of row padding in
		// all three systems' raw formats.
		if err != nil || w < 128 || h < 16 || w > 7680 || h > 4320 || w%8 != 0 || h%2 != 0 {
			return nil, fmt.Errorf("--sizes: %q is not WIDTHxHEIGHT with width 128..7680 (multiple of 8) and height 16..4320 (even)", f)
		}
		out = append(out, [2]int{w, h})
	}
	if len(out) == 0 {
		return nil, errors.New("--sizes names no size")
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
	return fmt.Sprintf("%s: %d/%d frames %.1f fps, cpu %.1f+%.1f ms/frame, psnr %s, latency p50 %s",
		head, r.Delivered, r.Sent, r.FPS, s, rc, orDash(r.PSNR, "%.1f dB"), orDash(r.LatencyP50, "%.1f ms"))
}

func rateName(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%g fps", r)
}
