package rtpjpeg

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// The players' end-to-end tests: the stream is played by ffmpeg and GStreamer, the
// programs people already run, over loopback only.

// playDeadline bounds one player's run: encoding 2560x1440 under the race detector on
// a busy machine makes a frame every few seconds.
const playDeadline = 3 * time.Minute

// feed shows img to s every 40 ms (25 fps), stamped with the time shown, until
// the returned stop is called; stop waits for the feeding goroutine.
func feed(t *testing.T, s *Sink, img *image.YCbCr) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for seq := uint32(0); ; seq++ {
			f := receiver.NewFrame(img, seq)
			f.Captured = time.Now()
			if err := s.Show(f); err != nil {
				t.Error(err) // not Fatal: this is not the test's goroutine
			}
			f.Release()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// freeRTPPort returns an even loopback UDP port whose odd neighbour (RTCP) is free too.
func freeRTPPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if port%2 != 0 || port > 65000 {
			continue
		}
		if c2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1}); err == nil {
			c2.Close()
			return port
		}
	}
	t.Fatal("no free even UDP port pair")
	return 0
}

// freeTCPPort returns a loopback TCP port free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// play runs a player that writes `frames` RGB frames of w x h to its stdout, while feed
// sends, and returns the last frame; a player that has not finished by the deadline
// fails the test.
func play(t *testing.T, args []string, w, h, frames int, start func() (stop func())) *image.RGBA {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), playDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := start()
	err := cmd.Wait()
	stop()
	size := w * h * 3
	if err != nil || out.Len() < frames*size {
		t.Fatalf("%s: %v; %d bytes of %d frames %dx%d out\n%s", args[0], err, out.Len(), frames, w, h, stderr.Bytes())
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	last := out.Bytes()[(frames-1)*size : frames*size]
	for i := range w * h {
		copy(img.Pix[4*i:], last[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	return img
}

func TestPlayers(t *testing.T) {
	ffmpeg := testpic.NeedTool(t, "ffmpeg")
	gst := testpic.NeedTool(t, "gst-launch-1.0")
	const frames = 5
	for _, tc := range []struct {
		name         string
		w, h         int
		sub          image.YCbCrSubsampleRatio
		wantW, wantH int
		player       string
	}{
		{"ffmpeg plays a 1280x720 4:2:0 stream from the SDP file", 1280, 720, image.YCbCrSubsampleRatio420, 1280, 720, "ffmpeg"},
		{"ffmpeg plays a 4:2:2 stream (type 0) from the SDP file", 640, 360, image.YCbCrSubsampleRatio422, 640, 360, "ffmpeg"},
		{"ffmpeg plays a 301x203 stream, declared in 8-pixel units as 304x208", 301, 203, image.YCbCrSubsampleRatio420, 304, 208, "ffmpeg"},
		{"ffmpeg plays a 2560x1440 stream scaled to 2040x1144", 2560, 1440, image.YCbCrSubsampleRatio420, 2040, 1144, "ffmpeg"},
		{"GStreamer's rtpjpegdepay plays a 1280x720 stream", 1280, 720, image.YCbCrSubsampleRatio420, 1280, 720, "gst"},
		{"GStreamer's rtpjpegdepay plays a 2560x1440 stream scaled to 2040x1144", 2560, 1440, image.YCbCrSubsampleRatio420, 2040, 1144, "gst"},
		{"an RTSP server (ffmpeg listening) receives a published stream", 1280, 720, image.YCbCrSubsampleRatio420, 1280, 720, "rtsp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := testpic.Picture(tc.w, tc.h, tc.sub, 11)
			var opt Options
			var args []string
			switch tc.player {
			case "ffmpeg":
				port := freeRTPPort(t)
				opt = Options{To: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), SDP: filepath.Join(t.TempDir(), "stream.sdp")}
				args = []string{ffmpeg, "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp",
					"-buffer_size", "8388608", "-analyzeduration", "500000", "-fpsprobesize", "1", // the JPEG headers say all there is: probe briefly
					"-i", opt.SDP, "-frames:v", strconv.Itoa(frames), "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"}
			case "gst":
				port := freeRTPPort(t)
				opt = Options{To: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
				args = []string{gst, "-q", "udpsrc", "address=127.0.0.1", "port=" + strconv.Itoa(port), "buffer-size=8388608",
					"caps=application/x-rtp,media=video,encoding-name=JPEG,payload=26,clock-rate=90000",
					"!", "rtpjpegdepay", "!", "jpegdec", "!", "videoconvert", "!", "video/x-raw,format=RGB",
					"!", "identity", fmt.Sprintf("eos-after=%d", frames+1) /* it ends the stream on the Nth buffer, not after it */, "!", "fdsink", "fd=1"}
			case "rtsp":
				url := fmt.Sprintf("rtsp://127.0.0.1:%d/hrvs", freeTCPPort(t))
				opt = Options{Publish: url}
				args = []string{ffmpeg, "-hide_banner", "-loglevel", "error", "-rtsp_flags", "listen", "-analyzeduration", "500000", "-fpsprobesize", "1", "-i", url,
					"-frames:v", strconv.Itoa(frames), "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"}
			}
			var s *Sink
			got := play(t, args, tc.wantW, tc.wantH, frames, func() func() {
				var err error
				if s, err = Open(opt); err != nil {
					t.Fatal(err)
				}
				return feed(t, s, img)
			})
			defer s.Close()
			var ref image.Image = img // over the source's size: a rounded-up edge is not compared
			if tc.wantW > tc.w+7 || tc.wantH > tc.h+7 || tc.wantW < tc.w {
				ref = testpic.Shrink(img, tc.wantW, tc.wantH)
			}
			p := testpic.PSNR(ref, got)
			t.Logf("%s: %dx%d, PSNR %.1f dB against the source; %+v", tc.player, tc.wantW, tc.wantH, p, s.Stats())
			if p < 30 {
				t.Fatalf("PSNR %.1f dB, want >= 30", p)
			}
			if st := s.Stats(); tc.player != "rtsp" && st.FramesSent < frames {
				t.Fatalf("the player output %d frames of %d sent: it made up frames", frames, st.FramesSent)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPublisherReconnects(t *testing.T) {
	ffmpeg := testpic.NeedTool(t, "ffmpeg")
	t.Run("a publisher started before its server, and left by it, reconnects and logs why", func(t *testing.T) {
		url := fmt.Sprintf("rtsp://127.0.0.1:%d/hrvs", freeTCPPort(t))
		var logs syncBuffer
		s, err := Open(Options{Publish: url, Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		img := testpic.Picture(320, 240, image.YCbCrSubsampleRatio420, 5)
		stop := feed(t, s, img)
		defer stop()
		end := time.Now().Add(deadline)
		for !strings.Contains(logs.String(), "RTSP publish failed; retrying") {
			if time.Now().After(end) {
				t.Fatalf("no failure logged with no server:\n%s", logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		noop := func() func() { return func() {} }
		args := []string{ffmpeg, "-hide_banner", "-loglevel", "error", "-rtsp_flags", "listen", "-analyzeduration", "500000", "-fpsprobesize", "1", "-i", url,
			"-frames:v", "3", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"}
		for i := range 2 {
			got := play(t, args, 320, 240, 3, noop)
			if p := testpic.PSNR(img, got); p < 30 {
				t.Fatalf("server %d: PSNR %.1f dB", i+1, p)
			}
		}
		if st := s.Stats(); st.Sessions < 2 {
			t.Fatalf("stats %+v: want two sessions", st)
		}
		if !strings.Contains(logs.String(), "RTSP publish ended; reconnecting") {
			t.Fatalf("the end of the first session was not logged:\n%s", logs.String())
		}
	})
}
