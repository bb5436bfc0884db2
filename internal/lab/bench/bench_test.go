package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parseFlags reads a bench command line as hrvs-lab does: Register, then Options.
func parseFlags(args []string) (Options, error) {
	f := NewFlags()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	return f.Options(fs)
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"an unknown flag is named", []string{"--bogus"}, "bogus"},
		{"a size that is not WxH is refused", []string{"--sizes", "1280"}, "--sizes"},
		{"a width off the 8-pixel grid is refused", []string{"--sizes", "1283x720"}, "--sizes"},
		{"an unknown clip is refused", []string{"--clips", "movie"}, "--clips"},
		{"a fractional rate is refused", []string{"--rates", "29.97"}, "--rates"},
		{"a rate of 0 is refused (max says as fast as possible)", []string{"--rates", "0"}, "--rates"},
		{"an unknown system is refused", []string{"--systems", "vlc"}, "--systems"},
		{"quality 0 is refused", []string{"--quality", "0"}, "--quality"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") || strings.HasPrefix(err.Error(), "bench: ") {
				t.Fatalf("error is not one line without a prefix: %q", err)
			}
		})
	}
	t.Run("the command line is recorded for the table", func(t *testing.T) {
		o, err := parseFlags([]string{"--quick", "--frames", "20"})
		if err != nil || o.Command != "hrvs bench --frames=20 --quick=true" {
			t.Fatalf("command %q, %v", o.Command, err)
		}
	})
}

