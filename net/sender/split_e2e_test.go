package sender_test

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// restartClip writes n frames of a 1080p photo pan (8 pixels right and 4 down a
// frame) as an MJPEG file coded by libjpeg's cjpeg with args, such as "-sample
// 2x1 -restart 8B": a webcam's 4:2:2 layout with a restart every 8 MCUs, which
// ffmpeg's encoder cannot write.
func restartClip(t testing.TB, dir string, n int, args ...string) string {
	t.Helper()
	frames := filepath.Join(dir, "frame-%03d.ppm")
	if b, err := exec.Command("ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "30", "-i", panPhoto,
		"-vf", "crop=1920:1080:n*8:n*4", "-frames:v", fmt.Sprint(n), "-c:v", "ppm", "-f", "image2", frames).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	var clip []byte
	for i := 1; i <= n; i++ {
		out, err := exec.Command("cjpeg", append(args, fmt.Sprintf(frames, i))...).Output()
		if err != nil {
			t.Fatalf("cjpeg %v (libjpeg-turbo-progs): %v", args, err)
		}
		clip = append(clip, out...)
	}
	path := filepath.Join(dir, "pan.mjpeg")
	if err := os.WriteFile(path, clip, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSplitMJPEGArrivesBitExact sends 1080p clips with restart markers through
// the loopback rig. Where the restart interval lines up with the 256x128 tiles
// every frame is cut at its markers (codec 2) and shown as the camera's
// coefficients decoded, bit for bit; where it does not, the frames take the
// coefficient path, counted, and arrive bit-exact as well.
func TestSplitMJPEGArrivesBitExact(t *testing.T) {
	if _, err := os.Stat(panPhoto); err != nil {
		t.Fatalf("the pan photo: %v (build.sh installs plasma-workspace-wallpapers)", err)
	}
	const frames = 4
	for _, c := range []struct {
		name      string
		args      []string
		mode      string
		threshold int
		split     bool // every frame split, or every frame fell back to coefficients
	}{
		{"a webcam 4:2:2 pan with a restart every 8 MCUs, --mjpeg split",
			[]string{"-sample", "2x1", "-restart", "8B", "-quality", "92"}, sender.MJPEGSplit, 0, true},
		{"a 4:2:0 pan (partial last MCU row) with a restart every 4 MCUs, --mjpeg split",
			[]string{"-sample", "2x2", "-restart", "4B", "-quality", "85"}, sender.MJPEGSplit, 0, true},
		{"a webcam 4:2:2 pan with a restart every 8 MCUs, --mjpeg retile with the change test off",
			[]string{"-sample", "2x1", "-restart", "8B", "-quality", "80"}, sender.MJPEGRetile, -1, true},
		{"a webcam 4:2:2 pan with a restart every 16 MCUs (not a divisor of 1920 px), --mjpeg split",
			[]string{"-sample", "2x1", "-restart", "16B", "-quality", "92"}, sender.MJPEGSplit, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := restartClip(t, t.TempDir(), frames, c.args...)
			exact, restart := exactFrames(t, path)
			if len(exact) != frames || restart == 0 {
				t.Fatalf("%d frames, restart interval %d", len(exact), restart)
			}
			src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: true})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			r := loopback.Start(t, src, loopback.Config{
				// As TestRetiledMJPEGArrivesBitExact: fidelity, not latency.
				Receiver: receiver.Config{Sockets: 1, Deadline: 10 * time.Second},
				Sender: sender.Config{MJPEG: c.mode, ChangeThreshold: c.threshold, FrameSpan: -1, Workers: 2, Sockets: 1,
					TileW: 256, TileH: 128},
				Reference: func(seq uint64) *image.YCbCr { return exact[min(int(seq), len(exact)-1)] },
			})
			if err := r.Send(context.Background(), frames); err != nil {
				t.Fatal(err)
			}
			r.Settle()
			testrig.Eventually(t, testrig.Patience, func() error {
				if sh := r.Shown(); len(sh) == 0 || sh[len(sh)-1].Seq != frames-1 {
					return fmt.Errorf("%d frames shown, not yet the last", len(sh))
				}
				return nil
			})
			st, rs := r.TX.Stats(), r.RX.Stats()
			for _, s := range r.Shown() {
				if !s.Complete || !math.IsInf(s.PSNR, 1) {
					t.Fatalf("frame %d (complete %v) is %.1f dB from the camera's coefficients decoded: not bit-exact", s.Seq, s.Complete, s.PSNR)
				}
			}
			wantSplit, wantFellBack := uint64(frames), uint64(0)
			if !c.split {
				wantSplit, wantFellBack = 0, frames
			}
			t.Logf("sender: mjpeg %s, %d frames re-tiled, %d split, %d split fell back, %d bytes sent",
				st.MJPEG, st.FramesRetiled, st.FramesSplit, st.FramesSplitFellBack, st.BytesSent)
			if st.MJPEG != c.mode || st.FramesRetiled != frames || st.FramesSplit != wantSplit || st.FramesSplitFellBack != wantFellBack ||
				st.FramesFellBack != 0 {
				t.Fatalf("sender: mjpeg %q, %d re-tiled, %d split, %d split fell back, %d fell back to decode",
					st.MJPEG, st.FramesRetiled, st.FramesSplit, st.FramesSplitFellBack, st.FramesFellBack)
			}
			if rs.FramesComplete != frames || rs.DecodeErrors != 0 || rs.TablesMissing != 0 {
				t.Fatalf("receiver: %d frames complete, %d decode errors, %d tiles without tables", rs.FramesComplete, rs.DecodeErrors, rs.TablesMissing)
			}
		})
	}
}
