package rtpjpeg

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"image"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/pion/rtp"
)

// DefaultQuality is the JPEG quality of the frames sent when neither the options
// nor the frame name one.
const DefaultQuality = 80

// Options choose where a Sink sends and how.
type Options struct {
	// To is the UDP address, HOST:PORT, the RTP packets go to; "" for none.
	To string
	// SDP is the file the stream's session description is written to for players
	// (needs To); "" for none.
	SDP string
	// Publish is an rtsp:// URL to publish the same packets to; "" for none.
	Publish string
	// MTU is the largest RTP packet in bytes; 0 means DefaultMTU.
	MTU int
	// Quality is the JPEG quality 1..100; 0 means the quality the sender used.
	Quality int
	Log     *slog.Logger // may be nil
}

// Stats count what a Sink did.
type Stats struct {
	FramesSent    uint64 // frames whose packets were all handed to the socket or server
	FramesSkipped uint64 // frames replaced by a newer one before they were sent
	FramesScaled  uint64 // frames sent smaller because a side exceeded MaxSide
	FramesFailed  uint64 // frames that could not be encoded or packetised
	Packets       uint64 // RTP packets sent to To
	SendErrors    uint64 // packets the socket refused
	PublishDrops  uint64 // packets dropped while the RTSP session was down or full
	Publishing    bool   // an RTSP session is recording now
	Sessions      uint64 // RTSP sessions started, reconnections included
}

// Sink sends the newest frames as RTP/JPEG. Show never waits for the network: it
// keeps the frame as the next to send, replacing (and counting) one not yet sent, so
// a slow output always sends the newest frame and drops the older ones.
type Sink struct {
	opt  Options
	log  *slog.Logger
	conn *net.UDPConn
	dst  *net.UDPAddr
	pub  *publisher

	mu      sync.Mutex
	next    *receiver.Frame // newest frame not yet taken by the sender goroutine
	nextAt  time.Time       // its capture time, or when it was shown
	closed  bool
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	// Owned by the sender goroutine.
	enc        fastjpeg.Encoder
	jpeg       []byte
	pk         Packetizer
	shrink     shrinker
	tsBase     uint32
	t0         time.Time
	lastTS     uint32
	sentAny    bool
	scaledOnce bool
	sendErr    string

	sent, skipped, scaled, failed, packets, sendErrors atomic.Uint64
}

// Open starts a Sink sending to opt.To and/or publishing to opt.Publish, and writes
// opt.SDP. On error nothing stays open.
func Open(opt Options) (*Sink, error) {
	if opt.To == "" && opt.Publish == "" {
		return nil, fmt.Errorf("rtpjpeg: nothing to send to")
	}
	if opt.SDP != "" && opt.To == "" {
		return nil, fmt.Errorf("rtpjpeg: an SDP file describes an RTP address; none given")
	}
	if opt.Quality < 0 || opt.Quality > 100 {
		return nil, fmt.Errorf("rtpjpeg: quality %d, want 1..100", opt.Quality)
	}
	if opt.MTU != 0 && (opt.MTU < minMTU || opt.MTU > 65507) {
		return nil, fmt.Errorf("rtpjpeg: MTU %d, want %d..65507", opt.MTU, minMTU)
	}
	s := &Sink{opt: opt, log: opt.Log, kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var seed [10]byte
	rand.Read(seed[:])
	// Random SSRC, first sequence number and timestamp (RFC 3550 §5.1).
	s.pk = Packetizer{SSRC: binary.BigEndian.Uint32(seed[0:]), Seq: binary.BigEndian.Uint16(seed[4:]), MTU: opt.MTU}
	s.tsBase = binary.BigEndian.Uint32(seed[6:])
	if opt.To != "" {
		if err := s.openUDP(); err != nil {
			return nil, err
		}
	}
	if opt.Publish != "" {
		if err := CheckPublishURL(opt.Publish); err != nil {
			s.closeConn()
			return nil, fmt.Errorf("rtpjpeg: publish URL %q: %w", opt.Publish, err)
		}
		s.pub = startPublisher(opt.Publish, s.log)
	}
	go s.run()
	return s, nil
}

// openUDP resolves opt.To, opens the sending socket and writes the SDP file.
func (s *Sink) openUDP() error {
	dst, err := net.ResolveUDPAddr("udp", s.opt.To)
	if err != nil {
		return fmt.Errorf("rtpjpeg: %w", err)
	}
	if dst.IP == nil || dst.IP.IsUnspecified() || dst.Port == 0 {
		return fmt.Errorf("rtpjpeg: %s: want a host and a port to send to", s.opt.To)
	}
	// Not connected: a connected socket would turn the ICMP "port unreachable" of a
	// player not yet started into write errors.
	network := "udp4"
	if dst.IP.To4() == nil {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, nil)
	if err != nil {
		return fmt.Errorf("rtpjpeg: %w", err)
	}
	s.conn, s.dst = conn, dst
	if s.opt.SDP == "" {
		return nil
	}
	var origin net.IP
	if probe, err := net.DialUDP(network, nil, dst); err == nil { // no packet sent: picks the route's source address
		origin = probe.LocalAddr().(*net.UDPAddr).IP
		probe.Close()
	}
	var id [8]byte
	rand.Read(id[:])
	sdp := SDP(dst, origin, binary.BigEndian.Uint64(id[:])>>1, "HRVS")
	if err := os.WriteFile(s.opt.SDP, sdp, 0o644); err != nil {
		s.closeConn()
		return fmt.Errorf("rtpjpeg: SDP: %w", err)
	}
	return nil
}

func (s *Sink) closeConn() {
	if s.conn != nil {
		s.conn.Close()
	}
}

// Addr is the UDP address packets go to; nil when the sink only publishes.
func (s *Sink) Addr() *net.UDPAddr { return s.dst }

// Show keeps f as the next frame to send; a frame still waiting is dropped.
func (s *Sink) Show(f *receiver.Frame) error {
	at := f.Captured
	if at.IsZero() {
		at = time.Now()
	}
	f.Retain()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		f.Release()
		return nil
	}
	old := s.next
	s.next, s.nextAt = f, at
	s.mu.Unlock()
	if old != nil {
		old.Release()
		s.skipped.Add(1)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

// take returns the frame waiting, if any, and leaves none.
func (s *Sink) take() (*receiver.Frame, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, at := s.next, s.nextAt
	s.next = nil
	return f, at
}

// run sends frames until Close.
func (s *Sink) run() {
	defer close(s.stopped)
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		}
		f, at := s.take()
		if f == nil {
			continue
		}
		if err := s.send(f, at); err != nil {
			s.failed.Add(1)
			s.log.Warn("RTP/JPEG frame not sent", "seq", f.Seq, "err", err)
		}
	}
}

