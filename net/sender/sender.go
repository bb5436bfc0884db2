// Package sender turns frames from a capture.Source into tile datagrams: it cuts
// each frame into tiles, encodes them on a pool of workers, and sends every tile as
// soon as it is encoded, paced so a frame never leaves as one burst. Acknowledgements
// from the receiver bound the frames in flight; when the sender cannot keep up it
// drops whole capture frames rather than queueing stale ones.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/stats"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// Config holds the sender's settings; zero values take the defaults noted.
type Config struct {
	To           string // receiver host:port; UDP datagrams and the TCP control link share it
	Quality      int    // JPEG quality 1..100 (75)
	TileW, TileH int    // tile size, multiples of 16 (DefaultTileW x DefaultTileH)
	MTU          int    // largest datagram payload in bytes, header included (1400)
	Workers      int    // tile encoders (runtime.NumCPU)
	Sockets      int    // source sockets, i.e. source ports, to spread over the receiver's pool (4)
	Window       int    // frames sent but not acknowledged before capture frames are skipped (3)
	RateBits     int64  // pacing rate in bit/s (1 Gbit/s)
	NewEncoder   func() tile.Encoder
	Stream       uint32 // stream id; 0 picks a random one
	Log          *slog.Logger
}

// Defaults; docs/PROTOCOL.md explains the tile size.
const (
	DefaultTileW    = tile.DefaultW
	DefaultTileH    = tile.DefaultH
	DefaultMTU      = 1400
	DefaultQuality  = 75
	DefaultWindow   = 3
	DefaultRateBits = 1_000_000_000
	MinMTU          = 256
)

func (c *Config) fill() error {
	if c.Quality == 0 {
		c.Quality = DefaultQuality
	}
	if c.TileW == 0 && c.TileH == 0 {
		c.TileW, c.TileH = DefaultTileW, DefaultTileH
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Sockets <= 0 {
		c.Sockets = 4
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.RateBits <= 0 {
		c.RateBits = DefaultRateBits
	}
	if c.NewEncoder == nil {
		c.NewEncoder = func() tile.Encoder { return &tile.StdEncoder{} }
	}
	for c.Stream == 0 {
		c.Stream = rand.Uint32()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Quality < 1 || c.Quality > 100:
		return fmt.Errorf("quality %d: must be 1..100", c.Quality)
	case c.MTU < MinMTU || c.MTU > wire.MaxDatagram:
		return fmt.Errorf("mtu %d: must be %d..%d", c.MTU, MinMTU, wire.MaxDatagram)
	case c.TileW <= 0 || c.TileH <= 0 || c.TileW%16 != 0 || c.TileH%16 != 0 || c.TileW > wire.MaxTileW || c.TileH > wire.MaxTileH:
		return fmt.Errorf("tile %dx%d: both sides must be multiples of 16, up to %dx%d", c.TileW, c.TileH, wire.MaxTileW, wire.MaxTileH)
	}
	return nil
}

// Stats is a snapshot of the sender's counters.
type Stats struct {
	FramesCaptured    uint64  `json:"frames_captured"`
	FramesSent        uint64  `json:"frames_sent"`
	FramesDroppedBusy uint64  `json:"frames_dropped_busy"`
	FramesDroppedAck  uint64  `json:"frames_dropped_window"`
	FramesAcked       uint64  `json:"frames_acked"`
	FramesAckedWhole  uint64  `json:"frames_acked_complete"`
	TilesSent         uint64  `json:"tiles_sent"`
	DatagramsSent     uint64  `json:"datagrams_sent"`
	BytesSent         uint64  `json:"bytes_sent"`
	SendErrors        uint64  `json:"send_errors"`
	EncodeErrors      uint64  `json:"encode_errors"`
	EncodeMsP50       float64 `json:"encode_ms_p50"`
	RTTMs             float64 `json:"rtt_ms"`
	ControlConnected  bool    `json:"control_connected"`
	ControlReconnects uint64  `json:"control_reconnects"`
	Quality           int     `json:"quality"`
	Stream            uint32  `json:"stream"`
	Width             int     `json:"width"`
	Height            int     `json:"height"`
	Tiles             int     `json:"tiles_per_frame"`
}

// Sender streams frames to one receiver.
type Sender struct {
	cfg   Config
	conns []*net.UDPConn
	ctl   *control.Client
	pace  pacer

	jobs chan tileJob
	busy atomic.Bool // a frame's tiles are still being encoded

	mu       sync.Mutex
	inflight map[uint32]time.Time // frames sent and not yet acknowledged, by send time
	grid     tile.Grid
	frameNo  uint32

	captured, sent, dropBusy, dropWindow, acked, ackedWhole atomic.Uint64
	tiles, datagrams, bytes, sendErrs, encErrs              atomic.Uint64
	encodeTime                                              stats.Latency
}

// New checks cfg and opens the sockets; nothing is sent until Run.
func New(cfg Config) (*Sender, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.To)
	if err != nil {
		return nil, fmt.Errorf("receiver address %q: %w", cfg.To, err)
	}
	s := &Sender{cfg: cfg, inflight: make(map[uint32]time.Time)}
	for i := 0; i < cfg.Sockets; i++ {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			s.closeConns()
			return nil, fmt.Errorf("open udp socket to %s: %w", cfg.To, err)
		}
		if _, snd, err := udp.RaiseBuffers(c, udp.BufferBytes); err == nil && i == 0 && snd < udp.BufferBytes {
			cfg.Log.Info("send buffer smaller than asked (raise net.core.wmem_max or run as root)", "got", snd, "asked", udp.BufferBytes)
		}
		s.conns = append(s.conns, c)
	}
	s.pace.setRate(cfg.RateBits)
	s.ctl = &control.Client{Addr: cfg.To, Stream: cfg.Stream, Log: cfg.Log, OnAck: s.onAck}
	return s, nil
}

