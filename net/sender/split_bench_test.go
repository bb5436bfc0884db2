package sender

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/tile"
)

// benchRestartClip writes n frames of a 1080p pan over benchPhoto coded by
// libjpeg's cjpeg with args (a restart interval ffmpeg cannot write) as one
// MJPEG file, and returns its path.
func benchRestartClip(b *testing.B, n int, args ...string) string {
	b.Helper()
	dir := b.TempDir()
	frames := filepath.Join(dir, "frame-%03d.ppm")
	if msg, err := exec.Command("ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "30", "-i", benchPhoto,
		"-vf", "crop=1920:1080:n*8:n*4", "-frames:v", fmt.Sprint(n), "-c:v", "ppm", "-f", "image2", frames).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, msg)
	}
	var clip []byte
	for i := 1; i <= n; i++ {
		out, err := exec.Command("cjpeg", append(args, fmt.Sprintf(frames, i))...).Output()
		if err != nil {
			b.Fatalf("cjpeg %v: %v", args, err)
		}
		clip = append(clip, out...)
	}
	path := filepath.Join(dir, "pan.mjpeg")
	if err := os.WriteFile(path, clip, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkMJPEGSplit measures the sender's CPU per 1080p camera frame three
// ways, alternating frame by frame in one run so all see the same load: split
// (the retiler cutting the frame at its restart markers: a byte scan and a
// copy), retile (the coefficient path's one pass, Transcode, with the stream's
// optimal Huffman tables and the change summaries; the stream's first frame
// Decode, AppendTile and the Huffman count) and decode (image/jpeg at
// the source, every 256x128 tile encoded at q75). The figures are the
// process's CPU time per frame, GC included.
//
//	go test -run XXX -bench MJPEGSplit -benchtime 40x ./net/sender/
func BenchmarkMJPEGSplit(b *testing.B) {
	if _, err := os.Stat(benchPhoto); err != nil {
		b.Fatalf("the photo: %v (plasma-workspace-wallpapers)", err)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"pan 4:2:2 webcam layout cjpeg q90 restart 8", []string{"-sample", "2x1", "-restart", "8B", "-quality", "90"}},
		{"pan 4:2:2 webcam layout cjpeg q75 restart 8", []string{"-sample", "2x1", "-restart", "8B", "-quality", "75"}},
		{"pan 4:2:0 cjpeg q90 restart 4", []string{"-sample", "2x2", "-restart", "4B", "-quality", "90"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 8
			path := benchRestartClip(b, n, c.args...)
			open := func(jpeg bool) capture.Source {
				src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: jpeg, Loop: true})
				if err != nil {
					b.Fatal(err)
				}
				return src
			}
			cut, coef, dec := open(true), open(true), open(false)
			defer cut.Close()
			defer coef.Close()
			defer dec.Close()
			splitter := &retiler{threshold: 8, mtu: DefaultMTU, trySplit: true}
			retile := &retiler{threshold: 8, mtu: DefaultMTU}
			var enc tile.FastEncoder
			var payload []byte
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu [3]time.Duration
			var bytes [2]int
			prepare := func(k int, src capture.Source, rt *retiler) {
				c0 := processCPU()
				f, err := src.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if err := rt.prepare(f.JPEG, DefaultTileW, DefaultTileH, 75, 75, time.Now()); err != nil {
					b.Fatal(err)
				}
				tiles := rt.tiles
				switch {
				case rt.cut:
					tiles = rt.cutTiles
				case !rt.coded: // the stream's first frame: the encoders code its tiles
					tiles = tiles[:0]
					for i := range rt.grid.Len() {
						p, err := rt.coef.AppendTile(nil, rt.grid.Rect(i), rt.set.ts)
						if err != nil {
							b.Fatal(err)
						}
						tiles = append(tiles, p)
					}
				}
				f.Release()
				cpu[k] += time.Duration(processCPU() - c0)
				for _, p := range tiles {
					bytes[k] += len(p)
				}
			}
			b.ResetTimer()
			for range b.N {
				prepare(0, cut, splitter)
				prepare(1, coef, retile)
				c0 := processCPU()
				f, err := dec.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				g, err := tile.NewGrid(f.Image.Rect.Dx(), f.Image.Rect.Dy(), DefaultTileW, DefaultTileH, retile.sub)
				if err != nil {
					b.Fatal(err)
				}
				for k := range g.Len() {
					if payload, _, err = enc.AppendTile(payload[:0], f.Image, g.Rect(k), 75); err != nil {
						b.Fatal(err)
					}
				}
				f.Release()
				cpu[2] += time.Duration(processCPU() - c0)
			}
			if !splitter.cut || retile.cut {
				b.Fatalf("split path %v, coefficient path %v", splitter.cut, !retile.cut)
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / 1e6 }
			b.ReportMetric(ms(cpu[0]), "split-cpu-ms/frame")
			b.ReportMetric(ms(cpu[1]), "retile-cpu-ms/frame")
			b.ReportMetric(ms(cpu[2]), "decode-cpu-ms/frame")
			if cpu[0] > 0 {
				b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "retile/split")
				b.ReportMetric(float64(cpu[2])/float64(cpu[0]), "decode/split")
			}
			b.ReportMetric(float64(bytes[0])/float64(b.N), "split-bytes/frame")
			b.ReportMetric(float64(bytes[1])/float64(b.N), "retile-bytes/frame")
		})
	}
}
