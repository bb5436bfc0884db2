package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// feed records n frames of w x h captured at fps, waiting for each to be written so
// none is skipped.
func feed(t *testing.T, r *Recorder, n, w, h int, fps float64) {
	t.Helper()
	t0 := time.Unix(1700000000, 0)
	for i := 0; i < n; i++ {
		f := testpic.Frame(w, h, image.YCbCrSubsampleRatio420, uint32(i))
		f.Captured = t0.Add(time.Duration(float64(i) / fps * float64(time.Second)))
		want := r.Written() + 1
		if err := r.Show(f); err != nil {
			t.Fatal(err)
		}
		f.Release()
		testrig.Eventually(t, testrig.Patience, func() error {
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if r.Written() < want {
				return fmt.Errorf("frame %d not written: %d written", i, r.Written())
			}
			return nil
		})
	}
}

type probe struct {
	Streams []struct {
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		RFrameRate   string `json:"r_frame_rate"`
		NbReadFrames string `json:"nb_read_frames"`
	} `json:"streams"`
}

func ffprobe(t *testing.T, path string) (codec string, w, h, frames int, rate string) {
	t.Helper()
	testpic.NeedTool(t, "ffprobe")
	// The JSON is on stdout alone: ffprobe warns on stderr about a file cut short
	// ("overread 8"), and that warning is not part of the answer.
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,r_frame_rate,nb_read_frames", "-of", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, stderr.Bytes())
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe output %s (stderr %q): %v", out, stderr.Bytes(), err)
	}
	s := p.Streams[0]
	frames, _ = strconv.Atoi(s.NbReadFrames)
	return s.CodecName, s.Width, s.Height, frames, s.RFrameRate
}

// decodeAll decodes every frame with ffmpeg and returns how many it decoded; any
// decoder complaint fails the test.
func decodeAll(t *testing.T, path string) int {
	t.Helper()
	testpic.NeedTool(t, "ffmpeg")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", path, "-f", "framemd5", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg decoding %s: %v\n%s", path, err, stderr.String())
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

func TestRecordingPlaysWithTheRightSizeRateAndFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.avi")
	r, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, 60, 320, 240, 25)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	codec, w, h, n, rate := ffprobe(t, path)
	if codec != "mjpeg" || w != 320 || h != 240 || n != 60 || rate != "25/1" {
		t.Fatalf("ffprobe: %s %dx%d %d frames at %s, want mjpeg 320x240 60 frames at 25/1", codec, w, h, n, rate)
	}
	if got := decodeAll(t, path); got != 60 {
		t.Fatalf("ffmpeg decoded %d frames, want 60", got)
	}
	// The picture survives: frame 10 as ffmpeg decodes it against what was sent.
	png10 := filepath.Join(t.TempDir(), "f10.png")
	if out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vf", "select=eq(n\\,10)", "-frames:v", "1", png10).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	fh, err := os.Open(png10)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	got, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	if p := testpic.PSNR(testpic.RGBA(testpic.Picture(320, 240, image.YCbCrSubsampleRatio420, 10)), got); p < 30 {
		t.Fatalf("frame 10 PSNR %.1f dB, want >= 30", p)
	}
}

func TestALongRecordingSpansSeveralRIFFSegments(t *testing.T) {
	defer func(l int64) { segmentLimit = l }(segmentLimit)
	segmentLimit = 256 << 10
	path := filepath.Join(t.TempDir(), "long.avi")
	r, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, 150, 320, 240, 30)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r.avi.seg < 3 {
		t.Fatalf("only %d segments: the test does not cross a segment", r.avi.seg)
	}
	_, w, h, n, rate := ffprobe(t, path)
	if w != 320 || h != 240 || n != 150 || rate != "30/1" {
		t.Fatalf("ffprobe: %dx%d %d frames at %s, want 320x240 150 frames at 30/1", w, h, n, rate)
	}
	if got := decodeAll(t, path); got != 150 {
		t.Fatalf("ffmpeg decoded %d frames, want 150", got)
	}
}

