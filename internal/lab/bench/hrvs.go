package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hrvs/hrvs/capture"
)

// hrvsBinary is the hrvs under test and what its command line can do; features are
// read from its --help so the benchmark keeps working while they land.
type hrvsBinary struct {
	path      string
	version   string
	fileInput bool // send --source FILE
	dirSink   bool // recv --sink dir:PATH
}

func probeHRVS(ctx context.Context, path string) (*hrvsBinary, error) {
	b := &hrvsBinary{path: path}
	out, err := exec.CommandContext(ctx, path, "version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s version: %w", path, err)
	}
	b.version = strings.TrimSpace(string(out))
	sendHelp, _ := exec.CommandContext(ctx, path, "send", "--help").CombinedOutput()
	recvHelp, _ := exec.CommandContext(ctx, path, "recv", "--help").CombinedOutput()
	// The --source flag's own description says whether files are accepted.
	b.fileInput = regexp.MustCompile(`(?i)y4m|file|path`).MatchString(flagDoc(string(sendHelp), "source"))
	b.dirSink = strings.Contains(string(recvHelp), "dir:")
	return b, nil
}

// flagDoc returns the description the flag package printed for flag name: the
// lines after "  -name" up to the next flag.
func flagDoc(help, name string) string {
	var doc []string
	in := false
	for _, line := range strings.Split(help, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "-") {
			f, _, _ := strings.Cut(t[1:], " ")
			in = f == name
			continue
		}
		if in {
			doc = append(doc, strings.TrimSpace(line))
		}
	}
	return strings.Join(doc, " ")
}

// sendStats and recvStats are the parts of hrvs's --stats-json the table uses.
type sendStats struct {
	FramesSent    uint64 `json:"frames_sent"`
	DatagramsSent uint64 `json:"datagrams_sent"`
	BytesSent     uint64 `json:"bytes_sent"`
	DroppedBusy   uint64 `json:"frames_dropped_busy"`
	DroppedWindow uint64 `json:"frames_dropped_window"`
	Quality       int    `json:"quality"` // where rate control left it
}

