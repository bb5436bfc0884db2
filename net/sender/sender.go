// Package sender turns frames from a capture.Source into tile datagrams: it cuts
// each frame into tiles, sends only the tiles that changed since the version the
// receiver holds (plus the ones the receiver reported missing and a slow rolling
// refresh), encodes them on a pool of workers and sends each as soon as it is
// encoded, paced. Acknowledgements drive repair and a rate controller that trades
// JPEG quality, refresh pace and, last, frame rate against the path's bandwidth.
package sender

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/stats"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// Config holds the sender's settings; zero values take the defaults noted.
type Config struct {
	To           string // receiver host:port; UDP datagrams and the TCP control link share it
	Quality      int    // highest JPEG quality 1..100, where rate control starts (75)
	MinQuality   int    // lowest quality rate control may choose before it skips frames (DefaultMinQuality)
	TileW, TileH int    // tile size, multiples of 16 (DefaultTileW x DefaultTileH)
	MTU          int    // largest datagram payload in bytes, header included (1400)
	Workers      int    // tile encoders (runtime.NumCPU)
	Sockets      int    // source sockets, i.e. source ports, to spread over the receiver's pool (4)
	Window       int    // frames sent but not acknowledged before capture frames are skipped (3)
	RateBits     int64  // peak pacing rate in bit/s, the link's line rate (1 Gbit/s)
	// MaxBitrate caps the average rate in bit/s (0: only the path's measured capacity limits it).
	MaxBitrate int64
	// ChangeThreshold is the mean absolute difference, in 8-bit levels over a 16x16
	// block, above which a tile counts as changed (DefaultChangeThreshold); negative
	// sends every tile of every frame (no conditional replenishment).
	ChangeThreshold int
	// Refresh is the period within which every tile is sent again even if unchanged,
	// so a receiver that joins late or missed a repair heals (DefaultRefresh).
	Refresh time.Duration
	// FEC sets Reed-Solomon parity: 0 adapts the parity to the measured loss (none
	// while the path loses under 0.5%), -1 never sends parity, 1..100 sends that
	// many parity datagrams per hundred data datagrams of every block.
	FEC int
	// FrameSpan is the longest a frame may take to cross the path at the target
	// rate once the quality is at its lowest: tiles beyond it wait for the next
	// frames (DefaultFrameSpan; negative never trims, for tests of fidelity).
	FrameSpan  time.Duration
	NewEncoder func() tile.Encoder // tile encoder per worker (tile.FastEncoder)
	// DialControl, when set, dials the TCP control link (tests run senders inside
	// network namespaces with it); nil uses net.Dialer.
	DialControl func(ctx context.Context, addr string) (net.Conn, error)
	Stream      uint32 // stream id; 0 picks a random one
	Log         *slog.Logger
}

// Defaults; docs/PROTOCOL.md explains the tile size, docs/CONTROL.md the rest.
const (
	DefaultTileW           = tile.DefaultW
	DefaultTileH           = tile.DefaultH
	DefaultMTU             = 1400
	DefaultQuality         = 75
	DefaultMinQuality      = 20
	DefaultWindow          = 3
	DefaultRateBits        = 1_000_000_000
	DefaultChangeThreshold = 4
	DefaultRefresh         = 2 * time.Second
	DefaultFrameSpan       = 40 * time.Millisecond
	MinMTU                 = 256
)

// fecMiss is the share of parity blocks adaptive FEC lets fail at the measured
// loss: rare enough that frames stay whole, while repair by ack covers the rest.
const fecMiss = 0.001

// stallAfter is how long the control link may stay silent while frames are in
// flight before the sender stops trusting it and runs open loop.
const stallAfter = time.Second

// keepFlights is how long a frame's record is kept for a late acknowledgement, so
// frames lost in a blackout are recognised and repaired when acks resume.
const keepFlights = 10 * time.Second