// send encodes f, releases it, and sends its packets.
func (s *Sink) send(f *receiver.Frame, at time.Time) error {
	if f.Image == nil {
		f.Release()
		return fmt.Errorf("rtpjpeg: frame %d has no picture", f.Seq)
	}
	img, err := s.fitted(f.Image)
	if err == nil {
		q := s.opt.Quality
		if q == 0 {
			q = f.Quality
		}
		if q < 1 || q > 100 {
			q = DefaultQuality
		}
		s.jpeg, err = s.enc.AppendJPEG(s.jpeg[:0], img, q)
	}
	f.Release()
	if err != nil {
		return err
	}
	ts := s.timestamp(at)
	var pkt rtp.Packet
	_, err = s.pk.Packetize(s.jpeg, ts, func(b []byte) error {
		if s.conn != nil {
			if _, err := s.conn.WriteToUDP(b, s.dst); err != nil {
				s.sendErrors.Add(1)
				if msg := err.Error(); msg != s.sendErr { // once per distinct reason
					s.sendErr = msg
					s.log.Warn("RTP/JPEG packets not sent", "to", s.dst, "err", err)
				}
			} else {
				s.packets.Add(1)
			}
		}
		if s.pub != nil {
			if err := pkt.Unmarshal(b); err != nil {
				return err
			}
			s.pub.write(&pkt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.sent.Add(1)
	return nil
}

// fitted returns img, or img scaled down when a side exceeds what RFC 2435 describes;
// the first scaled frame is logged.
func (s *Sink) fitted(img *image.YCbCr) (*image.YCbCr, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	fw, fh, scaled := fit(w, h)
	if !scaled {
		return img, nil
	}
	if !s.scaledOnce {
		s.scaledOnce = true
		s.log.Info("RTP/JPEG out: frames scaled down, RFC 2435 describes at most 2040 pixels a side",
			"from", fmt.Sprintf("%dx%d", w, h), "to", fmt.Sprintf("%dx%d", fw, fh))
	}
	s.scaled.Add(1)
	return s.shrink.shrink(img, fw, fh)
}

// timestamp maps a capture time to the 90 kHz RTP clock (RFC 2435 §3: the
// timestamp of the frame's sampling instant), from a random base, never going back.
func (s *Sink) timestamp(at time.Time) uint32 {
	if !s.sentAny {
		s.sentAny, s.t0, s.lastTS = true, at, s.tsBase
		return s.tsBase
	}
	d := at.Sub(s.t0) // whole seconds apart so a long run cannot overflow the product
	ts := s.tsBase + uint32(int64(d/time.Second)*ClockRate+int64(d%time.Second)*ClockRate/int64(time.Second))
	if int32(ts-s.lastTS) <= 0 { // a clock step back, or two frames in one tick
		ts = s.lastTS + 1
	}
	s.lastTS = ts
	return ts
}

// Stats returns the counts so far.
func (s *Sink) Stats() Stats {
	st := Stats{FramesSent: s.sent.Load(), FramesSkipped: s.skipped.Load(), FramesScaled: s.scaled.Load(),
		FramesFailed: s.failed.Load(), Packets: s.packets.Load(), SendErrors: s.sendErrors.Load()}
	if s.pub != nil {
		st.PublishDrops, st.Publishing, st.Sessions = s.pub.dropped.Load(), s.pub.connected.Load(), s.pub.sessions.Load()
	}
	return st
}

// Close stops sending, ends the RTSP session and frees the frame still waiting. It
// may be called more than once.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.stopped
	if f, _ := s.take(); f != nil {
		f.Release()
	}
	if s.pub != nil {
		s.pub.close()
	}
	s.closeConn()
	st := s.Stats()
	s.log.Info("RTP/JPEG out closed", "frames_sent", st.FramesSent, "frames_skipped", st.FramesSkipped,
		"frames_scaled", st.FramesScaled, "frames_failed", st.FramesFailed, "packets", st.Packets,
		"send_errors", st.SendErrors, "rtsp_sessions", st.Sessions, "rtsp_dropped", st.PublishDrops)
	return nil
}
