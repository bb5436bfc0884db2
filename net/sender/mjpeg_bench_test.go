package sender

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/tile"
)

// benchPhoto is the photograph the benchmark's camera clips pan over.
const benchPhoto = "/usr/share/wallpapers/Path/contents/images/2560x1600.jpg"

// webcamStyle rewrites an MJPEG file's frames in the layout webcams code 4:2:2
// in (Y 2x1, chroma 1x1; ffmpeg writes Y 2x2, chroma 1x2): the same
// coefficients, the same quantisation tables, Huffman tables optimal for each
// frame, so the frames decode to the same pixels.
func webcamStyle(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	var f fastjpeg.CoefFrame
	for len(data) > 0 {
		end := bytes.Index(data, []byte{0xff, 0xd9, 0xff, 0xd8}) + 2
		if end < 2 {
			end = len(data)
		}
		if err := f.Decode(data[:end]); err != nil {
			t.Fatal(err)
		}
		data = data[end:]
		var counts fastjpeg.SymbolCounts
		if err := f.CountTile(&counts, f.Bounds()); err != nil {
			t.Fatal(err)
		}
		ts, err := fastjpeg.NewTableSet(&fastjpeg.Tables{Quant: f.Quant(), Huff: fastjpeg.OptimalHuffman(&counts)})
		if err != nil {
			t.Fatal(err)
		}
		out = fastjpeg.AppendTablesHeader(out, f.Bounds().Dx(), f.Bounds().Dy(), ts, f.Subsampling())
		if out, err = f.AppendTile(out, f.Bounds(), ts); err != nil {
			t.Fatal(err)
		}
		out = fastjpeg.AppendEOI(out)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// benchClip writes an ffmpeg-made 1080p MJPEG photo pan of n frames and returns
// its path.
func benchClip(b testing.TB, pixFmt string, q, slices, n int) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "pan.mjpeg")
	args := []string{"-v", "error", "-y", "-loop", "1", "-framerate", "30", "-i", benchPhoto,
		"-vf", "crop=1920:1080:n*8:n*4", "-frames:v", fmt.Sprint(n), "-c:v", "mjpeg", "-q:v", fmt.Sprint(q), "-pix_fmt", pixFmt}
	if slices > 1 {
		args = append(args, "-threads", fmt.Sprint(slices), "-slices", fmt.Sprint(slices))
	}
	if msg, err := exec.Command("ffmpeg", append(args, "-f", "mjpeg", out)...).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, msg)
	}
	return out
}

// BenchmarkMJPEGSender measures the sender's CPU per frame of a 1080p camera
// clip both ways, alternating frame by frame in one run so both see the same
// load: --mjpeg decode (the source decodes the JPEG with image/jpeg, the
// encoders code every 256x128 tile at q75) and --mjpeg retile (the retiler's
// prepare: one pass from the camera's scan to every tile's, with the stream's
// optimal Huffman tables, and the change summaries). Everything runs on the
// benchmark's thread; the figures are that thread's CPU time (cpu-ms/frame),
// which a busy machine inflates far less than wall time. It also reports the
// tile bytes per frame with the stream's optimal Huffman tables and with the
// Annex K.3 ones (docs/JPEG.md: which the sender uses and why).
//
//	go test -run XXX -bench MJPEGSender -benchtime 40x ./net/sender/
func BenchmarkMJPEGSender(b *testing.B) {
	if _, err := os.Stat(benchPhoto); err != nil {
		b.Fatalf("the photo: %v (plasma-workspace-wallpapers)", err)
	}
	for _, c := range []struct {
		name      string
		pixFmt    string
		q, slices int
		webcam    bool // 4:2:2 rewritten in the webcams' layout
	}{
		{"pan 4:2:2 webcam layout q3", "yuvj422p", 3, 0, true},
		{"pan 4:2:2 webcam layout q10", "yuvj422p", 10, 0, true},
		{"pan 4:2:2 ffmpeg layout q3", "yuvj422p", 3, 0, false},
		{"pan 4:2:0 q3", "yuvj420p", 3, 0, false},
		{"pan 4:2:0 q10", "yuvj420p", 10, 0, false},
		{"pan 4:2:0 q3 DRI", "yuvj420p", 3, 4, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 8
			path := benchClip(b, c.pixFmt, c.q, c.slices, n)
			if c.webcam {
				webcamStyle(b, path)
			}
			open := func(jpeg bool) capture.Source {
				src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: jpeg, Loop: true})
				if err != nil {
					b.Fatal(err)
				}
				return src
			}
			pass, dec := open(true), open(false)
			defer pass.Close()
			defer dec.Close()
			rt := &retiler{threshold: 8, mtu: DefaultMTU}
			var enc tile.FastEncoder
			var payload []byte
			var std fastjpeg.CoefFrame
			stdTables := fastjpeg.StandardTables(75)
			stdSet, _ := fastjpeg.NewTableSet(&stdTables)
			var stdTiles [][]byte
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu, wall [2]time.Duration
			var optBytes, stdBytes int
			b.ResetTimer()
			for i := range b.N {
				// retile
				t0, c0 := time.Now(), processCPU()
				f, err := pass.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if err := rt.prepare(f.JPEG, DefaultTileW, DefaultTileH, 75, 75, t0); err != nil {
					b.Fatal(err)
				}
				cpu[0] += time.Duration(processCPU() - c0)
				wall[0] += time.Since(t0)
				if i < n { // bytes: the stream's tables against Annex K.3 (outside the timing)
					for _, p := range rt.tiles {
						optBytes += len(p)
					}
					if !rt.coded {
						for k := range rt.grid.Len() {
							p, _ := rt.coef.AppendTile(nil, rt.grid.Rect(k), rt.set.ts)
							optBytes += len(p)
						}
					}
					if stdTiles, err = std.Transcode(f.JPEG, DefaultTileW, DefaultTileH, stdSet, stdTiles); err != nil {
						b.Fatal(err)
					}
					for _, p := range stdTiles {
						stdBytes += len(p)
					}
				}
				f.Release()
				// decode
				t0, c0 = time.Now(), processCPU()
				f, err = dec.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				g, err := tile.NewGrid(f.Image.Rect.Dx(), f.Image.Rect.Dy(), DefaultTileW, DefaultTileH, rt.sub)
				if err != nil {
					b.Fatal(err)
				}
				for k := range g.Len() {
					if payload, _, err = enc.AppendTile(payload[:0], f.Image, g.Rect(k), 75); err != nil {
						b.Fatal(err)
					}
				}
				f.Release()
				cpu[1] += time.Duration(processCPU() - c0)
				wall[1] += time.Since(t0)
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / 1e6 }
			b.ReportMetric(ms(cpu[0]), "retile-cpu-ms/frame")
			b.ReportMetric(ms(cpu[1]), "decode-cpu-ms/frame")
			b.ReportMetric(ms(wall[0]), "retile-ms/frame")
			b.ReportMetric(ms(wall[1]), "decode-ms/frame")
			if cpu[0] > 0 {
				b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-ratio")
			}
			frames := min(b.N, n)
			b.ReportMetric(float64(optBytes)/float64(frames), "optimal-bytes/frame")
			b.ReportMetric(float64(stdBytes)/float64(frames), "annexK3-bytes/frame")
		})
	}
}
