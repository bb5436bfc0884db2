package sender_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/sender"
)

// panPhoto is the wallpaper the camera-style clips pan over (Debian's
// plasma-workspace-wallpapers, as internal/lab/photo uses).
const panPhoto = "/usr/share/wallpapers/Path/contents/images/2560x1600.jpg"

// mjpegClip is a 1080p camera-style MJPEG clip: ffmpeg's mjpeg encoder over a
// photograph panning 8 pixels right and 4 down a frame.
type mjpegClip struct {
	name   string
	pixFmt string // yuvj422p (most webcams) or yuvj420p
	q      int    // -q:v
	slices int    // > 1: restart markers (DRI) between slices
	webcam bool   // 4:2:2 rewritten in the webcams' layout (Y 2x1, chroma 1x1)
	flat   int    // frames of a flat grey card before the pan: the stream's Huffman tables are rebuilt at the cut
}

var mjpegClips = []mjpegClip{
	{"a 4:2:2 photo pan at -q:v 3", "yuvj422p", 3, 0, false, 0},
	{"a 4:2:2 photo pan at -q:v 10 in the webcams' layout", "yuvj422p", 10, 0, true, 0},
	{"a 4:2:0 photo pan at -q:v 10", "yuvj420p", 10, 0, false, 0},
	{"a 4:2:0 photo pan at -q:v 3 with restart markers", "yuvj420p", 3, 4, false, 0},
	{"flat frames cut to a 4:2:2 photo pan at -q:v 3 (Huffman tables rebuilt)", "yuvj422p", 3, 0, false, 2},
}

