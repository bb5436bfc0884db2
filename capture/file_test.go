package capture

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test clips are made once per run with ffmpeg: 2 s each, small enough to keep
// the suite quick, big enough (720p, 1080p) to be the content users stream.
var (
	clipsOnce sync.Once
	clipsDir  string
	clipsErr  error
)

type clipSpec struct {
	name string
	args []string // ffmpeg arguments after -y
}

var clipSpecs = []clipSpec{
	{"h264-720p.mkv", []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}},
	{"h264-1080p.mkv", []string{"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}},
	{"h264-422.mkv", []string{"-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25",
		"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv422p"}},
	{"upright.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}},
	// shot on its side, as phones record portrait video: ffmpeg turns it upright
	{"rotated.mp4", []string{"-i", "$DIR/upright.mp4", "-c", "copy", "-metadata:s:v", "rotate=90"}},
	{"c420.y4m", []string{"-f", "lavfi", "-i", "mandelbrot=size=640x360:rate=25", "-t", "2", "-pix_fmt", "yuv420p"}},
	{"c422.y4m", []string{"-f", "lavfi", "-i", "testsrc2=size=642x362:rate=30:duration=2", "-pix_fmt", "yuv422p"}},
	{"c444.y4m", []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-pix_fmt", "yuv444p"}},
	{"c420p10.y4m", []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-pix_fmt", "yuv420p10le", "-strict", "-1"}},
	{"m420.mjpeg", []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=2",
		"-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p", "-f", "mjpeg"}},
	{"m422.mjpeg", []string{"-f", "lavfi", "-i", "mandelbrot=size=640x360:rate=25", "-t", "2",
		"-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj422p", "-f", "mjpeg"}},
	{"short.mjpeg", []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "10",
		"-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj422p", "-f", "mjpeg"}},
	// 75% colour bars in limited range (white 180, black 16), and one Rec.709
	// colour (R'G'B' 200, 100, 50), losslessly coded so levels are exact.
	{"bars.y4m", []string{"-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "0.2", "-pix_fmt", "yuv420p"}},
	{"bars.mkv", []string{"-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "0.2", "-pix_fmt", "yuv420p", "-c:v", "ffv1"}},
	{"colour709.mkv", []string{"-f", "lavfi", "-i", "color=c=0xC86432:size=64x64:rate=25", "-t", "0.2",
		"-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p", "-colorspace", "bt709", "-color_range", "tv", "-c:v", "ffv1"}},
	// variable frame rate, as phones record: 1 s at 10 fps, then 1 s at 50 fps
	{"vfr.mkv", []string{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=50:duration=1", "-filter_complex", "[0][1]concat=n=2:v=1[v]",
		"-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-fps_mode", "passthrough"}},
	{"mjpeg.avi", []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=1",
		"-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj422p"}},
}

// needFFmpeg skips a test on a machine without ffmpeg, except in CI, which must
// have it (./build.sh test installs it).
func needFFmpeg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ffmpeg is not installed; ./build.sh test installs it")
		}
		t.Skip("ffmpeg not installed")
	}
}

// testClip returns the path of a test clip, making all of them on first use, plus
// the broken variants.
func testClip(t testing.TB, name string) string {
	t.Helper()
	needFFmpeg(t)
	clipsOnce.Do(func() {
		clipsDir, clipsErr = os.MkdirTemp("", "hrvs-clips-")
		if clipsErr != nil {
			return
		}
		for _, c := range clipSpecs {
			args := []string{"-nostdin", "-v", "error", "-y"}
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "$DIR", clipsDir))
			}
			out, err := exec.Command("ffmpeg", append(args, filepath.Join(clipsDir, c.name))...).CombinedOutput()
			if err != nil {
				clipsErr = fmt.Errorf("making %s: %v: %s", c.name, err, out)
				return
			}
		}
		clipsErr = makeBrokenClips(clipsDir)
	})
	if clipsErr != nil {
		t.Fatal(clipsErr)
	}
	return filepath.Join(clipsDir, name)
}