func (s *Sender) closeConns() {
	for _, c := range s.conns {
		c.Close()
	}
}

// Stream is the stream id this sender stamps on every datagram.
func (s *Sender) Stream() uint32 { return s.cfg.Stream }

// Run sends frames from src until ctx ends, src ends, or maxFrames frames have been
// sent (0: no limit). It returns nil on a normal end.
func (s *Sender) Run(ctx context.Context, src capture.Source, maxFrames int) error {
	defer s.closeConns()
	ctlCtx, stopCtl := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.ctl.Run(ctlCtx) }()
	s.jobs = make(chan tileJob, tile.MaxTiles)
	var workers sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		workers.Add(1)
		go func() { defer workers.Done(); s.worker() }()
	}
	defer func() {
		close(s.jobs)
		workers.Wait()
		// Give the receiver a moment to acknowledge the last frames before the link closes.
		s.drainAcks(300 * time.Millisecond)
		stopCtl()
		wg.Wait()
	}()
	for maxFrames <= 0 || s.sent.Load() < uint64(maxFrames) {
		f, err := src.Next(ctx)
		if err != nil {
			if errors.Is(err, capture.ErrEnd) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("capture: %w", err)
		}
		s.captured.Add(1)
		if err := s.submit(f); err != nil {
			return err
		}
	}
	// Let the last frame's tiles leave before returning.
	for s.busy.Load() && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	return nil
}

