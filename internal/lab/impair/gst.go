package impair

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/hrvs/hrvs/internal/lab/relay"
)

// gstFrames is how many frames each GStreamer run of the benchmark sends.
const gstFrames = 150

// GStreamerIntact streams frames frames of GStreamer's own test pattern as RTP/JPEG
// (RFC 2435, the ../shared/ANCHORS.md command lines) through a relay with the given
// impairment and returns how many the receiving pipeline decoded. Both pipelines are
// gst-launch-1.0 processes this function starts and stops; traffic stays on loopback.
func GStreamerIntact(ctx context.Context, w, h int, fps float64, frames int, imp relay.Config) (int, error) {
	port, err := freeUDPPort()
	if err != nil {
		return 0, err
	}
	imp.Listen, imp.Forward, imp.NoTCP = "127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", port), true
	if imp.Seed == 0 {
		imp.Seed = 1
	}
	rl, err := relay.Start(imp, nil)
	if err != nil {
		return 0, err
	}
	defer rl.Close()

	rctx, stopRx := context.WithCancel(ctx)
	defer stopRx()
	var out bytes.Buffer
	rx := exec.CommandContext(rctx, "gst-launch-1.0", "-v",
		"udpsrc", fmt.Sprintf("port=%d", port), "buffer-size=8388608",
		"caps=application/x-rtp,media=video,encoding-name=JPEG,payload=26,clock-rate=90000",
		"!", "rtpjpegdepay", "!", "jpegdec", "!", "fakesink", "sync=false", "silent=false")
	rx.Stdout, rx.Stderr = &out, io.Discard
	rx.Cancel = func() error { return rx.Process.Kill() }
	if err := rx.Start(); err != nil {
		return 0, fmt.Errorf("gstreamer receiver: %w", err)
	}
	time.Sleep(700 * time.Millisecond) // let udpsrc bind before the first packet
	tx := exec.CommandContext(ctx, "gst-launch-1.0", "-q",
		"videotestsrc", fmt.Sprintf("num-buffers=%d", frames), "is-live=true",
		"!", fmt.Sprintf("video/x-raw,width=%d,height=%d,framerate=%d/1,format=I420", w, h, int(fps)),
		"!", "jpegenc", "quality=75", "!", "rtpjpegpay", "mtu=1400",
		"!", "udpsink", "host=127.0.0.1", fmt.Sprintf("port=%d", rl.Addr().Port()), "sync=true")
	txErr := tx.Run()
	time.Sleep(time.Second) // the last frames in flight
	stopRx()
	rx.Wait()
	if txErr != nil {
		return 0, fmt.Errorf("gstreamer sender: %w", txErr)
	}
	return strings.Count(out.String(), "last-message = chain"), nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// gstTable runs GStreamer under the random-loss scenarios (the ones its design can
// survive at all) and writes its share of intact frames.
func gstTable(ctx context.Context, cfg Config, scens []Scenario, out io.Writer) error {
	fmt.Fprintf(out, "\nGStreamer RTP/JPEG (videotestsrc, jpegenc quality=75, mtu 1400), %d frames per run:\n\n", gstFrames)
	fmt.Fprintln(out, "| impairment | frames decoded | intact |")
	fmt.Fprintln(out, "|---|---|---|")
	for _, sc := range scens {
		if sc.Blackout > 0 {
			continue
		}
		n, err := GStreamerIntact(ctx, cfg.Width, cfg.Height, cfg.FPS, gstFrames, sc.Relay)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "| %s | %d/%d | %.1f%% |\n", sc.Name, n, gstFrames, 100*float64(n)/gstFrames)
	}
	return nil
}