func makeBrokenClips(dir string) error {
	read := func(n string) []byte {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		return b
	}
	mkv, y4m, mj := read("h264-1080p.mkv"), read("c420.y4m"), read("m422.mjpeg")
	hdr := bytes.IndexByte(y4m, '\n') + 1
	frame := len("FRAME\n") + 640*360*3/2
	// frames 0..2 of the MJPEG file whole, frame 3 cut in half, the rest whole
	s := newJPEGSplitter(bytes.NewReader(mj))
	var corrupt []byte
	for i := 0; ; i++ {
		f, err := s.next()
		if err != nil {
			break
		}
		if i == 3 {
			f = f[:len(f)/2]
		}
		corrupt = append(corrupt, f...)
	}
	files := map[string][]byte{
		"trunc.mkv":     mkv[:len(mkv)*2/5],
		"badhdr.mkv":    append([]byte("this is not a matroska header"), mkv[200:]...),
		"trunc.y4m":     y4m[:hdr+10*frame+frame/2],
		"badhdr.y4m":    append([]byte("YUV4MPEG2 W0 H360 F25:1\n"), y4m[hdr:]...),
		"fastrate.y4m":  append([]byte("YUV4MPEG2 W640 H360 F1000000:1 C420jpeg\n"), y4m[hdr:]...),
		"hdronly.y4m":   y4m[:hdr],
		"trunc.mjpeg":   mj[:len(mj)-5000],
		"corrupt.mjpeg": corrupt,
		"badhdr.mjpeg":  append([]byte{0xff, 0xd8, 0xff, 0xc0, 0x00, 0x04, 0x01, 0x02, 0x12, 0x34}, mj[500:]...),
		"empty.mkv":     nil,
		"noise.bin":     bytes.Repeat([]byte("0123456789abcdef"), 4096),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if clipsDir != "" {
		os.RemoveAll(clipsDir)
	}
	os.Exit(code)
}

// refDecoder reads the frames ffmpeg itself decodes from a file, as raw planes.
type refDecoder struct {
	cmd  *exec.Cmd
	out  *bufio.Reader
	w, h int
	sub  image.YCbCrSubsampleRatio
}

func newRefDecoder(t *testing.T, path, pixFmt string, w, h int) *refDecoder {
	t.Helper()
	sub := image.YCbCrSubsampleRatio420
	if strings.Contains(pixFmt, "422") {
		sub = image.YCbCrSubsampleRatio422
	}
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", pixFmt, "pipe:1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &refDecoder{cmd: cmd, out: bufio.NewReaderSize(out, 1<<20), w: w, h: h, sub: sub}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return r
}

// next returns ffmpeg's next frame, or nil at the end.
func (r *refDecoder) next(t *testing.T) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, r.w, r.h), r.sub)
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		if _, err := io.ReadFull(r.out, p); err != nil {
			if err == io.EOF {
				return nil
			}
			t.Fatalf("reference decoder: %v", err)
		}
	}
	return img
}

