package rtpjpeg

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
	"github.com/pion/rtp"
)

// deadline bounds every wait: generous, for a machine whose cores are busy.
const deadline = 60 * time.Second

// listenUDP opens a loopback socket the sink sends to.
func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(8 << 20)
	t.Cleanup(func() { c.Close() })
	return c
}

// readFrame reads packets until the depacketiser returns a whole frame; it returns
// the JPEG file and the RTP timestamp.
func readFrame(t *testing.T, c *net.UDPConn, d *Depacketizer) ([]byte, uint32) {
	t.Helper()
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(deadline))
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no frame: %v", err)
		}
		out, err := d.Push(buf[:n])
		if err != nil {
			t.Fatalf("depacketise: %v", err)
		}
		if out != nil {
			var p rtp.Packet
			p.Unmarshal(buf[:n])
			return append([]byte(nil), out...), p.Timestamp
		}
	}
}

func show(t *testing.T, s *Sink, img *image.YCbCr, seq uint32, at time.Time) {
	t.Helper()
	f := receiver.NewFrame(img, seq)
	f.Captured = at
	if err := s.Show(f); err != nil {
		t.Fatal(err)
	}
	f.Release()
}

func TestSinkSendsFrames(t *testing.T) {
	for _, tc := range []struct {
		name         string
		w, h         int
		sub          image.YCbCrSubsampleRatio
		wantW, wantH int
	}{
		{"a 4:2:0 1280x720 stream", 1280, 720, image.YCbCrSubsampleRatio420, 1280, 720},
		{"a 4:2:2 640x480 stream", 640, 480, image.YCbCrSubsampleRatio422, 640, 480},
		{"a 4:4:4 320x240 stream, sent as 4:2:0", 320, 240, image.YCbCrSubsampleRatio444, 320, 240},
		{"a 2560x1440 stream, scaled down to 2040x1144", 2560, 1440, image.YCbCrSubsampleRatio420, 2040, 1144},
	} {
		t.Run(tc.name+" arrives as RTP/JPEG with 90 kHz capture timestamps", func(t *testing.T) {
			c := listenUDP(t)
			sdp := filepath.Join(t.TempDir(), "s.sdp")
			s, err := Open(Options{To: c.LocalAddr().String(), SDP: sdp, Quality: 90})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			b, err := os.ReadFile(sdp)
			if err != nil || !strings.Contains(string(b), fmt.Sprintf("m=video %d RTP/AVP 26", c.LocalAddr().(*net.UDPAddr).Port)) {
				t.Fatalf("SDP file %q, %v", b, err)
			}
			img := testpic.Picture(tc.w, tc.h, tc.sub, 3)
			var d Depacketizer
			t0 := time.Unix(1000, 0)
			var ts []uint32
			for i := range 3 {
				show(t, s, img, uint32(i), t0.Add(time.Duration(i)*40*time.Millisecond))
				file, stamp := readFrame(t, c, &d)
				ts = append(ts, stamp)
				got := decode(t, file)
				if got.Bounds().Dx() != tc.wantW || got.Bounds().Dy() != tc.wantH {
					t.Fatalf("frame is %v, want %dx%d", got.Bounds().Size(), tc.wantW, tc.wantH)
				}
				if i > 0 {
					continue // the same picture again: its timestamp is what is checked
				}
				var ref image.Image = img
				if tc.wantW != tc.w {
					ref = testpic.Shrink(img, tc.wantW, tc.wantH)
				}
				p := testpic.PSNR(ref, got)
				if p < 30 {
					t.Fatalf("PSNR %.1f dB against the source, want >= 30", p)
				}
				t.Logf("PSNR %.1f dB", p)
			}
			for i := 1; i < len(ts); i++ {
				if ts[i]-ts[i-1] != 3600 { // 40 ms at 90 kHz
					t.Fatalf("timestamps %v: want 3600 apart", ts)
				}
			}
			// The count follows the last packet: wait for it.
			end := time.Now().Add(deadline)
			for s.Stats().FramesSent < 3 && time.Now().Before(end) {
				time.Sleep(time.Millisecond)
			}
			st := s.Stats()
			if st.FramesSent != 3 || st.SendErrors != 0 || (tc.wantW != tc.w) != (st.FramesScaled == 3) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestSinkSendsTheNewestFrame(t *testing.T) {
	t.Run("a sink shown frames faster than it sends them skips older ones and ends on the newest", func(t *testing.T) {
		c := listenUDP(t)
		s, err := Open(Options{To: c.LocalAddr().String()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		const n = 24
		pics := make([]*image.YCbCr, n)
		for i := range pics {
			pics[i] = testpic.Picture(1280, 720, image.YCbCrSubsampleRatio420, uint32(i))
		}
		t0 := time.Now()
		for i := range n {
			show(t, s, pics[i], uint32(i), t0.Add(time.Duration(i)*time.Millisecond))
		}
		end := time.Now().Add(deadline)
		for st := s.Stats(); st.FramesSent+st.FramesSkipped < n; st = s.Stats() {
			if time.Now().After(end) {
				t.Fatalf("stats %+v: %d frames unaccounted for", st, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		st := s.Stats()
		if st.FramesSkipped == 0 {
			t.Fatalf("stats %+v: 24 720p frames shown at once, none skipped", st)
		}
		// The last frame to arrive is the newest shown.
		var d Depacketizer
		var last []byte
		for range st.FramesSent {
			last, _ = readFrame(t, c, &d)
		}
		got := decode(t, last)
		if newest, older := testpic.PSNR(pics[n-1], got), testpic.PSNR(pics[n-2], got); newest <= older {
			t.Fatalf("last frame sent is closer to frame %d (%.1f dB) than to the newest (%.1f dB)", n-2, older, newest)
		}
		t.Logf("%d sent, %d skipped", st.FramesSent, st.FramesSkipped)
	})
}

func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no destination at all", Options{}, "nothing to send to"},
		{"an SDP file without an RTP address", Options{Publish: "rtsp://127.0.0.1:1/x", SDP: "x.sdp"}, "SDP"},
		{"a port of 0", Options{To: "127.0.0.1:0"}, "want a host and a port"},
		{"an unspecified host", Options{To: ":5004"}, "want a host and a port"},
		{"an http URL to publish to", Options{Publish: "http://127.0.0.1/x"}, "scheme"},
		{"an MTU too small for the tables", Options{To: "127.0.0.1:5004", MTU: 100}, "MTU"},
		{"an SDP file in a missing directory", Options{To: "127.0.0.1:5004", SDP: "/nonexistent/dir/s.sdp"}, "SDP"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			s, err := Open(tc.opt)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSinkClose(t *testing.T) {
	t.Run("a closed sink frees its waiting frame, ignores later frames and closes twice", func(t *testing.T) {
		s, err := Open(Options{To: "127.0.0.1:9"})
		if err != nil {
			t.Fatal(err)
		}
		img := testpic.Picture(64, 64, image.YCbCrSubsampleRatio420, 0)
		show(t, s, img, 0, time.Now())
		if err := errors.Join(s.Close(), s.Close()); err != nil {
			t.Fatal(err)
		}
		show(t, s, img, 1, time.Now())
		if f, _ := s.take(); f != nil {
			t.Fatal("a frame kept after Close")
		}
	})
}

func TestSinkStopsItsGoroutines(t *testing.T) {
	t.Run("a sink sending and publishing to a server that is not there leaves no goroutine behind after Close", func(t *testing.T) {
		before := runtime.NumGoroutine()
		s, err := Open(Options{To: "127.0.0.1:9", Publish: "rtsp://127.0.0.1:9/x"})
		if err != nil {
			t.Fatal(err)
		}
		img := testpic.Picture(64, 64, image.YCbCrSubsampleRatio420, 0)
		end := time.Now().Add(deadline)
		for s.Stats().FramesSent == 0 || s.Stats().PublishDrops == 0 {
			if time.Now().After(end) {
				t.Fatalf("stats %+v", s.Stats())
			}
			show(t, s, img, 0, time.Now())
			time.Sleep(time.Millisecond)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for n := runtime.NumGoroutine(); n > before; n = runtime.NumGoroutine() {
			if time.Now().After(end) {
				t.Fatalf("%d goroutines after Close, %d before Open", n, before)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func TestPublisherLogsNoPassword(t *testing.T) {
	t.Run("the URL of a refused RTSP server is logged without its password", func(t *testing.T) {
		var logs syncBuffer
		s, err := Open(Options{Publish: "rtsp://cam:s3cret@127.0.0.1:9/x", Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		end := time.Now().Add(deadline)
		for !strings.Contains(logs.String(), "RTSP publish failed") {
			if time.Now().After(end) {
				t.Fatalf("no failure logged:\n%s", logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if l := logs.String(); strings.Contains(l, "s3cret") || !strings.Contains(l, "cam:xxxxx@127.0.0.1:9") {
			t.Fatalf("log shows the password or not the user:\n%s", l)
		}
	})
}