// make writes n frames of the clip to a file in dir and returns its path.
func (c mjpegClip) make(t testing.TB, dir string, n int) string {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("pan-%s-q%d-s%d-%v-f%d.mjpeg", c.pixFmt, c.q, c.slices, c.webcam, c.flat))
	var flat []byte
	if c.flat > 0 {
		args := []string{"-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x808070:s=1920x1080:r=30",
			"-frames:v", fmt.Sprint(c.flat), "-c:v", "mjpeg", "-q:v", fmt.Sprint(c.q), "-pix_fmt", c.pixFmt, "-f", "mjpeg", "-"}
		var err error
		if flat, err = exec.Command("ffmpeg", args...).Output(); err != nil {
			t.Fatalf("ffmpeg: %v", err)
		}
		n -= c.flat
	}
	args := []string{"-v", "error", "-y", "-loop", "1", "-framerate", "30", "-i", panPhoto,
		"-vf", "crop=1920:1080:n*8:n*4", "-frames:v", fmt.Sprint(n), "-c:v", "mjpeg", "-q:v", fmt.Sprint(c.q),
		"-pix_fmt", c.pixFmt}
	if c.slices > 1 {
		args = append(args, "-threads", fmt.Sprint(c.slices), "-slices", fmt.Sprint(c.slices))
	}
	if b, err := exec.Command("ffmpeg", append(args, "-f", "mjpeg", out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	if flat != nil {
		pan, err := os.ReadFile(out)
		if err == nil {
			err = os.WriteFile(out, append(flat, pan...), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if c.webcam {
		sender.WebcamStyle(t, out)
	}
	return out
}

// clipFrames decodes every frame of an MJPEG file twice: with image/jpeg (the
// clip's own decode, what any player shows) and with fastjpeg from the camera's
// coefficients and tables (what a bit-exact re-tiling must show to the last bit).
func clipFrames(t testing.TB, path string) (std, exact []*image.YCbCr, restart int) {
	t.Helper()
	return decodeClip(t, path, true)
}

// exactFrames is clipFrames without the image/jpeg decode, for the tests that
// compare with the camera's coefficients only: a 1080p image/jpeg decode takes
// a second or so under the race detector, and they would throw it away.
func exactFrames(t testing.TB, path string) (exact []*image.YCbCr, restart int) {
	t.Helper()
	_, exact, restart = decodeClip(t, path, false)
	return exact, restart
}

// decodeClip is clipFrames, with the image/jpeg decode only if withStd.
func decodeClip(t testing.TB, path string, withStd bool) (std, exact []*image.YCbCr, restart int) {
	t.Helper()
	src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var cf fastjpeg.CoefFrame
	var dec fastjpeg.Decoder
	for {
		f, err := src.Next(context.Background())
		if err == capture.ErrEnd {
			return std, exact, restart
		}
		if err != nil {
			t.Fatal(err)
		}
		if withStd {
			m, err := jpeg.Decode(bytes.NewReader(f.JPEG))
			if err != nil {
				t.Fatal(err)
			}
			std = append(std, m.(*image.YCbCr))
		}
		if err := cf.Decode(f.JPEG); err != nil {
			t.Fatal(err)
		}
		tables := fastjpeg.Tables{Quant: cf.Quant(), Huff: fastjpeg.StandardHuffman()}
		ts, err := fastjpeg.NewTableSet(&tables)
		if err != nil {
			t.Fatal(err)
		}
		scan, err := cf.AppendTile(nil, cf.Bounds(), ts)
		if err != nil {
			t.Fatal(err)
		}
		img := image.NewYCbCr(cf.Bounds(), cf.Subsampling().Ratio())
		if err := dec.DecodeTile(img, cf.Bounds(), ts, cf.Subsampling(), scan); err != nil {
			t.Fatal(err)
		}
		exact = append(exact, img)
		restart = cf.Restart()
		f.Release()
	}
}

// TestRetiledMJPEGArrivesBitExact sends camera-style MJPEG clips through the
// loopback rig with --mjpeg retile and with --mjpeg decode. Re-tiled, every frame
// shown is the camera's coefficients decoded, bit for bit (so 50 dB and more
// against the clip's own image/jpeg decode); decoded and encoded again at q75 it
// is a second generation of loss.
func TestRetiledMJPEGArrivesBitExact(t *testing.T) {
	if _, err := os.Stat(panPhoto); err != nil {
		t.Fatalf("the pan photo: %v (build.sh installs plasma-workspace-wallpapers)", err)
	}
	const frames = 4
	dir := t.TempDir()
	for _, c := range mjpegClips {
		path := c.make(t, dir, frames)
		std, exact, restart := clipFrames(t, path)
		if len(std) != frames || (restart > 0) != (c.slices > 1) {
			t.Fatalf("%s: %d frames, restart interval %d", c.name, len(std), restart)
		}
		for _, mode := range []string{sender.MJPEGRetile, sender.MJPEGDecode} {
			t.Run(c.name+" "+mode, func(t *testing.T) {
				src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: mode == sender.MJPEGRetile})
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				refs := std
				if mode == sender.MJPEGRetile {
					refs = exact
				}
				r := loopback.Start(t, src, loopback.Config{
					// Fidelity, not latency: a frame may take seconds to encode under the
					// race detector with both cores busy, and must not be given up for it;
					// one socket each way, so a starved reader cannot reorder a frame
					// behind the next (which would close it).
					Receiver:  receiver.Config{Sockets: 1, Deadline: 10 * time.Second},
					Sender:    sender.Config{MJPEG: mode, ChangeThreshold: -1, FrameSpan: -1, Workers: 2, Sockets: 1},
					Reference: func(seq uint64) *image.YCbCr { return refs[min(int(seq), len(refs)-1)] },
				})
				if err := r.Send(context.Background(), frames); err != nil {
					t.Fatal(err)
				}
				r.Settle()
				// The display shows the newest frame, skipping any it was too slow for:
				// wait for the last.
				testrig.Eventually(t, testrig.Patience, func() error {
					if sh := r.Shown(); len(sh) == 0 || sh[len(sh)-1].Seq != frames-1 {
						return fmt.Errorf("%d frames shown, not yet the last", len(sh))
					}
					return nil
				})
				shown := r.Shown()
				st, rs := r.TX.Stats(), r.RX.Stats()
				if rs.FramesReceived != frames || rs.FramesComplete != frames {
					t.Fatalf("%d frames received, %d complete, want %d: %+v", rs.FramesReceived, rs.FramesComplete, frames, rs)
				}
				for _, s := range shown {
					if !s.Complete {
						t.Fatalf("frame %d incomplete", s.Seq)
					}
					switch mode {
					case sender.MJPEGRetile:
						if !math.IsInf(s.PSNR, 1) {
							t.Fatalf("frame %d is %.1f dB from the camera's coefficients decoded: not bit-exact", s.Seq, s.PSNR)
						}
						p := psnrYCbCr(exact[s.Seq], std[s.Seq])
						t.Logf("frame %d re-tiled: bit-exact, %.1f dB against the clip's image/jpeg decode", s.Seq, p)
						if p < 50 {
							t.Fatalf("frame %d: %.1f dB against the clip's own decode, want 50", s.Seq, p)
						}
					case sender.MJPEGDecode:
						t.Logf("frame %d decoded and encoded again: %.1f dB", s.Seq, s.PSNR)
						if s.PSNR < 30 || s.PSNR >= 50 && int(s.Seq) >= c.flat { // a flat card survives a second generation
							t.Fatalf("frame %d decoded and encoded again: %.1f dB, want a second generation's 30-50", s.Seq, s.PSNR)
						}
					}
				}
				wantRetiled := uint64(0)
				if mode == sender.MJPEGRetile {
					wantRetiled = frames
				}
				if st.MJPEG != mode || st.FramesRetiled != wantRetiled || st.FramesFellBack != 0 || rs.TablesMissing != 0 {
					t.Fatalf("stats: mjpeg %q retiled %d fell back %d; receiver tables missing %d",
						st.MJPEG, st.FramesRetiled, st.FramesFellBack, rs.TablesMissing)
				}
				// The receiver names what the tiles carry: the camera's tables (codec 1), no quality number.
				if wantCodec := map[bool]int{true: 1, false: 0}[mode == sender.MJPEGRetile]; rs.Codec != wantCodec || (wantCodec == 1) != (rs.Quality == 0) {
					t.Fatalf("receiver stats: codec %d quality %d, want codec %d", rs.Codec, rs.Quality, wantCodec)
				}
			})
		}
	}
}

// psnrYCbCr is tile.PSNR's figure, here to compare two references.
func psnrYCbCr(a, b *image.YCbCr) float64 {
	var sum float64
	var n int
	for _, p := range [3][2][]uint8{{a.Y, b.Y}, {a.Cb, b.Cb}, {a.Cr, b.Cr}} {
		for i := range p[0] {
			d := float64(p[0][i]) - float64(p[1][i])
			sum += d * d
		}
		n += len(p[0])
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

// TestRetiledStillPictureHealsUnderLoss: with a fifth of the datagrams lost, table
// datagrams among them, a camera's still picture re-tiled heals to the camera's
// coefficients bit for bit: repair by acknowledgement resends lost tiles, and the
// repeated table sets reach the receiver.
func TestRetiledStillPictureHealsUnderLoss(t *testing.T) {
	path := filepath.Join(t.TempDir(), "still.mjpeg")
	args := []string{"-v", "error", "-y", "-i", panPhoto, "-vf", "crop=640:384:900:500", "-frames:v", "1",
		"-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj422p", "-f", "mjpeg", path}
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	exact, _ := exactFrames(t, path)
	src, err := capture.Open(context.Background(), path, capture.Options{FPS: 30, JPEG: true, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r := loopback.Start(t, src, loopback.Config{
		Receiver:  receiver.Config{Sockets: 1, Deadline: time.Second},
		Sender:    sender.Config{Refresh: time.Hour, Sockets: 1},
		Relay:     &relay.Config{Loss: 0.2, Seed: 3},
		Reference: func(uint64) *image.YCbCr { return exact[0] },
	})
	r.SendUntil(t, func() error {
		fr, st := r.Shown(), r.TX.Stats()
		if len(fr) < 10 || st.TilesLost == 0 || st.TilesRepaired == 0 || !math.IsInf(fr[len(fr)-1].PSNR, 1) {
			last := 0.0
			if len(fr) > 0 {
				last = fr[len(fr)-1].PSNR
			}
			return fmt.Errorf("%d frames shown, the last %.1f dB from the camera's: %d tiles lost, %d repaired", len(fr), last, st.TilesLost, st.TilesRepaired)
		}
		return nil
	})
	st, rs := r.TX.Stats(), r.RX.Stats()
	t.Logf("sender: %d frames re-tiled, %d tiles lost, %d repaired; receiver: %d tiles waited in vain for their table set",
		st.FramesRetiled, st.TilesLost, st.TilesRepaired, rs.TablesMissing)
	if st.FramesFellBack != 0 || st.FramesRetiled == 0 {
		t.Fatalf("%d frames re-tiled, %d fell back", st.FramesRetiled, st.FramesFellBack)
	}
}

// TestRetiledFramesTravelSealed: on a keyed stream the table datagrams are sealed
// like every other, and the receiver, which opens them, decodes the camera's
// tiles bit for bit.
func TestRetiledFramesTravelSealed(t *testing.T) {
	path := mjpegClips[1].make(t, t.TempDir(), 3)
	exact, _ := exactFrames(t, path)
	src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	r := loopback.Start(t, src, loopback.Config{
		Receiver:  receiver.Config{Sockets: 1, Deadline: 10 * time.Second, Key: &key},
		Sender:    sender.Config{ChangeThreshold: -1, Sockets: 1, Key: &key},
		Reference: func(seq uint64) *image.YCbCr { return exact[min(int(seq), len(exact)-1)] },
	})
	if err := r.Send(context.Background(), len(exact)); err != nil {
		t.Fatal(err)
	}
	r.Settle()
	testrig.Eventually(t, testrig.Patience, func() error {
		if sh := r.Shown(); len(sh) == 0 || sh[len(sh)-1].Seq != uint64(len(exact)-1) {
			return fmt.Errorf("%d frames shown, not yet the last", len(sh))
		}
		return nil
	})
	for _, s := range r.Shown() {
		if !math.IsInf(s.PSNR, 1) {
			t.Fatalf("frame %d is %.1f dB from the camera's coefficients", s.Seq, s.PSNR)
		}
	}
	if rs := r.RX.Stats(); !rs.Keyed || rs.DatagramsUnauthenticated != 0 || rs.TablesMissing != 0 || rs.FramesComplete != uint64(len(exact)) {
		t.Fatalf("receiver: keyed %v, %d unauthenticated, %d tiles without tables, %d frames complete",
			rs.Keyed, rs.DatagramsUnauthenticated, rs.TablesMissing, rs.FramesComplete)
	}
}
