package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// t0 is the capture time of the first frame fed to a recorder.
var t0 = time.Unix(1700000000, 0)

// feed records n frames of w x h of stream 0 at fps; see feedStream.
func feed(t *testing.T, r *Recorder, n, w, h int, fps float64) {
	t.Helper()
	feedStream(t, r, 0, n, w, h, fps)
}

// feedStream shows n frames of w x h of the given stream, captured at fps on one clock
// across calls, and waits for the recorder to deal with each so none is skipped.
func feedStream(t *testing.T, r *Recorder, stream uint32, n, w, h int, fps float64) {
	t.Helper()
	for i := 0; i < n; i++ {
		done := r.handled.Load()
		f := testpic.Frame(w, h, image.YCbCrSubsampleRatio420, uint32(done))
		f.Stream = stream
		f.Captured = t0.Add(time.Duration(float64(done) / fps * float64(time.Second)))
		showAndWait(t, r, f)
	}
}

// showAndWait shows f, releases it and waits for the recorder to deal with it.
func showAndWait(t *testing.T, r *Recorder, f *receiver.Frame) {
	t.Helper()
	done := r.handled.Load()
	if err := r.Show(f); err != nil {
		t.Fatal(err)
	}
	f.Release()
	deadline := time.Now().Add(30 * time.Second)
	for r.handled.Load() <= done {
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recorder took no frame in 30 s (%d handled)", done)
		}
		time.Sleep(time.Millisecond)
	}
}

// needTool fails the test when a tool the tests rely on is missing: build.sh's
// TEST_PACKAGES installs them.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is needed by this test (build.sh TEST_PACKAGES installs it): %v", name, err)
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

// ffprobe reads the video stream of path as ffprobe sees it, decoding every frame to
// count them. Only its stdout is parsed.
func ffprobe(t *testing.T, path string) (codec string, w, h, frames int, rate string) {
	t.Helper()
	needTool(t, "ffprobe")
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,r_frame_rate,nb_read_frames", "-of", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, stderr.String())
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	s := p.Streams[0]
	frames, err = strconv.Atoi(s.NbReadFrames)
	if err != nil {
		t.Fatalf("ffprobe frame count %q: %v", s.NbReadFrames, err)
	}
	return s.CodecName, s.Width, s.Height, frames, s.RFrameRate
}

// decodeAll decodes every frame with ffmpeg and returns how many it decoded; any
// decoder complaint fails the test.
func decodeAll(t *testing.T, path string) int {
	t.Helper()
	needTool(t, "ffmpeg")
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

// riffForms walks the top-level chunks of an AVI file and returns each RIFF's form
// type ("AVI ", then "AVIX" for every later RIFF segment).
func riffForms(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var forms []string
	for off := 0; off < len(b); {
		if len(b)-off < 12 || string(b[off:off+4]) != "RIFF" {
			t.Fatalf("%s: no RIFF chunk at offset %d of %d", path, off, len(b))
		}
		forms = append(forms, string(b[off+8:off+12]))
		size := int(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8 + size + size%2
	}
	return forms
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
	if forms := riffForms(t, path); len(forms) < 3 || forms[0] != "AVI " || forms[len(forms)-1] != "AVIX" {
		t.Fatalf("RIFF segments %q: the test does not cross two segment boundaries", forms)
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
			last := r.cur.avi.segFrames[len(r.cur.avi.segFrames)-1]
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
	r, err := Create(filepath.Join(t.TempDir(), "rec.avi"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := testpic.Picture(1280, 720, image.YCbCrSubsampleRatio420, 0)
	var spent time.Duration
	const n = 30
	for i := 0; i < n; i++ {
		f := receiver.NewFrame(img, uint32(i))
		start := time.Now()
		r.Show(f)
		spent += time.Since(start)
		f.Release()
	}
	if spent > 50*time.Millisecond {
		t.Fatalf("%d Show calls took %v", n, spent)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r.Written()+r.Skipped() != n || r.Skipped() == 0 {
		t.Fatalf("written %d skipped %d of %d", r.Written(), r.Skipped(), n)
	}
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
