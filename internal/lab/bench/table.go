package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// renderTable writes the results as markdown: the machine and versions, what every
// column measures, one row per system and case, then the hrvs/peer ratios.
// load describes how busy the machine was: other work shares the cores and moves
// every figure, which is why systems alternate.
func renderTable(ctx context.Context, o Options, hb *hrvsBinary, results []Result, load string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## hrvs side by side with GStreamer and ffmpeg over loopback\n\n")
	fmt.Fprintf(&b, "Command: `%s`, %s.\n\n", o.Command, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s, %d cores, Linux %s; %s; %s.\n", cpuModel(), runtime.NumCPU(), kernel(), runtime.Version(), load)
	if hb != nil {
		fmt.Fprintf(&b, "%s (%s).\n", hb.version, hb.path)
	}
	if o.HRVSB != "" {
		fmt.Fprintf(&b, "hrvs-b: %s, a second build measured alongside.\n", o.HRVSB)
	}
	fmt.Fprintf(&b, "%s; %s.\n\n", toolVersion(ctx, "gst-launch-1.0", "--version", 2), toolVersion(ctx, "ffmpeg", "-version", 1))
	fmt.Fprintf(&b, "JPEG quality %d everywhere (ffmpeg's -q:v matched to it by PSNR on each clip's first frame). %d frames a run at 720p and 1080p, half at 4K; %d round(s), systems in rotating order, median of rounds.\n\n", o.Quality, o.Frames, o.Rounds)

	b.WriteString("| clip | size | rate | system | frames delivered/sent | fps | send CPU ms/frame | recv CPU ms/frame | KB/frame | datagrams/frame | PSNR dB | latency p50 / p99 ms | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	merged := mergeRounds(results)
	for _, r := range merged {
		fmt.Fprintf(&b, "| %s | %dx%d | %s | %s | ", r.Clip, r.W, r.H, rateName(r.Rate), r.System)
		switch {
		case r.Skipped != "":
			fmt.Fprintf(&b, "— | — | — | — | — | — | — | — | %s |\n", r.Skipped)
			continue
		case r.Err != nil:
			fmt.Fprintf(&b, "— | — | — | — | — | — | — | — | failed: %s |\n", oneLine(r.Err.Error()))
			continue
		}
		s, rc := r.CPUPerFrame()
		fmt.Fprintf(&b, "%d/%d | %.1f | %.2f | %.2f | %s | %s | %s | %s | %s |\n",
			r.Delivered, r.Sent, r.FPS, s, rc, perFrame(r.Bytes, r.Sent, 1024, "%.0f"), perFrame(r.Datagrams, r.Sent, 1, "%.0f"),
			orDash(r.PSNR, "%.1f"), latency(r), strings.Join(r.Note, "; "))
	}
	b.WriteString("\n### hrvs / peer (below 1 is better for hrvs except fps and PSNR)\n\n")
	b.WriteString("| clip | size | rate | peer | fps | send CPU/frame | recv CPU/frame | bytes/frame | latency p50 |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, h := range merged {
		if h.System != "hrvs" || !usable(h) {
			continue
		}
		for _, p := range merged {
			if p.System == "hrvs" || p.Clip != h.Clip || p.W != h.W || p.H != h.H || p.Rate != h.Rate || !usable(p) {
				continue
			}
			hs, hr := h.CPUPerFrame()
			ps, pr := p.CPUPerFrame()
			fmt.Fprintf(&b, "| %s | %dx%d | %s | %s | %s | %s | %s | %s | %s |\n", h.Clip, h.W, h.H, rateName(h.Rate), p.System,
				ratio(h.FPS, p.FPS), ratio(hs, ps), ratio(hr, pr),
				ratio(bytesPer(h), bytesPer(p)), ratio(h.LatencyP50, p.LatencyP50))
		}
	}
	b.WriteString(legend)
	return b.String()
}

const legend = `
What the columns measure:
- **fps**: frames the receiver delivered, less one, over the time from the first to the last delivered frame. At "max" the source feeds frames as fast as the sender takes them; at a rate, frames whose slot passed while the sender was busy are skipped, as a live camera would.
- **CPU ms/frame**: user+system CPU of the sender and of the receiver process (all threads, from the kernel when the process is reaped), over the whole process life, divided by frames delivered. Start-up and shut-down cost each process 10-110 ms of CPU (measured apart: gst-launch 10-20 ms, ffmpeg 50-80 ms, hrvs recv about 40 ms, hrvs send about 110 ms with its final wait for acknowledgements), under 1 ms a frame over 150 frames.
- **KB/frame, datagrams/frame**: UDP payload bytes and datagrams sent to the receiver's port, counted in the kernel by an nftables counter when the runner is root, otherwise hrvs's own count and none for the peers; divided by frames sent. Acknowledgements (hrvs's TCP) are not counted.
- **PSNR**: Y'CbCr 4:2:0 PSNR of received frames against their source frames (matched by a frame number stamped into the clip's top-left corner), mean over up to 24 frames. The peers' are taken in the run from their raw output; hrvs's from a separate 20-frame run with its receiver writing PNGs, converted back to Y'CbCr and compared with the source frame given the same trip through 8-bit RGB (so colours outside the RGB gamut are clipped alike on both sides), or n/a without --sink dir.
- **frames skipped at the source**: frames the source offered while the sender was still busy with the previous one. hrvs's sender drops such a frame after the source made it (at "max" the source makes one as fast as asked, so this number is large and each one cost the sender a pattern draw or file read); the peers' sender never sees it (the runner does not write it).
- **latency**: hrvs: capture instant stamped by the sender to frame decoded and ready at the receiver (the two clocks related by pings; on one machine they agree). Peers: the instant the runner starts writing a frame into the sender's stdin to the instant it has read the whole decoded frame from the receiver's stdout, so it also counts two pipe copies of the raw frame (about a millisecond at 1080p) that hrvs does not make; hrvs in turn counts drawing the pattern or reading the file. Neither includes a display.
`

// mergeRounds folds rounds of the same case into one row of medians.
func mergeRounds(results []Result) []Result {
	type key struct {
		sys, clip string
		w, h      int
		rate      float64
	}
	var order []key
	groups := map[key][]Result{}
	for _, r := range results {
		k := key{r.System, r.Clip, r.W, r.H, r.Rate}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		g := groups[k]
		var ok []Result
		for _, r := range g {
			if usable(r) {
				ok = append(ok, r)
			}
		}
		if len(ok) == 0 {
			out = append(out, g[0])
			continue
		}
		m := ok[0]
		m.FPS = median(ok, func(r Result) float64 { return r.FPS })
		m.PSNR = median(ok, func(r Result) float64 { return r.PSNR })
		m.LatencyP50 = median(ok, func(r Result) float64 { return r.LatencyP50 })
		m.LatencyP99 = median(ok, func(r Result) float64 { return r.LatencyP99 })
		// CPU and bytes are per frame; take the round whose send CPU per frame is the
		// median so the row's counts stay consistent with each other.
		slices.SortFunc(ok, func(a, b Result) int {
			x, _ := a.CPUPerFrame()
			y, _ := b.CPUPerFrame()
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
		mid := ok[len(ok)/2]
		m.Sent, m.Delivered, m.SendCPU, m.RecvCPU, m.Bytes, m.Datagrams = mid.Sent, mid.Delivered, mid.SendCPU, mid.RecvCPU, mid.Bytes, mid.Datagrams
		if len(g) > len(ok) {
			m.Note = append(slices.Clone(m.Note), fmt.Sprintf("%d of %d rounds failed", len(g)-len(ok), len(g)))
		}
		out = append(out, m)
	}
	// Within a case, hrvs first and the peers in a fixed order, whatever order
	// they ran in.
	type cellKey struct {
		clip string
		w, h int
		rate float64
	}
	cell := map[cellKey]int{}
	for _, r := range out {
		k := cellKey{r.Clip, r.W, r.H, r.Rate}
		if _, ok := cell[k]; !ok {
			cell[k] = len(cell)
		}
	}
	rank := map[string]int{"hrvs": 0, "hrvs-b": 1, "gstreamer": 2, "ffmpeg": 3}
	slices.SortStableFunc(out, func(a, b Result) int {
		ca, cb := cell[cellKey{a.Clip, a.W, a.H, a.Rate}], cell[cellKey{b.Clip, b.W, b.H, b.Rate}]
		if ca != cb {
			return ca - cb
		}
		return rank[a.System] - rank[b.System]
	})
	return out
}

func median(rs []Result, f func(Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func usable(r Result) bool { return r.Skipped == "" && r.Err == nil && r.Delivered > 0 }

func bytesPer(r Result) float64 {
	if r.Bytes < 0 || r.Sent == 0 {
		return 0
	}
	return float64(r.Bytes) / float64(r.Sent)
}

func perFrame(v int64, frames int, unit float64, format string) string {
	if v < 0 || frames == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, float64(v)/float64(frames)/unit)
}

func orDash(v float64, format string) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

func latency(r Result) string {
	if r.LatencyP50 == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f / %.1f", r.LatencyP50, r.LatencyP99)
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(firstLine(s), "|", "/")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// loadAverage is the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// toolVersion is the line-th line of a tool's version output, or "NAME not installed".
func toolVersion(ctx context.Context, name, flag string, line int) string {
	out, err := exec.CommandContext(ctx, name, flag).Output()
	if err != nil {
		return name + " not installed"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if line > len(lines) {
		line = len(lines)
	}
	v := lines[line-1]
	if i := strings.Index(v, " Copyright"); i > 0 {
		v = v[:i]
	}
	return v
}