func (s *Sender) drainAcks(max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && s.ctl.Connected() {
		s.mu.Lock()
		n := len(s.inflight)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ackTimeout is how long a frame may stay unacknowledged before it counts as lost
// and stops holding the window: a frame whose every datagram was lost is never acked.
func (s *Sender) ackTimeout() time.Duration {
	return max(250*time.Millisecond, 4*s.ctl.RTT())
}

// windowFull reports whether Window frames are in flight, forgetting the lost ones.
func (s *Sender) windowFull(now time.Time) bool {
	if !s.ctl.Connected() {
		return false // open loop: the pacer alone bounds the rate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	timeout := s.ackTimeout()
	for n, t := range s.inflight {
		if now.Sub(t) > timeout {
			delete(s.inflight, n)
		}
	}
	return len(s.inflight) >= s.cfg.Window
}

func (s *Sender) onAck(a *wire.Ack, _ time.Time) {
	if a.Stream != s.cfg.Stream {
		return
	}
	s.mu.Lock()
	_, ok := s.inflight[a.Frame]
	delete(s.inflight, a.Frame)
	s.mu.Unlock()
	if ok {
		s.acked.Add(1)
		if a.Received == a.FrameTiles {
			s.ackedWhole.Add(1)
		}
	}
}

type frameJob struct {
	f         *capture.Frame
	no        uint32
	captureUS int64
	grid      tile.Grid
	tiles     uint16
	left      atomic.Int32
	start     time.Time
}

type tileJob struct {
	fj   *frameJob
	tile int
}

// submit hands frame f to the workers, or drops it when they are still busy with the
// previous frame or the receiver is Window frames behind.
func (s *Sender) submit(f *capture.Frame) error {
	now := time.Now()
	if s.busy.Load() {
		s.dropBusy.Add(1)
		f.Release()
		return nil
	}
	if s.windowFull(now) {
		s.dropWindow.Add(1)
		f.Release()
		return nil
	}
	img := f.Image
	sub, ok := tile.SubsampleCode(img.SubsampleRatio)
	if !ok {
		f.Release()
		return fmt.Errorf("frame subsampling %v: only 4:2:0 and 4:2:2 can be sent", img.SubsampleRatio)
	}
	s.mu.Lock()
	if s.grid.W != img.Rect.Dx() || s.grid.H != img.Rect.Dy() {
		g, err := tile.NewGrid(img.Rect.Dx(), img.Rect.Dy(), s.cfg.TileW, s.cfg.TileH, sub)
		if err != nil {
			s.mu.Unlock()
			f.Release()
			return err
		}
		s.grid = g
	}
	s.frameNo++
	fj := &frameJob{f: f, no: s.frameNo, captureUS: f.Time.UnixMicro(), grid: s.grid, start: now}
	s.inflight[fj.no] = now
	s.mu.Unlock()
	n := fj.grid.Len()
	fj.tiles = uint16(n)
	fj.left.Store(int32(n))
	s.busy.Store(true)
	for i := 0; i < n; i++ {
		s.jobs <- tileJob{fj: fj, tile: i}
	}
	return nil
}

func (s *Sender) worker() {
	enc := s.cfg.NewEncoder()
	var payload []byte
	dgram := make([]byte, s.cfg.MTU)
	k := 0
	for j := range s.jobs {
		fj := j.fj
		r := fj.grid.Rect(j.tile)
		var sub uint8
		var err error
		payload, sub, err = enc.AppendTile(payload[:0], fj.f.Image, r, s.cfg.Quality)
		if err != nil {
			s.encErrs.Add(1)
		} else {
			k++
			s.sendTile(s.conns[(j.tile+k)%len(s.conns)], dgram, fj, j.tile, sub, payload)
		}
		if fj.left.Add(-1) == 0 {
			s.encodeTime.Add(time.Since(fj.start))
			fj.f.Release()
			s.sent.Add(1)
			s.busy.Store(false)
		}
	}
}

func (s *Sender) sendTile(c *net.UDPConn, dgram []byte, fj *frameJob, idx int, sub uint8, payload []byte) {
	room := len(dgram) - wire.HeaderSize
	count := wire.Fragments(len(payload), room)
	if count > 65535 || len(payload) > wire.MaxTilePayload {
		s.encErrs.Add(1)
		return
	}
	h := wire.Header{
		Stream: s.cfg.Stream, Frame: fj.no, CaptureUS: uint32(fj.captureUS),
		Width: uint16(fj.grid.W), Height: uint16(fj.grid.H),
		Tile: uint16(idx), GridTiles: uint16(fj.grid.Len()), FrameTiles: fj.tiles,
		TileW: uint16(fj.grid.TW), TileH: uint16(fj.grid.TH),
		Fragments: uint16(count), PayloadSize: uint32(len(payload)),
		Quality: uint8(s.cfg.Quality), Format: wire.CodecJPEGScan<<4 | sub,
	}
	for i := 0; i < count; i++ {
		h.Fragment = uint16(i)
		off, n := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
		h.MarshalTo(dgram)
		copy(dgram[wire.HeaderSize:], payload[off:off+n])
		size := wire.HeaderSize + n
		s.pace.wait(size)
		if _, err := c.Write(dgram[:size]); err != nil {
			s.sendErrs.Add(1) // e.g. ECONNREFUSED while no receiver listens: keep going
			continue
		}
		s.datagrams.Add(1)
		s.bytes.Add(uint64(size))
	}
	s.tiles.Add(1)
}

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	g := s.grid
	s.mu.Unlock()
	return Stats{
		FramesCaptured: s.captured.Load(), FramesSent: s.sent.Load(),
		FramesDroppedBusy: s.dropBusy.Load(), FramesDroppedAck: s.dropWindow.Load(),
		FramesAcked: s.acked.Load(), FramesAckedWhole: s.ackedWhole.Load(),
		TilesSent: s.tiles.Load(), DatagramsSent: s.datagrams.Load(), BytesSent: s.bytes.Load(),
		SendErrors: s.sendErrs.Load(), EncodeErrors: s.encErrs.Load(),
		EncodeMsP50:      s.encodeTime.Percentile(50),
		RTTMs:            float64(s.ctl.RTT()) / float64(time.Millisecond),
		ControlConnected: s.ctl.Connected(), ControlReconnects: s.ctl.Reconnects(),
		Quality: s.cfg.Quality, Stream: s.cfg.Stream, Width: g.W, Height: g.H, Tiles: g.Len(),
	}
}