type recvStats struct {
	FramesReceived uint64  `json:"frames_received"`
	FramesPartial  uint64  `json:"frames_partial"`
	FPS            float64 `json:"fps"`
	LatencyP50     float64 `json:"latency_ms_p50"`
	LatencyP99     float64 `json:"latency_ms_p99"`
	ClockSynced    bool    `json:"clock_synced"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// hrvsArgv returns the receiver's and sender's command lines; sinkDir non-empty
// asks the receiver to write every frame as a PNG there.
func (b *hrvsBinary) argv(r *run, frames int, sinkDir string) (recv, send []string, err error) {
	spec := r.clip.spec
	addr := fmt.Sprintf("127.0.0.1:%d", r.port)
	recv = []string{b.path, "recv", "--listen", addr, "--stats-json", filepath.Join(r.dir, "recv.json")}
	if sinkDir != "" {
		recv = append(recv, "--sink", "dir:"+sinkDir)
	}
	source := "pattern"
	switch {
	case b.fileInput:
		source = r.clip.path
	case spec.Kind != ClipPattern:
		return nil, nil, fmt.Errorf("this hrvs build reads only the built-in pattern (no --source FILE)")
	}
	send = []string{b.path, "send", "--to", addr, "--source", source,
		"--size", fmt.Sprintf("%dx%d", spec.W, spec.H), "--fps", fmt.Sprint(r.rate),
		"--quality", fmt.Sprint(r.quality), "--frames", fmt.Sprint(frames),
		"--stats-json", filepath.Join(r.dir, "send.json")}
	return recv, send, nil
}

// measureHRVS runs hrvs recv and hrvs send as child processes. fps and latency are
// the receiver's own figures (first to last frame released; capture instant stamped
// by the sender to frame decoded, clocks related by pings); CPU is the kernel's.
func measureHRVS(ctx context.Context, name string, b *hrvsBinary, r *run, counter *udpCounter) Result {
	res := newResult(name, r)
	recvArgv, sendArgv, err := b.argv(r, r.clip.spec.Frames, "")
	if err != nil {
		res.Skipped = err.Error()
		return res
	}
	res.Commands = []string{shellJoin(recvArgv), shellJoin(sendArgv)}
	if counter != nil {
		if err := counter.watch(ctx, r.port); err != nil {
			res.Note = append(res.Note, "kernel byte count unavailable: "+err.Error())
			counter = nil
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, runLimit(r))
	defer cancel()
	rx, err := startChild(runCtx, "hrvs recv", recvArgv, nil)
	if err != nil {
		res.Err = err
		return res
	}
	time.Sleep(300 * time.Millisecond)
	tx, err := startChild(runCtx, "hrvs send", sendArgv, nil)
	if err != nil {
		rx.stop(2 * time.Second)
		res.Err = err
		return res
	}
	res.SendCPU, res.Err = tx.wait(runLimit(r))
	// The sender has sent its last frame; give the receiver a moment to release it.
	time.Sleep(600 * time.Millisecond)
	res.RecvCPU = rx.stop(5 * time.Second)
	if err := rx.exitErr(); err != nil && res.Err == nil {
		res.Err = err
	}
	var ss sendStats
	var rs recvStats
	if err := readJSON(filepath.Join(r.dir, "send.json"), &ss); err != nil && res.Err == nil {
		res.Err = fmt.Errorf("hrvs send stats: %w", err)
	}
	if err := readJSON(filepath.Join(r.dir, "recv.json"), &rs); err != nil && res.Err == nil {
		res.Err = fmt.Errorf("hrvs recv stats: %w", err)
	}
	res.Sent, res.Delivered, res.FPS = int(ss.FramesSent), int(rs.FramesReceived), rs.FPS
	res.LatencyP50, res.LatencyP99 = rs.LatencyP50, rs.LatencyP99
	if !rs.ClockSynced {
		res.Note = append(res.Note, "receiver clock not synced: latency unreliable")
	}
	if rs.FramesPartial > 0 {
		res.Note = append(res.Note, fmt.Sprintf("%d frames partial (old tiles shown)", rs.FramesPartial))
	}
	if skipped := ss.DroppedBusy + ss.DroppedWindow; skipped > 0 {
		res.Note = append(res.Note, fmt.Sprintf("%d frames skipped at the source (sender busy or window full)", skipped))
	}
	if ss.Quality != 0 && ss.Quality != r.quality {
		// hrvs's rate control lowers quality when it reads the path (or a busy
		// CPU) as congested; the PSNR column then compares unequal qualities.
		res.Note = append(res.Note, fmt.Sprintf("rate control ended at quality %d", ss.Quality))
	}
	res.Bytes, res.Datagrams = int64(ss.BytesSent), int64(ss.DatagramsSent)
	if counter != nil {
		if by, d, err := counter.read(ctx, r.port); err == nil {
			res.Bytes, res.Datagrams = by, d
		}
	}
	return res
}

// psnrHRVS measures quality in a separate short run at the run's rate with the
// receiver writing PNGs (the PNG encoding would distort the timing run). Each PNG is
// matched to its source frame by the clip's stamp, or for the built-in pattern by
// searching the few pattern frames that could be it.
func psnrHRVS(ctx context.Context, b *hrvsBinary, r *run, frames int) (psnr float64, n int, err error) {
	dir := filepath.Join(r.dir, "frames")
	recvArgv, sendArgv, err := b.argv(r, frames, dir)
	if err != nil {
		return 0, 0, err
	}
	runCtx, cancel := context.WithTimeout(ctx, runLimit(r))
	defer cancel()
	rx, err := startChild(runCtx, "hrvs recv", recvArgv, nil)
	if err != nil {
		return 0, 0, err
	}
	time.Sleep(300 * time.Millisecond)
	tx, err := startChild(runCtx, "hrvs send", sendArgv, nil)
	if err != nil {
		rx.stop(2 * time.Second)
		return 0, 0, err
	}
	_, err = tx.wait(runLimit(r))
	time.Sleep(600 * time.Millisecond)
	rx.stop(10 * time.Second)
	if err != nil {
		return 0, 0, err
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	// A dozen frames, spread over the run, tell the quality; each costs a PNG
	// decode and two colour conversions.
	if len(names) > hrvsPSNRFrames {
		step := float64(len(names)) / hrvsPSNRFrames
		picked := make([]string, 0, hrvsPSNRFrames)
		for i := 0; i < hrvsPSNRFrames; i++ {
			picked = append(picked, names[int(float64(i)*step)])
		}
		names = picked
	}
	spec := r.clip.spec
	var pat *capture.Pattern
	if !b.fileInput {
		if pat, err = capture.NewPattern(spec.W, spec.H, 0); err != nil {
			return 0, 0, err
		}
	}
	ref := image.NewYCbCr(image.Rect(0, 0, spec.W, spec.H), image.YCbCrSubsampleRatio420)
	var sum float64
	for _, name := range names {
		got, err := readPNGYCbCr(name)
		if err != nil || got.Rect.Dx() != spec.W || got.Rect.Dy() != spec.H {
			continue
		}
		var best float64
		if pat == nil {
			idx, ok := readStamp(got)
			if !ok || int(idx) >= spec.Frames {
				continue
			}
			ref := throughRGB(fromPlanes(r.clip.frame(int(idx)), spec.W, spec.H))
			best = psnrI420(planes(got), planes(ref), spec.W, spec.H)
		} else {
			fn, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "frame-"), ".png"))
			if err != nil {
				continue
			}
			// Sender frame numbers count sent frames; the pattern's count captured
			// ones, which run ahead by the frames the sender skipped.
			for seq := fn; seq < fn+8; seq++ {
				pat.Draw(ref, uint64(seq))
				best = max(best, psnrI420(planes(got), planes(throughRGB(ref)), spec.W, spec.H))
			}
		}
		sum += best
		n++
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("hrvs wrote no frames to compare in %s", dir)
	}
	return sum / float64(n), n, nil
}

// hrvsPSNRFrames is how many of the PNGs the PSNR pass compares.
const hrvsPSNRFrames = 12

// readPNGYCbCr reads a PNG the dir sink wrote and converts it back to 4:2:0 Y'CbCr.
func readPNGYCbCr(path string) (*image.YCbCr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return toYCbCr420(m), nil
}

// throughRGB gives a source frame the same trip through 8-bit RGB that the dir
// sink's PNGs took: Y'CbCr outside the RGB gamut (the pattern's saturated discs
// and bars) is clipped on the way, and only a reference clipped the same way makes
// the PSNR measure JPEG rather than the clipping.
func throughRGB(src *image.YCbCr) *image.YCbCr {
	r := src.Rect
	rgb := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			yi, ci := src.YOffset(r.Min.X+x, r.Min.Y+y), src.COffset(r.Min.X+x, r.Min.Y+y)
			cr, cg, cb := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
			o := rgb.PixOffset(x, y)
			rgb.Pix[o], rgb.Pix[o+1], rgb.Pix[o+2], rgb.Pix[o+3] = cr, cg, cb, 255
		}
	}
	return toYCbCr420(rgb)
}

// toYCbCr420 converts an RGB picture to 4:2:0 Y'CbCr (BT.601 full range, as
// image/color does both ways), averaging chroma over each 2x2 block.
func toYCbCr420(m image.Image) *image.YCbCr {
	r := m.Bounds()
	out := image.NewYCbCr(image.Rect(0, 0, r.Dx(), r.Dy()), image.YCbCrSubsampleRatio420)
	cb := make([]int, len(out.Cb))
	cr := make([]int, len(out.Cr))
	cn := make([]int, len(out.Cb))
	rgba, _ := m.(*image.RGBA)
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			var c color.NRGBA
			if rgba != nil { // the dir sink's PNGs are opaque RGBA: skip the interface
				o := rgba.PixOffset(r.Min.X+x, r.Min.Y+y)
				c = color.NRGBA{rgba.Pix[o], rgba.Pix[o+1], rgba.Pix[o+2], 255}
			} else {
				c = color.NRGBAModel.Convert(m.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			}
			yy, u, v := color.RGBToYCbCr(c.R, c.G, c.B)
			out.Y[y*out.YStride+x] = yy
			ci := (y/2)*out.CStride + x/2
			cb[ci] += int(u)
			cr[ci] += int(v)
			cn[ci]++
		}
	}
	for i := range cb {
		if cn[i] > 0 {
			out.Cb[i] = uint8((cb[i] + cn[i]/2) / cn[i])
			out.Cr[i] = uint8((cr[i] + cn[i]/2) / cn[i])
		}
	}
	return out
}

// planes packs a 4:2:0 image into I420 bytes without padding.
func planes(img *image.YCbCr) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]byte, 0, frameBytes(w, h))
	cw, ch := (w+1)/2, (h+1)/2
	for y := 0; y < h; y++ {
		out = append(out, img.Y[y*img.YStride:y*img.YStride+w]...)
	}
	for _, p := range [][]byte{img.Cb, img.Cr} {
		for y := 0; y < ch; y++ {
			out = append(out, p[y*img.CStride:y*img.CStride+cw]...)
		}
	}
	return out
}

// psnrI420 compares two I420 pictures of w x h.
// It is net/tile.PSNR's measure (all three planes, chroma weighted by its sample
// count) on packed planes; identical pictures count as 99 dB so a mean stays finite.
func psnrI420(a, b []byte, w, h int) float64 {
	n := min(len(a), len(b), frameBytes(w, h))
	var sum uint64
	for i := 0; i < n; i++ {
		d := int(a[i]) - int(b[i])
		sum += uint64(d * d)
	}
	if sum == 0 || n == 0 {
		return 99
	}
	return min(99, 10*math.Log10(255*255/(float64(sum)/float64(n))))
}
