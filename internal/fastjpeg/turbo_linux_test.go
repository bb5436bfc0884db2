//go:build linux

package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAgainstTurbo times 1080p 4:2:0 encode and decode of the photograph with
// the generic code, with the SIMD kernels and with libjpeg-turbo's tjbench (-yuv:
// planes to JPEG and back, the same work), in alternating rounds (one per
// iteration: -benchtime 9x gives nine), and reports the medians in ms per frame:
// wall time for all three, the thread's CPU time for ours, and for tjbench its wall
// time scaled by the share of a core it had (see tjbench). tjbench comes from
// libjpeg-turbo-progs (build.sh's TEST_PACKAGES).
func BenchmarkAgainstTurbo(b *testing.B) {
	const w, h, frames = 1920, 1080, 4
	rgba := photoRGBA(b, w, h)
	img := toYCbCr(rgba, image.YCbCrSubsampleRatio420)
	ppm := filepath.Join(b.TempDir(), "photo.ppm")
	var pix bytes.Buffer
	fmt.Fprintf(&pix, "P6\n%d %d\n255\n", w, h)
	for i := 0; i < len(rgba.Pix); i += 4 {
		pix.Write(rgba.Pix[i : i+3])
	}
	if err := os.WriteFile(ppm, pix.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	var e Encoder
	var d Decoder
	scan, _ := e.AppendScan(nil, img, img.Rect, benchQuality)
	dst := image.NewYCbCr(img.Rect, image.YCbCrSubsampleRatio420)
	figures := map[string][]float64{}
	// timed runs f frames times and records its wall and thread CPU ms per frame.
	timed := func(name string, simd bool, f func()) {
		withSIMD(simd, func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0, c0 := time.Now(), rusageThread()
			for range frames {
				f()
			}
			figures[name+"-ms"] = append(figures[name+"-ms"], float64(time.Since(t0).Nanoseconds())/1e6/frames)
			figures[name+"-cpu-ms"] = append(figures[name+"-cpu-ms"], float64(rusageThread()-c0)/1e6/frames)
		})
	}
	for b.Loop() {
		for _, simd := range []bool{false, true} {
			kind := map[bool]string{false: "generic", true: "simd"}[simd]
			timed("enc-"+kind, simd, func() { scan, _ = e.AppendScan(scan[:0], img, img.Rect, benchQuality) })
			timed("dec-"+kind, simd, func() {
				if err := d.DecodeScan(dst, dst.Rect, benchQuality, S420, scan); err != nil {
					b.Fatal(err)
				}
			})
		}
		enc, dec, share, err := tjbench(ppm, w*h)
		if err != nil {
			b.Fatal(err)
		}
		figures["enc-turbo-ms"] = append(figures["enc-turbo-ms"], enc)
		figures["dec-turbo-ms"] = append(figures["dec-turbo-ms"], dec)
		figures["enc-turbo-cpu-ms"] = append(figures["enc-turbo-cpu-ms"], enc*share)
		figures["dec-turbo-cpu-ms"] = append(figures["dec-turbo-cpu-ms"], dec*share)
	}
	for name, v := range figures {
		slices.Sort(v)
		b.ReportMetric(v[len(v)/2], name)
	}
}

// tjbench runs libjpeg-turbo's benchmark on a PPM file at benchQuality, 4:2:0,
// planar (-yuv), and returns its compress and decompress times in ms per frame of
// pixels pixels, from the Comp Perf and Decomp Perf columns (megapixels/s of wall
// time), and the share of a core the process had while it ran (its CPU time over
// its wall time), by which a wall time scales to an estimate of CPU time: tjbench
// reports no CPU time of its own, and on a loaded machine its wall time counts
// the time other processes held the core.
func tjbench(ppm string, pixels int) (enc, dec, share float64, err error) {
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before); err != nil {
		return 0, 0, 0, err
	}
	t0 := time.Now()
	out, err := exec.Command("tjbench", ppm, strconv.Itoa(benchQuality), "-subsamp", "420", "-yuv",
		"-benchtime", "0.5", "-warmup", "0.1", "-quiet", "-nowrite").CombinedOutput()
	wall := time.Since(t0)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("tjbench (apt-get install libjpeg-turbo-progs): %w: %s", err, out)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after); err != nil {
		return 0, 0, 0, err
	}
	cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	share = min(float64(cpu)/float64(wall.Nanoseconds()), 1)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	// BGR (TD) 4:2:0 75 1920 1080 EncodePerf CompPerf Ratio DecompPerf DecodePerf
	if len(f) != 11 {
		return 0, 0, 0, fmt.Errorf("tjbench output %q: want 11 columns", lines[len(lines)-1])
	}
	comp, err1 := strconv.ParseFloat(f[7], 64)
	decomp, err2 := strconv.ParseFloat(f[9], 64)
	if err1 != nil || err2 != nil || comp <= 0 || decomp <= 0 {
		return 0, 0, 0, fmt.Errorf("tjbench output %q: bad figures", lines[len(lines)-1])
	}
	mp := float64(pixels) / 1e6
	return mp / comp * 1e3, mp / decomp * 1e3, share, nil
}