// TestARecordingCutShortStillPlays copies the file while the recorder is still writing,
// as a kill -9 would leave it, and cuts it in the middle of a frame.
func TestARecordingCutShortStillPlays(t *testing.T) {
	for _, c := range []struct {
		name string
		segs int64
	}{{"in the first segment", 1 << 30}, {"in a later segment", 256 << 10}} {
		t.Run(c.name, func(t *testing.T) {
			defer func(l int64) { segmentLimit = l }(segmentLimit)
			segmentLimit = c.segs
			dir := t.TempDir()
			path := filepath.Join(dir, "rec.avi")
			r, err := Create(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			feed(t, r, 100, 320, 240, 30)
			time.Sleep(syncEvery + 100*time.Millisecond)
			feed(t, r, 1, 320, 240, 30) // brings the header up to date
			feed(t, r, 20, 320, 240, 30)
			whole, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			last := r.avi.segFrames[len(r.avi.segFrames)-1]
			cut := filepath.Join(dir, "cut.avi")
			// Half of the last frame is lost: 120 whole frames remain.
			os.WriteFile(cut, whole[:last.off+int64(last.size)/2], 0o644)
			_, _, _, n, _ := ffprobe(t, cut)
			if n != 120 {
				t.Fatalf("ffprobe counts %d frames in the cut file, want the 120 whole ones", n)
			}
			if got := decodeAll(t, cut); got != 120 {
				t.Fatalf("ffmpeg decoded %d frames of the cut file, want 120", got)
			}
			fixed := filepath.Join(dir, "fixed.avi")
			if out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", cut, "-c", "copy", fixed).CombinedOutput(); err != nil {
				t.Fatalf("repairing: %v\n%s", err, out)
			}
			if _, _, _, n, _ := ffprobe(t, fixed); n != 120 {
				t.Fatalf("the repaired file has %d frames, want 120", n)
			}
		})
	}
}

func TestShowNeverWaitsForTheEncoder(t *testing.T) {
	img := testpic.Picture(1280, 720, image.YCbCrSubsampleRatio420, 0)
	const n = 30
	t.Run("with the encoder stalled every Show returns and the frames past the queue are skipped", func(t *testing.T) {
		// A recorder whose encoder goroutine never runs: the queue fills and stays full,
		// so a Show that waited for the encoder would never return.
		r := &Recorder{path: "stalled.avi", queue: make(chan queued, QueueLen)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < n; i++ {
				f := receiver.NewFrame(img, uint32(i))
				r.Show(f)
				f.Release()
			}
		}()
		testrig.Eventually(t, testrig.Patience, func() error {
			select {
			case <-done:
				return nil
			default:
				return fmt.Errorf("Show blocked with %d frames queued, %d skipped", len(r.queue), r.Skipped())
			}
		})
		if r.Skipped() != n-QueueLen || len(r.queue) != QueueLen {
			t.Fatalf("skipped %d with %d queued, want %d skipped and the queue of %d full", r.Skipped(), len(r.queue), n-QueueLen, QueueLen)
		}
		for len(r.queue) > 0 {
			(<-r.queue).f.Release()
		}
	})
	t.Run("with a real encoder every frame is either written or counted as skipped", func(t *testing.T) {
		r, err := Create(filepath.Join(t.TempDir(), "rec.avi"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			f := receiver.NewFrame(img, uint32(i))
			r.Show(f)
			f.Release()
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if r.Written()+r.Skipped() != n || r.Written() == 0 {
			t.Fatalf("written %d skipped %d of %d", r.Written(), r.Skipped(), n)
		}
	})
}

func TestFrameRates(t *testing.T) {
	cases := []struct {
		fps         float64
		rate, scale uint32
	}{{29.97, 30000, 1001}, {30.05, 30, 1}, {24.0, 24, 1}, {23.98, 24000, 1001}, {12.5, 12500, 1000}, {59.9, 60000, 1001}}
	for _, c := range cases {
		if r, s := fraction(c.fps); r != c.rate || s != c.scale {
			t.Errorf("fraction(%v) = %d/%d, want %d/%d", c.fps, r, s, c.rate, c.scale)
		}
	}
}

func TestAnEmptyRecordingIsClosedCleanly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.avi")
	r, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
