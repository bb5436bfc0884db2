package render

import (
	"bytes"
	"image"
	"image/jpeg"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/render/internal/testpic"
	"github.com/hrvs/hrvs/render/rtpjpeg"
)

func TestOpenSendsRTPJPEG(t *testing.T) {
	t.Run("a set opened with an RTP address writes the SDP file and sends every frame shown as RTP/JPEG", func(t *testing.T) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sdp := filepath.Join(t.TempDir(), "stream.sdp")
		s, err := Open(Config{Sink: "null", RTPOut: c.LocalAddr().String(), SDP: sdp})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if b, err := os.ReadFile(sdp); err != nil || !strings.Contains(string(b), "a=rtpmap:26 JPEG/90000") {
			t.Fatalf("SDP %q, %v", b, err)
		}
		src := testpic.Picture(320, 240, image.YCbCrSubsampleRatio420, 1)
		f := testpic.Frame(320, 240, image.YCbCrSubsampleRatio420, 1)
		if err := s.Show(f); err != nil {
			t.Fatal(err)
		}
		f.Release()
		var d rtpjpeg.Depacketizer
		buf := make([]byte, 65536)
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		for {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("no frame arrived: %v", err)
			}
			file, err := d.Push(buf[:n])
			if err != nil {
				t.Fatal(err)
			}
			if file != nil {
				img, err := jpeg.Decode(bytes.NewReader(file))
				if err != nil {
					t.Fatal(err)
				}
				if p := testpic.PSNR(src, img); p < 30 {
					t.Fatalf("PSNR %.1f dB", p)
				}
				return
			}
		}
	})
	t.Run("an SDP file without an RTP address is an error naming the output", func(t *testing.T) {
		_, err := Open(Config{Sink: "null", RTSPPublish: "rtsp://127.0.0.1:1/x", SDP: "x.sdp"})
		if err == nil || !strings.Contains(err.Error(), "RTP/JPEG out") {
			t.Fatalf("err %v", err)
		}
	})
}