func TestFileSourcesMatchFFmpeg(t *testing.T) {
	for _, tc := range []struct {
		file    string
		refFmt  string // what ffmpeg decodes the reference as
		w, h    int
		sub     image.YCbCrSubsampleRatio
		fps     float64
		frames  int
		minPSNR float64 // +Inf: must be identical
	}{
		// Limited-range sources are compared with ffmpeg's own conversion to full
		// range (yuvj), which rounds a little differently from ours.
		{"c420.y4m", "yuvj420p", 640, 360, image.YCbCrSubsampleRatio420, 25, 50, 45},
		{"c422.y4m", "yuvj422p", 642, 362, image.YCbCrSubsampleRatio422, 30, 60, 45},
		{"c444.y4m", "yuvj420p", 320, 240, image.YCbCrSubsampleRatio420, 25, 25, 38},
		{"c420p10.y4m", "yuvj420p", 320, 240, image.YCbCrSubsampleRatio420, 25, 25, 45},
		{"h264-720p.mkv", "yuvj420p", 1280, 720, image.YCbCrSubsampleRatio420, 25, 50, 45},
		{"h264-1080p.mkv", "yuvj420p", 1920, 1080, image.YCbCrSubsampleRatio420, 30, 60, 45},
		{"h264-422.mkv", "yuvj422p", 320, 240, image.YCbCrSubsampleRatio422, 25, 25, 45},
		{"rotated.mp4", "yuvj420p", 240, 320, image.YCbCrSubsampleRatio420, 25, 25, 45},
		{"m420.mjpeg", "yuvj420p", 1280, 720, image.YCbCrSubsampleRatio420, 25, 50, 40},
		{"m422.mjpeg", "yuvj422p", 640, 360, image.YCbCrSubsampleRatio422, 25, 50, 40},
		{"mjpeg.avi", "yuvj422p", 640, 360, image.YCbCrSubsampleRatio422, 25, 25, math.Inf(1)},
	} {
		t.Run(tc.file+" streams the frames ffmpeg decodes", func(t *testing.T) {
			path := testClip(t, tc.file)
			ctx := context.Background()
			src, err := Open(ctx, path, Options{FPS: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			info := src.Info()
			if info.Width != tc.w || info.Height != tc.h || info.Subsample != tc.sub || info.FPS != 0 {
				t.Fatalf("info %+v", info)
			}
			ref := newRefDecoder(t, path, tc.refFmt, tc.w, tc.h)
			worst := math.Inf(1)
			n := 0
			for ; ; n++ {
				f, err := src.Next(ctx)
				want := ref.next(t)
				if err == ErrEnd {
					if want != nil {
						t.Fatalf("source ended after %d frames, ffmpeg has more", n)
					}
					break
				}
				if err != nil {
					t.Fatalf("frame %d: %v", n, err)
				}
				if want == nil {
					t.Fatalf("source has more than ffmpeg's %d frames", n)
				}
				if f.Seq != uint64(n) || f.Image.Rect.Dx() != tc.w || f.Image.SubsampleRatio != tc.sub {
					t.Fatalf("frame %d: seq %d, %v %v", n, f.Seq, f.Image.Rect, f.Image.SubsampleRatio)
				}
				if !planesEqual(f.Image, want) {
					worst = math.Min(worst, psnr(f.Image, want))
				}
				f.Release()
			}
			if n != tc.frames {
				t.Fatalf("%d frames, want %d", n, tc.frames)
			}
			if worst < tc.minPSNR {
				t.Fatalf("worst frame PSNR %.2f dB, want at least %.2f", worst, tc.minPSNR)
			}
			t.Logf("%s: %d frames, worst PSNR %.2f dB (%s)", tc.file, n, worst, info.Detail)
		})
	}
}

func TestBrokenFiles(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		file    string
		openErr string // Open fails with this, or
		frames  int    // this many frames stream before
		endErr  string // Next fails with this
		skipped uint64
	}{
		{file: "trunc.mkv", frames: -1, endErr: "File ended prematurely"},
		{file: "badhdr.mkv", openErr: "ffmpeg cannot read it: Invalid data found when processing input"},
		{file: "empty.mkv", openErr: "the file is empty"},
		{file: "noise.bin", openErr: "ffmpeg cannot read it"},
		{file: "trunc.y4m", frames: 10, endErr: "file is truncated: it ends inside frame 10"},
		{file: "badhdr.y4m", openErr: "y4m header: size 0x360"},
		{file: "hdronly.y4m", openErr: "no frames: the file holds a YUV4MPEG2 header only"},
		{file: "trunc.mjpeg", frames: 49, endErr: "file is truncated: it ends inside frame 49"},
		{file: "badhdr.mjpeg", openErr: "first JPEG frame: corrupt JPEG frame"},
		{file: "corrupt.mjpeg", frames: 49, skipped: 1},
		{file: "no-such-file.mkv", openErr: "file not found"},
	} {
		name := tc.file + " ends with a clear error"
		if tc.openErr != "" {
			name = tc.file + " fails to open with a clear error"
		}
		if tc.endErr == "" && tc.openErr == "" {
			name = tc.file + " streams with its bad frame skipped"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(filepath.Dir(testClip(t, "c420.y4m")), tc.file)
			src, err := Open(ctx, path, Options{FPS: -1})
			if tc.openErr != "" {
				if err == nil {
					src.Close()
					t.Fatalf("opened; want error %q", tc.openErr)
				}
				if !strings.Contains(err.Error(), tc.openErr) || !strings.HasPrefix(err.Error(), path+": ") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %q, want one line starting with the path and containing %q", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			n := 0
			for ; ; n++ {
				f, err := src.Next(ctx)
				if err == ErrEnd {
					if tc.endErr != "" {
						t.Fatalf("clean end after %d frames, want error %q", n, tc.endErr)
					}
					break
				}
				if err != nil {
					if tc.endErr == "" || !strings.Contains(err.Error(), tc.endErr) {
						t.Fatalf("after %d frames: %v", n, err)
					}
					t.Logf("after %d frames: %v", n, err)
					break
				}
				f.Release()
			}
			if tc.frames >= 0 && n != tc.frames {
				t.Fatalf("%d frames, want %d", n, tc.frames)
			}
			if got := src.(*FileSource).Skipped(); got != tc.skipped {
				t.Fatalf("skipped %d, want %d", got, tc.skipped)
			}
		})
	}
}

func TestFFmpegMissing(t *testing.T) {
	path := testClip(t, "h264-720p.mkv")
	t.Setenv("PATH", t.TempDir())
	_, err := Open(context.Background(), path, Options{})
	want := path + ": " + path + " is not Y4M or MJPEG, so it is decoded with ffmpeg, but ffmpeg is not on PATH: install it with apt-get install ffmpeg"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// Y4M and MJPEG need no ffmpeg.
	for _, f := range []string{"c420.y4m", "m420.mjpeg"} {
		src, err := Open(context.Background(), filepath.Join(filepath.Dir(path), f), Options{})
		if err != nil {
			t.Fatalf("%s without ffmpeg: %v", f, err)
		}
		src.Close()
	}
}

func TestFilePacing(t *testing.T) {
	ctx := context.Background()
	t.Run("a file plays at its own rate in real time", func(t *testing.T) {
		src, err := Open(ctx, testClip(t, "c420.y4m"), Options{}) // 25 fps
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		start := time.Now()
		for i := 0; i < 11; i++ {
			f, err := src.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.Release()
		}
		// 10 intervals of 40 ms
		if el := time.Since(start); el < 390*time.Millisecond || el > 700*time.Millisecond {
			t.Fatalf("11 frames took %v, want about 400ms", el)
		}
	})
	t.Run("skipped corrupt frames keep their time slots, so a file plays at its real rate", func(t *testing.T) {
		// 2 s at 25 fps: frames 0 and 49 whole, the 48 between cut to a quarter.
		var file []byte
		for i := 0; i < 50; i++ {
			f := encodeJPEG(t, testPicture(t, 160, 96, image.YCbCrSubsampleRatio420, uint64(i)), 80)
			if i != 0 && i != 49 {
				f = f[:len(f)/4]
			}
			file = append(file, f...)
		}
		path := filepath.Join(t.TempDir(), "cut.mjpeg")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		start := time.Now()
		var got []*Frame
		for {
			f, err := src.Next(ctx)
			if err == ErrEnd {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, f)
		}
		took := time.Since(start)
		if len(got) != 2 || got[0].Seq != 0 || got[1].Seq != 49 {
			t.Fatalf("%d frames, want frames 0 and 49", len(got))
		}
		if sk := src.(*FileSource).Skipped(); sk != 48 {
			t.Fatalf("skipped %d, want 48", sk)
		}
		// frame 49 is due 49/25 = 1.96 s after frame 0
		if d := got[1].Time.Sub(got[0].Time); d < 1900*time.Millisecond || d > 2600*time.Millisecond {
			t.Fatalf("frame 49 was captured %v after frame 0, want 1.96 s", d)
		}
		if took < 1900*time.Millisecond {
			t.Fatalf("the file played in %v, want about 1.96 s", took)
		}
	})
	t.Run("a Y4M whose header rate is absurd is refused, and --fps plays it", func(t *testing.T) {
		path := filepath.Join(filepath.Dir(testClip(t, "c420.y4m")), "fastrate.y4m")
		_, err := Open(ctx, path, Options{})
		want := path + ": y4m header: frame rate F1000000:1 is 1e+06 fps, not a video rate (1/60 to 1000 fps); give --fps to play it at another"
		if err == nil || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		src, err := Open(ctx, path, Options{FPS: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if src.Info().FPS != 10 {
			t.Fatalf("FPS %v, want 10", src.Info().FPS)
		}
		start := time.Now()
		for i := 0; i < 4; i++ {
			f, err := src.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.Release()
		}
		// three intervals of 100 ms; at the header's rate they would take 3 µs
		if el := time.Since(start); el < 290*time.Millisecond {
			t.Fatalf("4 frames took %v, want about 300ms", el)
		}
	})
	t.Run("--fps overrides the file's rate", func(t *testing.T) {
		// 25 frames of a 25 fps file at 20 fps: 1.25 s, time enough on a busy machine
		src, err := Open(ctx, testClip(t, "h264-422.mkv"), Options{FPS: 20})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if src.Info().FPS != 20 {
			t.Fatalf("FPS %v", src.Info().FPS)
		}
		start := time.Now()
		for i := 0; i < 11; i++ {
			f, err := src.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.Release()
		}
		// ten intervals: 500 ms at 20 fps, 400 ms at the file's own 25
		if el := time.Since(start); el < 490*time.Millisecond || el > 3*time.Second {
			t.Fatalf("11 frames took %v, want about 500ms", el)
		}
	})
	t.Run("a late caller gets the current frame and the late ones are dropped", func(t *testing.T) {
		src, err := Open(ctx, testClip(t, "c420.y4m"), Options{FPS: 50})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		f, _ := src.Next(ctx)
		time.Sleep(catchUp + 205*time.Millisecond) // ten frame slots beyond what is caught up
		f, err = src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq < 9 || f.Seq > 13 {
			t.Fatalf("seq %d after 200 ms at 50 fps", f.Seq)
		}
		if d := src.(*FileSource).Dropped(); d != f.Seq-1 {
			t.Fatalf("dropped %d, want %d", d, f.Seq-1)
		}
	})
	t.Run("a caller late by less than catchUp gets every frame, then catches up", func(t *testing.T) {
		// 10 fps: the frames owed leave 150 ms of catchUp for a loaded machine's
		// reads under the race detector
		src, err := Open(ctx, testClip(t, "c420.y4m"), Options{FPS: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		f, _ := src.Next(ctx)
		start := f.Time
		time.Sleep(catchUp/4 + 100*time.Millisecond) // a frame slot and a half behind
		for want := uint64(1); want <= 6; want++ {
			f, err := src.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if f.Seq != want {
				t.Fatalf("frame %d after a late start, want %d (dropped %d)", f.Seq, want, src.(*FileSource).Dropped())
			}
			f.Release()
		}
		// Caught up: frame 6 falls 600 ms into play, so it waited for its slot.
		if el := time.Since(start); el < 590*time.Millisecond {
			t.Fatalf("frame 6 came after %v, before its slot at 600 ms", el)
		}
	})
	t.Run("a file paced by its frames' times drops the frames a late caller missed", func(t *testing.T) {
		// 25 fps, timed by ffmpeg; small, so that reading the missed frames stays
		// well inside the drop budget on a busy machine
		src, err := Open(ctx, testClip(t, "h264-422.mkv"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		f, _ := src.Next(ctx)
		time.Sleep(catchUp + 205*time.Millisecond) // five frame slots beyond what is caught up
		f, err = src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq < 3 || f.Seq > 12 {
			t.Fatalf("seq %d after 200 ms at 25 fps", f.Seq)
		}
		if d := src.(*FileSource).Dropped(); d != f.Seq-1 {
			t.Fatalf("dropped %d, want %d", d, f.Seq-1)
		}
	})
	t.Run("Next returns when ctx ends while waiting for a frame", func(t *testing.T) {
		src, err := Open(ctx, testClip(t, "c420.y4m"), Options{FPS: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		src.Next(ctx)
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := src.Next(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestFileLoop(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		file   string
		frames int
	}{{"c420.y4m", 50}, {"short.mjpeg", 10}, {"h264-422.mkv", 25}} {
		t.Run(tc.file+" restarts at its end with --loop", func(t *testing.T) {
			src, err := Open(ctx, testClip(t, tc.file), Options{FPS: -1, Loop: true})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var first *image.YCbCr
			for i := 0; i <= 2*tc.frames; i++ {
				f, err := src.Next(ctx)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if f.Seq != uint64(i) {
					t.Fatalf("seq %d, want %d", f.Seq, i)
				}
				switch i {
				case 0:
					first = f.Image // kept: never released
				case tc.frames, 2 * tc.frames:
					if !planesEqual(f.Image, first) {
						t.Fatalf("frame %d differs from frame 0", i)
					}
				}
				if i != 0 {
					f.Release()
				}
			}
			if l := src.(*FileSource).Loops(); l != 2 {
				t.Fatalf("%d loops, want 2", l)
			}
		})
	}
	t.Run("a truncated file still ends with an error under --loop", func(t *testing.T) {
		src, err := Open(ctx, filepath.Join(filepath.Dir(testClip(t, "c420.y4m")), "trunc.y4m"), Options{FPS: -1, Loop: true})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for i := 0; ; i++ {
			if _, err := src.Next(ctx); err != nil {
				if !strings.Contains(err.Error(), "truncated") || i != 10 {
					t.Fatalf("after %d frames: %v", i, err)
				}
				break
			}
		}
	})
}

func TestFFmpegChildIsReaped(t *testing.T) {
	ctx := context.Background()
	path := testClip(t, "h264-1080p.mkv")
	t.Run("at the end of the file", func(t *testing.T) {
		// Any clip through ffmpeg will do to reach its end: the 720p one, whose frames
		// the race detector converts to full range in a third of the 1080p one's time.
		src, err := Open(ctx, testClip(t, "h264-720p.mkv"), Options{FPS: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for {
			f, err := src.Next(ctx)
			if err != nil {
				if err != ErrEnd {
					t.Fatal(err)
				}
				break
			}
			f.Release()
		}
		if p := src.(*FileSource).r.(*ffmpegReader).p; p.cmd.ProcessState == nil {
			t.Fatal("ffmpeg not reaped at the end of the file")
		}
	})
	t.Run("on Close in the middle, even while Next is blocked", func(t *testing.T) {
		src, err := Open(ctx, path, Options{FPS: 1}) // Next sleeps between frames
		if err != nil {
			t.Fatal(err)
		}
		src.Next(ctx)
		done := make(chan error, 1)
		go func() { _, err := src.Next(ctx); done <- err }()
		time.Sleep(50 * time.Millisecond)
		src.Close()
		p := src.(*FileSource).r.(*ffmpegReader).p
		if p.cmd.ProcessState == nil {
			t.Fatal("ffmpeg not reaped after Close")
		}
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatal("Next still blocked 3 s after Close")
		}
		if err := src.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func TestOpenPattern(t *testing.T) {
	src, err := Open(context.Background(), "pattern", Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if i := src.Info(); i.Width != 1280 || i.Height != 720 || i.FPS != 30 {
		t.Fatalf("info %+v", i)
	}
	src2, err := Open(context.Background(), "pattern", Options{Width: 320, Height: 240, FPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	if i := src2.Info(); i.Width != 320 || i.FPS != 0 {
		t.Fatalf("info %+v", i)
	}
}

// slowReader is a frameReader whose frames take longer to read than they last,
// as a 1080p file decodes on a busy machine; with times set it gives each frame a
// presentation time 1/fps apart.
type slowReader struct {
	n, frames int
	fps       float64
	wait      time.Duration
	times     bool
}

func (r *slowReader) read() (*image.YCbCr, *ImagePool, error) {
	if err := r.skip(); err != nil {
		return nil, nil, err
	}
	return image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420), nil, nil
}

func (r *slowReader) skip() error {
	if r.n == r.frames {
		return io.EOF
	}
	time.Sleep(r.wait) // the reader's cost, not a test's wait
	r.n++
	return nil
}

func (r *slowReader) rewind() error { r.n = 0; return nil }
func (r *slowReader) close() error  { return nil }
func (r *slowReader) timed() bool   { return r.times }
func (r *slowReader) pts() (time.Duration, bool) {
	return time.Duration(float64(r.n-1) / r.fps * float64(time.Second)), r.times
}

func TestSlowReaderStillDelivers(t *testing.T) {
	for _, times := range []bool{true, false} {
		name := "a reader slower than real time still delivers frames, slotted"
		if times {
			name = "a reader slower than real time still delivers frames, timed"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r := &slowReader{frames: 1 << 30, fps: 100, wait: 25 * time.Millisecond, times: times}
			src, err := newFileSource(Info{Name: "slow", Width: 16, Height: 16, FPS: 100}, r, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if src.timed != times {
				t.Fatalf("timed %v", src.timed)
			}
			start := time.Now()
			// 15 ms behind a frame: past catchUp within 14 frames
			for i := 0; i < 24; i++ {
				if _, err := src.Next(ctx); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
			}
			// each call drops for at most dropBudget (ten 25 ms frames), then
			// delivers: under 300 ms a frame, not seconds
			if el := time.Since(start); el > 20*time.Second {
				t.Fatalf("24 frames took %v", el)
			}
			if src.Dropped() == 0 {
				t.Fatal("nothing dropped: the reader was not behind")
			}
			t.Logf("24 frames in %v, %d dropped", time.Since(start).Round(time.Millisecond), src.Dropped())
		})
	}
}

func TestTimedLoop(t *testing.T) {
	t.Run("a looped file paced by its frames' times starts its next pass one frame after its last", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// five frames 100 ms apart: the second pass starts at 500 ms
		r := &slowReader{frames: 5, fps: 10, times: true}
		src, err := newFileSource(Info{Name: "timed", Width: 16, Height: 16, FPS: 10}, r, Options{Loop: true})
		if err != nil {
			t.Fatal(err)
		}
		var t0 time.Time
		for i := 0; i < 8; i++ {
			f, err := src.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				t0 = f.Time
			}
			want := time.Duration(f.Seq) * 100 * time.Millisecond
			if at := f.Time.Sub(t0); at < want-5*time.Millisecond || at > want+250*time.Millisecond {
				t.Fatalf("frame %d captured %v after frame 0, want %v", f.Seq, at, want)
			}
		}
		if src.Loops() != 1 {
			t.Fatalf("%d loops, want 1", src.Loops())
		}
	})
}

// A file can wait for its caller (Stored), whatever rate it plays at; the pattern,
// standing in for a camera, cannot.
func TestFilesSayTheyCanWait(t *testing.T) {
	cases := []struct {
		name   string
		source string // a clip name, or "pattern"
		fps    float64
		stored bool
	}{
		{name: "a Y4M file at its own rate is stored", source: "c420.y4m", stored: true},
		{name: "a Y4M file as fast as possible is stored", source: "c420.y4m", fps: -1, stored: true},
		{name: "an MJPEG file is stored", source: "m422.mjpeg", stored: true},
		{name: "a file ffmpeg decodes is stored", source: "upright.mp4", fps: 10, stored: true},
		{name: "the pattern at a rate is live", source: "pattern", fps: 30},
		{name: "the pattern as fast as possible is not stored", source: "pattern", fps: -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := c.source
			if name != "pattern" {
				name = testClip(t, name)
			}
			src, err := Open(context.Background(), name, Options{FPS: c.fps, Width: 320, Height: 240})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got := src.Info().Stored; got != c.stored {
				t.Errorf("Stored %v, want %v (%+v)", got, c.stored, src.Info())
			}
		})
	}
}