func TestQuickModeChoosesOneSmallCase(t *testing.T) {
	o, err := parseFlags([]string{"--quick"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Sizes) != 1 || o.Sizes[0] != [2]int{1280, 720} || len(o.Clips) != 1 || o.Frames != 45 || len(o.Rates) != 2 {
		t.Fatalf("quick options %+v", o)
	}
	o, err = parseFlags([]string{"--quick", "--sizes", "640x360", "--frames", "20"})
	if err != nil || o.Sizes[0] != [2]int{640, 360} || o.Frames != 20 {
		t.Fatalf("explicit flags must win over --quick: %+v, %v", o, err)
	}
}

func TestRotateStartsEachCellAtAnotherSystem(t *testing.T) {
	list := []string{"a", "b", "c"}
	firsts := map[string]bool{}
	for k := 0; k < 3; k++ {
		r := rotate(list, k)
		if len(r) != 3 {
			t.Fatalf("rotate lost systems: %v", r)
		}
		firsts[r[0]] = true
	}
	if len(firsts) != 3 {
		t.Fatalf("three cells started with %v", firsts)
	}
}

func TestMergeRoundsTakesMedians(t *testing.T) {
	mk := func(fps float64, cpu time.Duration) Result {
		return Result{System: "hrvs", Clip: "pattern", W: 64, H: 64, Delivered: 10, Sent: 10, FPS: fps, SendCPU: cpu, Bytes: 1000}
	}
	failed := mk(0, 0)
	failed.Err = errors.New("boom")
	got := mergeRounds([]Result{mk(30, 300*time.Millisecond), mk(10, 100*time.Millisecond), mk(20, 200*time.Millisecond), failed})
	if len(got) != 1 {
		t.Fatalf("%d rows, want 1", len(got))
	}
	if got[0].FPS != 20 || got[0].SendCPU != 200*time.Millisecond {
		t.Fatalf("median fps %v cpu %v, want 20 and 200ms", got[0].FPS, got[0].SendCPU)
	}
	if !strings.Contains(strings.Join(got[0].Note, ";"), "1 of 4 rounds failed") {
		t.Fatalf("notes %v do not count the failed round", got[0].Note)
	}
}

func TestMergeRoundsOrdersSystemsWithinEachCase(t *testing.T) {
	mk := func(sys string, rate float64) Result {
		return Result{System: sys, Clip: "pattern", W: 64, H: 64, Rate: rate, Delivered: 1, Sent: 1}
	}
	got := mergeRounds([]Result{mk("ffmpeg", 0), mk("hrvs", 0), mk("gstreamer", 0), mk("gstreamer", 30), mk("hrvs", 30)})
	var order []string
	for _, r := range got {
		order = append(order, fmt.Sprintf("%s@%g", r.System, r.Rate))
	}
	if want := "hrvs@0 gstreamer@0 ffmpeg@0 hrvs@30 gstreamer@30"; strings.Join(order, " ") != want {
		t.Fatalf("order %v, want %s", order, want)
	}
}

func TestPSNRI420(t *testing.T) {
	a := make([]byte, frameBytes(16, 16))
	b := make([]byte, len(a))
	if p := psnrI420(a, b, 16, 16); p != 99 {
		t.Fatalf("identical frames: %v dB, want the 99 dB cap", p)
	}
	for i := range b {
		b[i] = 1 // MSE 1: 20*log10(255) = 48.13 dB
	}
	if p := psnrI420(a, b, 16, 16); p < 48.1 || p > 48.2 {
		t.Fatalf("off by one everywhere: %v dB, want 48.13", p)
	}
}

// TestQuickBenchmarkMeasuresEverySystem is the CI run of `hrvs bench --quick`
// (shortened further): it must produce figures for hrvs and both peers.
func TestQuickBenchmarkMeasuresEverySystem(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the systems for about 30 s")
	}
	// The whole test binary's deadline, less a margin to report in: six runs, a
	// calibration and clip making take 30 s on an idle machine and several times that
	// with both cores busy, and every run is bounded by its own runLimit anyway.
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	work := t.TempDir()
	o, err := parseFlags([]string{"--quick", "--frames", "12", "--work", work, "--out", filepath.Join(work, "bench.md")})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	results, hb, err := measure(ctx, o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	seen := map[string]int{}
	for _, r := range results {
		if r.Err != nil || r.Skipped != "" {
			t.Errorf("%s: %v %s", r.line(), r.Err, r.Skipped)
			continue
		}
		seen[r.System]++
		// How many frames a system delivers is its finding, not the runner's: hrvs
		// at "max" may deliver a single frame of a file (its sender drops the frames
		// a file source makes while it is busy), and a peer's receiver on a machine
		// whose cores are busy loses what its socket cannot hold. The runner promises
		// that every system got frames through, and that it counted no frame twice.
		if r.Delivered == 0 || r.Delivered > r.Sent || (r.Delivered > 1 && r.FPS <= 0) {
			t.Errorf("%s: delivered %d of %d frames: none, or more than were sent", r.line(), r.Delivered, r.Sent)
		}
		if sc, rc := r.CPUPerFrame(); sc <= 0 || rc <= 0 {
			t.Errorf("%s: no CPU time measured", r.line())
		}
		if r.System != "hrvs" && (r.PSNR < 30 || r.LatencyP50 <= 0) {
			t.Errorf("%s: PSNR %.1f dB and latency %.1f ms are not plausible for q75 over loopback", r.line(), r.PSNR, r.LatencyP50)
		}
		if r.System == "hrvs" && r.LatencyP50 <= 0 {
			t.Errorf("%s: hrvs reported no latency", r.line())
		}
		if r.System == "hrvs" && r.Rate > 0 && r.PSNR != 0 && r.PSNR < 30 {
			t.Errorf("%s: hrvs PSNR %.1f dB is not plausible for q75 over loopback", r.line(), r.PSNR)
		}
	}
	for _, s := range []string{"hrvs", "gstreamer", "ffmpeg"} {
		if seen[s] != 2 {
			t.Errorf("%s measured in %d runs, want 2 (max and 30 fps)", s, seen[s])
		}
	}
	md := renderTable(ctx, o, hb, results, "load average 1.00 before the run, 1.00 after")
	for _, want := range []string{"| pattern | 1280x720 | 30 fps | gstreamer |", "### hrvs / peer", "What the columns measure", "load average 1.00"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	if t.Failed() {
		t.Logf("progress:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(work, "run-")); err == nil {
		t.Error("run directories were left behind")
	}
}

func TestFlagDocReadsOneFlagsDescription(t *testing.T) {
	help := `flags:
  -fps value
    	frames per second; 0 or max: as fast as possible
  -source string
    	what to send: pattern, a V4L2 camera
    	(/dev/video0) or a video file (Y4M) (default "pattern")
  -stats-json string
    	write a JSON summary to this file on exit
`
	tests := []struct {
		name, flag, want string
	}{
		{"a two-line description is joined", "source", `what to send: pattern, a V4L2 camera (/dev/video0) or a video file (Y4M) (default "pattern")`},
		{"the next flag's text is not included", "fps", "frames per second; 0 or max: as fast as possible"},
		{"an absent flag has no description", "sink", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := flagDoc(help, tc.flag); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A PSNR or latency not measured (0) reads n/a in the progress line, as in the table,
// not "psnr 0.0 dB".
func TestProgressLineSaysNAForWhatWasNotMeasured(t *testing.T) {
	r := Result{System: "hrvs", Clip: "pattern", W: 1280, H: 720, Sent: 45, Delivered: 45, FPS: 221, Bytes: -1}
	got := r.line()
	if !strings.Contains(got, "psnr n/a") || !strings.Contains(got, "latency p50 n/a") {
		t.Fatalf("%q: want psnr n/a and latency p50 n/a", got)
	}
	r.PSNR, r.LatencyP50 = 37.7, 10.9
	if got := r.line(); !strings.Contains(got, "psnr 37.7 dB") || !strings.Contains(got, "latency p50 10.9 ms") {
		t.Fatalf("%q: want the measured psnr and latency", got)
	}
}
