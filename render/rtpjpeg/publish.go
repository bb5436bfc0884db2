package rtpjpeg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// Reconnection delays of the RTSP publisher: the first retry, doubled after each
// failure up to the last.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// publishQueue is how many packets gortsplib may queue for the server: a power of two
// (gortsplib requires it) above the ~500 packets of a detailed 1080p frame.
const publishQueue = 4096

// CheckPublishURL reports whether u is an RTSP URL a publisher can use.
func CheckPublishURL(u string) error {
	p, err := base.ParseURL(u)
	if err != nil {
		return err
	}
	if p.Scheme != "rtsp" && p.Scheme != "rtsps" {
		return fmt.Errorf("scheme %q, want rtsp or rtsps", p.Scheme)
	}
	if p.Host == "" {
		return errors.New("no server")
	}
	return nil
}

// publisher keeps an RTSP session recording to a server (ANNOUNCE with the stream's
// SDP, SETUP over TCP, RECORD: RFC 2326 §10) and reconnects with backoff when the
// server refuses or drops it. Packets written while it is not recording are dropped
// and counted.
type publisher struct {
	url   string
	shown string // url without its password, for logs
	log   *slog.Logger
	desc  *description.Session
	media *description.Media

	mu     sync.Mutex
	client *gortsplib.Client // nil while not recording

	connected atomic.Bool
	dropped   atomic.Uint64
	sessions  atomic.Uint64

	cancel context.CancelFunc
	done   chan struct{}
}

// startPublisher starts publishing to url until close.
func startPublisher(url string, log *slog.Logger) *publisher {
	media := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.MJPEG{}}}
	ctx, cancel := context.WithCancel(context.Background())
	shown := url
	if u, err := neturl.Parse(url); err == nil {
		shown = u.Redacted()
	}
	p := &publisher{url: url, shown: shown, log: log, media: media, desc: &description.Session{Title: "HRVS", Medias: []*description.Media{media}},
		cancel: cancel, done: make(chan struct{})}
	go p.run(ctx)
	return p
}

// run connects, waits for the session to end, and reconnects until ctx ends.
func (p *publisher) run(ctx context.Context) {
	defer close(p.done)
	backoff := minBackoff
	for ctx.Err() == nil {
		tcp := gortsplib.TransportTCP
		c := &gortsplib.Client{
			// TCP: a lost packet loses a whole JPEG frame, and a server beyond the LAN
			// is reached through links that lose some; interleaved TCP also passes NAT.
			Transport:      &tcp,
			WriteQueueSize: publishQueue,
			UserAgent:      "hrvs",
			DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr) // Close cancels a dial in progress
			},
		}
		if err := c.StartRecording(p.url, p.desc); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("RTSP publish failed; retrying", "url", p.shown, "in", backoff, "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		started := time.Now()
		p.sessions.Add(1)
		p.log.Info("RTSP publishing", "url", p.shown)
		p.setClient(c)
		ended := make(chan error, 1)
		go func() { ended <- c.Wait() }() // returns once c is closed, by the server or below
		var err error
		select {
		case err = <-ended:
			p.setClient(nil)
		case <-ctx.Done():
			p.setClient(nil)
			c.Close()
			<-ended
			return
		}
		// A session that lasted resets the delay; one the server ends at once (a
		// refusal after RECORD) backs off like a failed connection.
		if time.Since(started) > maxBackoff {
			backoff = minBackoff
		}
		p.log.Warn("RTSP publish ended; reconnecting", "url", p.shown, "in", backoff, "err", err)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// sleep waits d and reports true, or false as soon as ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *publisher) setClient(c *gortsplib.Client) {
	p.mu.Lock()
	p.client = c
	p.mu.Unlock()
	p.connected.Store(c != nil)
}

// write hands one packet to the session; it is marshalled before write returns, so
// pkt's payload may be reused. A packet that finds no session or a full queue is
// dropped and counted.
func (p *publisher) write(pkt *rtp.Packet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil || p.client.WritePacketRTP(p.media, pkt) != nil {
		p.dropped.Add(1)
	}
}

// close ends the session and the reconnection loop and waits for them.
func (p *publisher) close() {
	p.cancel()
	<-p.done
}