func (c *Config) fill() error {
	if c.Quality == 0 {
		c.Quality = DefaultQuality
	}
	if c.MinQuality == 0 {
		c.MinQuality = min(DefaultMinQuality, c.Quality)
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
	if c.ChangeThreshold == 0 {
		c.ChangeThreshold = DefaultChangeThreshold
	}
	if c.Refresh == 0 {
		c.Refresh = DefaultRefresh
	}
	if c.FrameSpan == 0 {
		c.FrameSpan = DefaultFrameSpan
	}
	if c.NewEncoder == nil {
		c.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
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
	case c.MinQuality < 1 || c.MinQuality > c.Quality:
		return fmt.Errorf("minimum quality %d: must be 1..%d (the quality)", c.MinQuality, c.Quality)
	case c.MTU < MinMTU || c.MTU > wire.MaxDatagram:
		return fmt.Errorf("mtu %d: must be %d..%d", c.MTU, MinMTU, wire.MaxDatagram)
	case c.TileW <= 0 || c.TileH <= 0 || c.TileW%16 != 0 || c.TileH%16 != 0 || c.TileW > wire.MaxTileW || c.TileH > wire.MaxTileH:
		return fmt.Errorf("tile %dx%d: both sides must be multiples of 16, up to %dx%d", c.TileW, c.TileH, wire.MaxTileW, wire.MaxTileH)
	case c.MaxBitrate < 0 || (c.MaxBitrate > 0 && c.MaxBitrate < 100_000):
		return fmt.Errorf("max bitrate %d bit/s: must be 0 (none) or at least 100 kbit/s", c.MaxBitrate)
	case c.ChangeThreshold > 255:
		return fmt.Errorf("change threshold %d: must be at most 255 levels", c.ChangeThreshold)
	case c.FEC < -1 || c.FEC > 100:
		return fmt.Errorf("fec %d: must be -1 (off), 0 (adaptive) or 1..100 parity datagrams per 100", c.FEC)
	case c.Refresh < 100*time.Millisecond:
		return fmt.Errorf("refresh period %v: must be at least 100ms", c.Refresh)
	}
	return nil
}

// Stats is a snapshot of the sender's counters.
type Stats struct {
	FramesCaptured    uint64  `json:"frames_captured"`
	FramesSent        uint64  `json:"frames_sent"`
	FramesDroppedBusy uint64  `json:"frames_dropped_busy"`
	FramesDroppedAck  uint64  `json:"frames_dropped_window"`
	FramesDroppedRate uint64  `json:"frames_dropped_rate"`
	FramesAcked       uint64  `json:"frames_acked"`
	FramesAckedWhole  uint64  `json:"frames_acked_complete"`
	TilesSent         uint64  `json:"tiles_sent"`
	TilesChanged      uint64  `json:"tiles_changed"`   // sent because the picture changed (or never sent before)
	TilesRepaired     uint64  `json:"tiles_repaired"`  // sent again because the receiver missed them
	TilesRefreshed    uint64  `json:"tiles_refreshed"` // sent by the rolling refresh
	TilesLost         uint64  `json:"tiles_lost"`      // reported missing, or in frames never acknowledged
	TilesDeferred     uint64  `json:"tiles_deferred"`  // left for a later frame so a frame crosses a slow path in frameSpan
	TileShare         float64 `json:"tile_share"`      // tiles sent / (frames sent x grid tiles): 1 is full frames
	DatagramsSent     uint64  `json:"datagrams_sent"`
	BytesSent         uint64  `json:"bytes_sent"`
	SendErrors        uint64  `json:"send_errors"`
	EncodeErrors      uint64  `json:"encode_errors"`
	EncodeMsP50       float64 `json:"encode_ms_p50"`
	RTTMs             float64 `json:"rtt_ms"`
	ControlConnected  bool    `json:"control_connected"`
	ControlReconnects uint64  `json:"control_reconnects"`
	OpenLoop          bool    `json:"open_loop"` // no usable acknowledgements: safe rate, no repair
	Quality           int     `json:"quality"`   // current quality chosen by rate control
	TargetMbps        float64 `json:"target_mbit_per_s"`
	ReceiveMbps       float64 `json:"receive_mbit_per_s"` // what the receiver reported getting
	QueueDelayMs      float64 `json:"queue_delay_ms"`     // one-way delay above the path's empty-queue minimum
	LossPct           float64 `json:"loss_pct"`           // smoothed datagram loss: payload bytes the receiver reported against those sent
	FECPct            float64 `json:"fec_pct"`            // parity datagrams per 100 data datagrams in the last protected frame, 0 when unprotected
	RefreshFactor     int     `json:"refresh_factor"`     // refresh period stretched this many times by rate control
	Stream            uint32  `json:"stream"`
	Width             int     `json:"width"`
	Height            int     `json:"height"`
	Tiles             int     `json:"tiles_per_frame"` // grid tiles
}

// tileState is what the sender knows of one grid tile at the receiver.
type tileState struct {
	sent      uint32 // frame that carried the newest version sent
	everSent  bool
	confirmed bool // the receiver acknowledged that version
	lost      bool // that version did not arrive: send the tile again with the next frame
	est       int  // smoothed encoded size in bytes, 0 before the first encode
}

// flight is a frame sent and not yet acknowledged.
type flight struct {
	fj      *frameJob
	at      time.Time // submitted
	done    time.Time // last datagram sent; zero while encoding
	tiles   []uint16
	gen     int // grid generation, so a resize invalidates old records
	expired bool
}

// Sender streams frames to one receiver.
type Sender struct {
	cfg   Config
	conns []*net.UDPConn
	ctl   *control.Client
	pace  pacer

	jobs chan tileJob
	busy atomic.Bool   // a frame's tiles are still being encoded
	idle chan struct{} // signalled when busy clears, for unpaced sources

	mu         sync.Mutex
	inflight   map[uint32]*flight
	grid       tile.Grid
	gen        int
	frameNo    uint32
	tiles      []tileState
	ref        *image.YCbCr // the newest version sent of every tile: what change is measured against
	rc         *rateControl
	refreshPos int
	refreshDue float64 // tiles owed to the rolling refresh
	lastSubmit time.Time
	lastAck    time.Time
	linkUp     bool
	linkUpAt   time.Time
	openLoop   bool
	fitPos     int    // where the next frame trimmed by fit starts
	protecting bool   // adaptive parity is on
	reconnects uint64 // control reconnections already acted on
	skipped    int    // frames skipped for rate since the last one sent

	captured, sent, dropBusy, dropWindow, dropRate, acked, ackedWhole atomic.Uint64
	tilesSent, changedN, repairedN, refreshedN, lostN, deferredN      atomic.Uint64
	datagrams, bytes, sendErrs, encErrs                               atomic.Uint64
	encodeTime                                                        stats.Latency

	codes     *fec.Codes
	shardPool sync.Pool     // *[]byte of MTU bytes, for protected frames' shards
	fecPct    atomic.Uint64 // float64 bits: parity per 100 data datagrams, last protected frame
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
	s := &Sender{cfg: cfg, inflight: make(map[uint32]*flight), rc: newRateControl(cfg.MaxBitrate, cfg.Quality, cfg.MinQuality), idle: make(chan struct{}, 1),
		codes: fec.NewCodes()}
	s.shardPool.New = func() any { b := make([]byte, cfg.MTU); return &b }
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
	s.pace.setRate(s.paceBits())
	s.ctl = &control.Client{Addr: cfg.To, Stream: cfg.Stream, Log: cfg.Log, OnAck: s.onAck, Dial: cfg.DialControl}
	return s, nil
}

// paceBits is the pacing rate: twice the target, so a frame leaves in about half a
// frame time and a bottleneck at the target queues at most half a frame, but never
// above the line rate. Called with mu held (or before Run).
func (s *Sender) paceBits() int64 {
	return s.rc.paceBits(time.Now(), s.cfg.RateBits)
}

func (s *Sender) closeConns() {
	for _, c := range s.conns {
		c.Close()
	}
}

// Stream is the stream id this sender stamps on every datagram.
func (s *Sender) Stream() uint32 { return s.cfg.Stream }

// dispatched is the number of frames handed to the workers so far.
func (s *Sender) dispatched() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(s.frameNo)
}

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
	// A source with no rate of its own makes a frame whenever asked: asking while
	// the previous frame is still encoding would only make a frame to drop.
	unpaced := src.Info().FPS == 0
	// Count frames handed to the workers, not finished ones: the loop asks for the
	// next frame while the last is still being encoded.
	for maxFrames <= 0 || s.dispatched() < uint64(maxFrames) {
		for unpaced && s.busy.Load() && ctx.Err() == nil {
			select {
			case <-s.idle:
			case <-ctx.Done():
			}
		}
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
		n := 0
		for _, fl := range s.inflight {
			if !fl.expired {
				n++
			}
		}
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

// checkLoop decides whether acknowledgements can be trusted: the control link is up
// and has answered recently, or nothing has been waiting for an answer. It handles
// the transitions: a new connection may lead to a new receiver, so every tile is
// sent again; losing the loop drops to the open-loop rate. Called with mu held.
func (s *Sender) checkLoop(now time.Time) bool {
	up := s.ctl.Connected()
	if up && !s.linkUp {
		s.linkUpAt = now
		// A reconnection may reach a restarted receiver that holds nothing: send
		// every tile again. (On the first connection, frames sent before it are
		// settled by the first ack like any others.)
		if n := s.ctl.Reconnects(); n != s.reconnects {
			s.reconnects = n
			for i := range s.tiles {
				if s.tiles[i].everSent {
					s.tiles[i].lost = true
				}
			}
		}
	}
	s.linkUp = up
	waiting := false
	for _, fl := range s.inflight {
		if !fl.done.IsZero() && now.Sub(fl.done) > stallAfter && fl.done.After(s.lastAck) {
			waiting = true
			break
		}
	}
	closed := up && !(waiting && now.Sub(s.lastAck) > stallAfter && now.Sub(s.linkUpAt) > stallAfter)
	if !closed && !s.openLoop && !s.lastAck.IsZero() {
		s.rc.openLoop()
		s.cfg.Log.Info("sender: no acknowledgements, running open loop", "target_mbit_per_s", s.rc.target/1e6)
	}
	s.openLoop = !closed
	return closed
}

// expire gives up on frames unacknowledged for longer than the ack timeout. In
// closed loop their tiles are lost and go again; open loop, nothing can be known,
// so the records are kept until acks resume and show which frames arrived.
func (s *Sender) expire(now time.Time, closed bool) {
	timeout := s.ackTimeout()
	for n, fl := range s.inflight {
		age := now.Sub(fl.at)
		// The ack timeout runs from the last datagram: a slow encoder is not a lost frame.
		if !fl.expired && !fl.done.IsZero() && now.Sub(fl.done) > timeout {
			fl.expired = true
			if closed {
				s.markLost(n, fl)
			}
		}
		if age > keepFlights {
			delete(s.inflight, n)
		}
	}
}

// markLost marks the tiles of frame n whose newest version it carried for repair.
func (s *Sender) markLost(n uint32, fl *flight) int {
	if fl.gen != s.gen {
		return 0
	}
	lost := 0
	for _, t := range fl.tiles {
		if ts := &s.tiles[t]; ts.sent == n && !ts.confirmed && !ts.lost {
			ts.lost = true
			lost++
		}
	}
	s.lostN.Add(uint64(lost))
	return lost
}

// onAck learns what the receiver got of one frame. Frames older than the one
// acknowledged that were never acknowledged did not reach the receiver at all (it
// releases frames in order and the ack link is ordered), so they count as lost too.
func (s *Sender) onAck(a *wire.Ack, now time.Time) {
	if a.Stream != s.cfg.Stream {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastAck = now
	fl := s.inflight[a.Frame]
	if fl == nil {
		return
	}
	delete(s.inflight, a.Frame)
	for n, g := range s.inflight {
		if int32(n-a.Frame) < 0 {
			s.markLost(n, g)
			delete(s.inflight, n)
		}
	}
	s.acked.Add(1)
	if a.Received == a.FrameTiles {
		s.ackedWhole.Add(1)
	}
	if fl.gen == s.gen && int(a.GridTiles) == len(s.tiles) {
		for _, t := range fl.tiles {
			ts := &s.tiles[t]
			if !a.Has(int(t)) {
				s.lostN.Add(1)
				if ts.sent == a.Frame { // else a newer version is already on its way
					ts.lost = true
				}
			} else if ts.sent == a.Frame {
				ts.confirmed, ts.lost = true, false
			}
		}
	}
	if first := fl.fj.firstSendUS.Load(); first != 0 {
		owd := float64(a.FirstUS-first) / 1000
		s.rc.onAck(now, owd, a.FirstUS, a.Bytes, fl.fj.payload.Load(), fl.fj.bytes.Load())
		// Data datagrams are numbered in sending order and the ack says which
		// arrived from the network (parity's rebuilds aside). Random loss hits both
		// halves of a frame alike; a queue that overflows under the frame's own
		// burst drops its tail.
		if d := min(int(fl.fj.seq.Load()), 1<<16); d >= 2 {
			lost, lostLate := 0, 0
			for i := range d {
				if !a.Came(i) {
					lost++
					if i >= d/2 {
						lostLate++
					}
				}
			}
			s.rc.onDatagramLoss(now, lost, lostLate, float64(d-d/2)/float64(d))
		}
		if a.Received == a.FrameTiles { // a partial frame's release time says nothing of the path
			s.rc.onDispersion(now, fl.fj.bytes.Load(), fl.fj.lastSendUS.Load()-first, a.ReadyUS-a.FirstUS)
		}
		s.pace.setRate(s.paceBits())
	}
}

type frameJob struct {
	f           *capture.Frame
	ref         *image.YCbCr // the sender's reference picture, updated as tiles leave
	sizes       []int32      // encoded bytes per carried tile, in job order; read once the frame is done
	deferred    int          // estimated bytes of the tiles fit left for later frames
	no          uint32
	captureUS   int64
	grid        tile.Grid
	quality     int
	tiles       uint16
	left        atomic.Int32
	sub         uint8        // the frame's subsampling code, which every datagram carries
	protect     bool         // Reed-Solomon parity follows the data (docs/PROTOCOL.md §3.4)
	seq         atomic.Int32 // data datagrams numbered so far
	shardMu     sync.Mutex
	shards      [][]byte // by data datagram index, when protected: prefix and payload
	bytes       atomic.Int64
	payload     atomic.Int64 // fragment payload bytes (parity excluded), what the ack's byte count measures
	datagrams   atomic.Int64
	firstSendUS atomic.Int64
	lastSendUS  atomic.Int64
	start       time.Time
}

type tileJob struct {
	fj   *frameJob
	tile int
	pos  int // place in the frame's jobs
	flag uint8
}

// submit picks the tiles of frame f that must go, and hands them to the workers; or
// drops f when the workers are still busy with the previous frame, the receiver is
// Window frames behind, or the rate budget is spent.
func (s *Sender) submit(f *capture.Frame) error {
	now := time.Now()
	if s.busy.Load() {
		s.dropBusy.Add(1)
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
	closed := s.checkLoop(now)
	s.expire(now, closed)
	if closed && s.windowFull() {
		s.mu.Unlock()
		s.dropWindow.Add(1)
		f.Release()
		return nil
	}
	if !s.rc.frameBudget(now) {
		s.skipped++
		s.mu.Unlock()
		s.dropRate.Add(1)
		f.Release()
		return nil
	}
	if s.grid.W != img.Rect.Dx() || s.grid.H != img.Rect.Dy() || s.ref == nil || s.ref.SubsampleRatio != img.SubsampleRatio {
		g, err := tile.NewGrid(img.Rect.Dx(), img.Rect.Dy(), s.cfg.TileW, s.cfg.TileH, sub)
		if err != nil {
			s.mu.Unlock()
			f.Release()
			return err
		}
		s.grid, s.gen = g, s.gen+1
		s.tiles = make([]tileState, g.Len())
		s.ref = image.NewYCbCr(image.Rect(0, 0, g.W, g.H), img.SubsampleRatio)
		s.refreshPos, s.refreshDue = 0, 0
	}
	jobs, deferred := s.pick(now, img)
	s.frameNo++
	fj := &frameJob{f: f, no: s.frameNo, captureUS: f.Time.UnixMicro(), grid: s.grid, quality: s.rc.quality, start: now, ref: s.ref,
		sub: sub, protect: s.protect(), deferred: deferred}
	fl := &flight{fj: fj, at: now, gen: s.gen, tiles: make([]uint16, len(jobs))}
	fj.sizes = make([]int32, len(jobs))
	for i, j := range jobs {
		jobs[i].pos = i
		ts := &s.tiles[j.tile]
		*ts = tileState{sent: fj.no, everSent: true, est: ts.est}
		fl.tiles[i] = uint16(j.tile)
	}
	s.inflight[fj.no] = fl
	s.mu.Unlock()
	fj.tiles = uint16(len(jobs))
	fj.left.Store(int32(len(jobs)))
	s.busy.Store(true)
	for _, j := range jobs {
		j.fj = fj
		s.jobs <- j
	}
	return nil
}

// windowFull reports whether Window frames are awaiting acknowledgement. Called with mu held.
func (s *Sender) windowFull() bool {
	n := 0
	for _, fl := range s.inflight {
		if !fl.expired {
			n++
		}
	}
	return n >= s.cfg.Window
}

// pick chooses the tiles frame img carries: every tile never sent or lost, every
// tile that changed, and the next few of the rolling refresh; at least one, so the
// receiver sees every frame. Called with mu held.
func (s *Sender) pick(now time.Time, img *image.YCbCr) (jobs []tileJob, deferred int) {
	n := s.grid.Len()
	jobs = make([]tileJob, 0, n)
	chosen := make([]bool, n)
	for i := range n {
		ts := &s.tiles[i]
		switch {
		case !ts.everSent || s.cfg.ChangeThreshold < 0:
			jobs = append(jobs, tileJob{tile: i})
		case ts.lost:
			jobs = append(jobs, tileJob{tile: i, flag: wire.FlagRepair})
		case changed(img, s.ref, s.grid.Rect(i), s.cfg.ChangeThreshold):
			jobs = append(jobs, tileJob{tile: i})
		default:
			continue
		}
		chosen[i] = true
	}
	if !s.lastSubmit.IsZero() {
		period := s.cfg.Refresh * time.Duration(s.rc.refreshX)
		s.refreshDue += float64(n) * now.Sub(s.lastSubmit).Seconds() / period.Seconds()
		s.refreshDue = min(s.refreshDue, float64(n))
	}
	s.lastSubmit = now
	due := int(math.Floor(s.refreshDue))
	if len(jobs) == 0 && due == 0 {
		due = 1 // a keepalive: one tile, taken from the refresh's turn
	}
	for k := 0; k < n && due > 0; k++ {
		i := s.refreshPos
		s.refreshPos = (s.refreshPos + 1) % n
		s.refreshDue = max(0, s.refreshDue-1)
		due--
		if chosen[i] {
			continue // already going: it counts as refreshed
		}
		jobs = append(jobs, tileJob{tile: i, flag: wire.FlagRefresh})
	}
	jobs, deferred = s.fit(jobs)
	for _, j := range jobs {
		switch j.flag {
		case wire.FlagRepair:
			s.repairedN.Add(1)
		case wire.FlagRefresh:
			s.refreshedN.Add(1)
		default:
			s.changedN.Add(1)
		}
	}
	return jobs, deferred
}

// fit trims jobs, once the quality is at its lowest, to the bytes the path carries
// in Config.FrameSpan at the target rate. On a slow link a frame of every changed
// tile takes longer than that (a 1080p frame at the lowest quality is ~100 KB: 160
// ms at 5 Mbit/s), and its latency with it, so the frame carries only the tiles
// that fit, by each tile's recent encoded size: repairs first, then changed tiles,
// then the refresh, each in turn from where the last trimmed frame stopped, so
// every tile gets its turn. A changed tile left out is still changed next frame
// (the reference holds what was sent), a lost one still lost. At least one tile
// goes. Called with mu held.
func (s *Sender) fit(jobs []tileJob) (kept []tileJob, deferred int) {
	if s.rc.quality > s.rc.qMin || s.cfg.FrameSpan < 0 {
		return jobs, 0 // lowering the quality comes first (docs/CONTROL.md §5)
	}
	budget := s.rc.target / 8 * s.cfg.FrameSpan.Seconds()
	known, sum := 0, 0
	for _, j := range jobs {
		if e := s.tiles[j.tile].est; e > 0 {
			known++
			sum += e
		}
	}
	if known == 0 {
		return jobs, 0 // nothing encoded yet: no estimate
	}
	mean := sum / known
	est := func(t int) int {
		if e := s.tiles[t].est; e > 0 {
			return e
		}
		return mean
	}
	total := 0
	for _, j := range jobs {
		total += est(j.tile)
	}
	if float64(total) <= budget {
		return jobs, 0
	}
	n := s.grid.Len()
	class := func(j tileJob) int {
		switch j.flag {
		case wire.FlagRepair:
			return 0
		case wire.FlagRefresh:
			return 2
		}
		return 1
	}
	slices.SortStableFunc(jobs, func(a, b tileJob) int {
		if c := class(a) - class(b); c != 0 {
			return c
		}
		return (a.tile-s.fitPos+n)%n - (b.tile-s.fitPos+n)%n
	})
	used, keep := 0, 0
	for keep < len(jobs) && (keep == 0 || float64(used+est(jobs[keep].tile)) <= budget) {
		used += est(jobs[keep].tile)
		keep++
	}
	if keep < len(jobs) {
		s.fitPos = jobs[keep].tile // the next trimmed frame starts with the first left out
		s.deferredN.Add(uint64(len(jobs) - keep))
	}
	return jobs[:keep], total - used
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
		payload, sub, err = enc.AppendTile(payload[:0], fj.f.Image, r, fj.quality)
		if err != nil {
			s.encErrs.Add(1)
		} else {
			k++
			fj.sizes[j.pos] = int32(len(payload))
			s.sendTile(s.conns[(j.tile+k)%len(s.conns)], dgram, fj, j, sub, payload)
		}
		// The reference holds what was sent, so the next change test compares with it.
		// No other worker touches this tile's rectangle, and submit reads the
		// reference only once the whole frame is done (busy).
		if ref := fj.ref; ref != nil && ref.Rect == fj.f.Image.Rect && ref.SubsampleRatio == fj.f.Image.SubsampleRatio {
			tile.CopyRect(ref, fj.f.Image, r)
		}
		if fj.left.Add(-1) == 0 {
			s.frameDone(fj)
		}
	}
}

func (s *Sender) frameDone(fj *frameJob) {
	if fj.protect {
		s.sendParity(fj)
	}
	s.sendEnd(fj)
	now := time.Now()
	s.encodeTime.Add(now.Sub(fj.start))
	fj.f.Release()
	s.mu.Lock()
	if fl := s.inflight[fj.no]; fl != nil {
		fl.done = now
		if fl.gen == s.gen {
			for k, t := range fl.tiles {
				if n := int(fj.sizes[k]); n > 0 {
					if ts := &s.tiles[t]; ts.est == 0 {
						ts.est = n
					} else {
						ts.est = (3*ts.est + n) / 4
					}
				}
			}
		}
	}
	s.rc.frameSent(now, int(fj.bytes.Load()), int(fj.bytes.Load())+fj.deferred, s.skipped)
	s.skipped = 0
	s.pace.setRate(s.paceBits())
	s.mu.Unlock()
	s.sent.Add(1)
	s.busy.Store(false)
	select {
	case s.idle <- struct{}{}:
	default:
	}
}

func (s *Sender) sendTile(c *net.UDPConn, dgram []byte, fj *frameJob, j tileJob, sub uint8, payload []byte) {
	room := len(dgram) - wire.HeaderSize
	flags := j.flag
	if fj.protect {
		// A parity datagram carries a shard: the prefix naming a datagram and its
		// payload, so data payloads leave room for the prefix.
		room -= wire.ShardPrefix
		flags |= wire.FlagProtected
	}
	count := wire.Fragments(len(payload), room)
	if count > 65535 || len(payload) > wire.MaxTilePayload {
		s.encErrs.Add(1)
		return
	}
	h := s.frameHeader(fj)
	h.Flags, h.Tile, h.Fragments, h.PayloadSize = flags, uint16(j.tile), uint16(count), uint32(len(payload))
	h.Format = wire.CodecJPEGScan<<4 | sub
	for i := 0; i < count; i++ {
		seq := int(fj.seq.Add(1)) - 1
		if seq > 0xffff { // a frame of more than 65536 datagrams (~90 MB) cannot be numbered
			s.encErrs.Add(1)
			return
		}
		h.Seq, h.Fragment = uint16(seq), uint16(i)
		off, n := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
		h.MarshalTo(dgram)
		copy(dgram[wire.HeaderSize:], payload[off:off+n])
		if fj.protect {
			s.keepShard(fj, seq, &h, payload[off:off+n])
		}
		s.send(c, fj, dgram[:wire.HeaderSize+n], true)
	}
	s.tilesSent.Add(1)
}

// frameHeader is the part of a datagram header every datagram of frame fj shares.
func (s *Sender) frameHeader(fj *frameJob) wire.Header {
	return wire.Header{
		Stream: s.cfg.Stream, Frame: fj.no, CaptureUS: uint32(fj.captureUS),
		Width: uint16(fj.grid.W), Height: uint16(fj.grid.H), FrameTiles: fj.tiles,
		TileW: uint16(fj.grid.TW), TileH: uint16(fj.grid.TH), Quality: uint8(fj.quality),
		Format: wire.CodecJPEGScan<<4 | fj.sub,
	}
}

// keepShard files data datagram seq of a protected frame as its parity shard.
func (s *Sender) keepShard(fj *frameJob, seq int, h *wire.Header, payload []byte) {
	b := s.shardPool.Get().(*[]byte)
	shard := (*b)[:wire.ShardPrefix+len(payload)]
	wire.PutShardPrefix(shard, h)
	copy(shard[wire.ShardPrefix:], payload)
	fj.shardMu.Lock()
	for len(fj.shards) <= seq {
		fj.shards = append(fj.shards, nil)
	}
	fj.shards[seq] = shard
	fj.shardMu.Unlock()
}

// sendParity codes the protected frame's data datagrams in blocks and sends each
// block's parity shards after all the data (docs/PROTOCOL.md §3.4). The workers are
// done with the frame, so its shards are this goroutine's alone.
func (s *Sender) sendParity(fj *frameJob) {
	defer func() {
		for i, sh := range fj.shards {
			if sh != nil {
				sh = sh[:cap(sh)]
				s.shardPool.Put(&sh)
			}
			fj.shards[i] = nil
		}
	}()
	dgram := make([]byte, s.cfg.MTU)
	h := s.frameHeader(fj)
	s.mu.Lock()
	loss := s.rc.loss
	s.mu.Unlock()
	data, parityN := 0, 0
	for bi, b := range fec.Layout(len(fj.shards)) {
		shards := fj.shards[b.Start : b.Start+b.K]
		l := 0
		for _, sh := range shards {
			if sh == nil {
				return // a datagram that could not be numbered: nothing to protect reliably
			}
			l = max(l, len(sh))
		}
		for i, sh := range shards { // zero-pad every shard to the block's longest
			n := len(sh)
			shards[i] = sh[:l]
			clear(shards[i][n:])
		}
		b.M = s.parityCount(b.K, loss)
		parity := make([][]byte, b.M)
		for j := range parity {
			parity[j] = make([]byte, l)
		}
		if err := s.codes.Encode(shards, parity); err != nil {
			s.encErrs.Add(1)
			return
		}
		for j, p := range parity {
			b.Index = j
			h.SetBlock(b, l)
			h.MarshalTo(dgram)
			copy(dgram[wire.HeaderSize:], p)
			s.send(s.conns[(bi+j)%len(s.conns)], fj, dgram[:wire.HeaderSize+l], false)
		}
		data, parityN = data+b.K, parityN+b.M
	}
	if data > 0 {
		s.fecPct.Store(math.Float64bits(100 * float64(parityN) / float64(data)))
	}
}

// sendEnd sends the frame's end marker after all its datagrams (docs/PROTOCOL.md
// §3.5), so the receiver releases a frame that lost datagrams at once instead of
// when the next frame arrives, and its acknowledgement, and so the repair, come a
// frame sooner.
func (s *Sender) sendEnd(fj *frameJob) {
	n := min(int(fj.seq.Load()), 1<<16)
	if n == 0 {
		return // nothing was sent
	}
	h := s.frameHeader(fj)
	h.SetEnd(n - 1)
	var d [wire.HeaderSize]byte
	h.MarshalTo(d[:])
	s.send(s.conns[int(fj.no)%len(s.conns)], fj, d[:], false)
}

// parityCount is how many parity datagrams protect a block of k data datagrams:
// a fixed share, or enough that at the measured loss the block fails to rebuild
// about once in 1/fecMiss (docs/CONTROL.md, "Parity FEC"). The estimate is raised a
// little, since the loss is measured over a few frames and may be rising.
func (s *Sender) parityCount(k int, loss float64) int {
	if s.cfg.FEC > 0 {
		return max(1, min((k*s.cfg.FEC+99)/100, wire.MaxCodeShards-wire.CodeSize(k)))
	}
	return fec.ParityFor(k, 1.25*loss+0.002, fecMiss)
}

// send paces and sends one datagram; data says whether it carries tile payload
// (not parity), which the ack's byte count measures.
func (s *Sender) send(c *net.UDPConn, fj *frameJob, d []byte, data bool) {
	s.pace.wait(len(d))
	us := time.Now().UnixMicro()
	fj.firstSendUS.CompareAndSwap(0, us)
	fj.lastSendUS.Store(us)
	if _, err := c.Write(d); err != nil {
		s.sendErrs.Add(1) // e.g. ECONNREFUSED while no receiver listens: keep going
		return
	}
	s.datagrams.Add(1)
	s.bytes.Add(uint64(len(d)))
	fj.bytes.Add(int64(len(d)))
	if data {
		fj.payload.Add(int64(len(d) - wire.HeaderSize))
	}
	fj.datagrams.Add(1)
}

// Adaptive parity turns on when the measured loss reaches parityOnLoss and off only
// when it falls below parityOffLoss: at 1% loss a run of lossless frames takes the
// smoothed loss under 0.5% now and then, and switching parity off there leaves the
// next loss to an unprotected frame.
const parityOnLoss, parityOffLoss = 0.005, 0.001

// protect says whether the next frame carries parity (docs/CONTROL.md, "Parity
// FEC"). Called with mu held, once per frame.
func (s *Sender) protect() bool {
	if s.cfg.FEC != 0 {
		return s.cfg.FEC > 0
	}
	switch {
	case !s.rc.randomLoss():
		// Until a few frames show the losses are random, they may be an overflowing
		// queue's, which parity would only feed; rate control removes those and
		// repair by ack covers the rest.
		s.protecting = false
	case s.rc.loss >= parityOnLoss:
		s.protecting = true
	case s.rc.loss < parityOffLoss:
		s.protecting = false
	}
	return s.protecting
}

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	g := s.grid
	rc := *s.rc
	open := s.openLoop
	fecPct := 0.0
	if s.protecting || s.cfg.FEC > 0 {
		fecPct = math.Float64frombits(s.fecPct.Load())
	}
	s.mu.Unlock()
	st := Stats{
		FramesCaptured: s.captured.Load(), FramesSent: s.sent.Load(),
		FramesDroppedBusy: s.dropBusy.Load(), FramesDroppedAck: s.dropWindow.Load(), FramesDroppedRate: s.dropRate.Load(),
		FramesAcked: s.acked.Load(), FramesAckedWhole: s.ackedWhole.Load(),
		TilesSent: s.tilesSent.Load(), TilesChanged: s.changedN.Load(), TilesRepaired: s.repairedN.Load(),
		TilesRefreshed: s.refreshedN.Load(), TilesLost: s.lostN.Load(), TilesDeferred: s.deferredN.Load(),
		DatagramsSent: s.datagrams.Load(), BytesSent: s.bytes.Load(),
		SendErrors: s.sendErrs.Load(), EncodeErrors: s.encErrs.Load(),
		EncodeMsP50:      s.encodeTime.Percentile(50),
		RTTMs:            float64(s.ctl.RTT()) / float64(time.Millisecond),
		ControlConnected: s.ctl.Connected(), ControlReconnects: s.ctl.Reconnects(), OpenLoop: open,
		Quality: rc.quality, TargetMbps: rc.target / 1e6, ReceiveMbps: rc.recvRate / 1e6,
		QueueDelayMs: rc.queueMs, LossPct: 100 * rc.loss, FECPct: fecPct, RefreshFactor: rc.refreshX,
		Stream: s.cfg.Stream, Width: g.W, Height: g.H, Tiles: g.Len(),
	}
	if st.FramesSent > 0 && g.Len() > 0 {
		st.TileShare = float64(st.TilesSent) / float64(st.FramesSent) / float64(g.Len())
	}
	return st
}
