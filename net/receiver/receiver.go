package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/stats"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// Config holds the receiver's settings; zero values take the defaults noted.
type Config struct {
	Listen     string                             // host:port for UDP datagrams and the TCP control link
	Sockets    int                                // UDP sockets (and reader goroutines) sharing the port (runtime.NumCPU)
	Decoders   int                                // tile decoders (runtime.NumCPU)
	Deadline   time.Duration                      // how long a frame waits for missing tiles after its latest datagram (DefaultDeadline)
	Limits     wire.Limits                        // largest frame accepted (wire.DefaultLimits)
	NewDecoder func(h *tile.Headers) tile.Decoder // tile decoder per decode worker (tile.NewFastDecoder)
	Log        *slog.Logger
}

// DefaultDeadline is how long a frame that stopped receiving datagrams waits for
// the rest. It only matters for the last frame before a pause or a stalled sender:
// a frame followed by a newer one closes reorderGrace after the newer one's first
// datagram, so in a running stream a loss costs one frame time, not this.
const DefaultDeadline = 150 * time.Millisecond

// reorderGrace covers datagrams overtaken on the way (and across our reader
// goroutines) by the next frame's first ones.
const reorderGrace = 10 * time.Millisecond

// maxAssembly bounds how long any frame may be assembled, in Deadlines.
const maxAssembly = 15

// Budgets that keep hostile or broken input from growing memory without bound.
const (
	maxPending     = 8         // frames being assembled at once
	maxReserved    = 128 << 20 // bytes of tile reassembly buffers
	queueLen       = 8192      // datagrams between readers and the assembler
	silentSwitchTo = 250 * time.Millisecond
)

// Stats is a snapshot of the receiver's counters; field names are the --stats-json contract.
type Stats struct {
	FramesReceived     uint64  `json:"frames_received"`
	FramesComplete     uint64  `json:"frames_complete"`
	FramesPartial      uint64  `json:"frames_partial"`
	FramesDisplayed    uint64  `json:"frames_displayed"`
	TilesReceived      uint64  `json:"tiles_received"`
	TilesMissing       uint64  `json:"tiles_missing"`
	DatagramsReceived  uint64  `json:"datagrams_received"`
	DatagramsInvalid   uint64  `json:"datagrams_invalid"`
	DatagramsLate      uint64  `json:"datagrams_late"`
	DatagramsDuplicate uint64  `json:"datagrams_duplicate"` // repeats, and parity that was not needed
	DatagramsOverflow  uint64  `json:"datagrams_overflow"`
	DatagramsLost      uint64  `json:"datagrams_lost"`
	DatagramsRecovered uint64  `json:"datagrams_recovered"` // rebuilt from parity (FEC)
	DecodeErrors       uint64  `json:"decode_errors"`
	BytesReceived      uint64  `json:"bytes_received"`
	Streams            uint64  `json:"streams"`
	AcksDropped        uint64  `json:"acks_dropped"`
	FPS                float64 `json:"fps"`
	Mbps               float64 `json:"mbit_per_s"`
	LatencyP50         float64 `json:"latency_ms_p50"`
	LatencyP99         float64 `json:"latency_ms_p99"`
	ClockOffsetMs      float64 `json:"clock_offset_ms"`
	ClockSynced        bool    `json:"clock_synced"`
	Seconds            float64 `json:"seconds"`
	Width              int     `json:"width"`
	Height             int     `json:"height"`
	Quality            int     `json:"quality"`
	Sender             string  `json:"sender"`
}

type counters struct {
	frames, complete, partial, displayed               atomic.Uint64
	tilesGot, tilesMissing                             atomic.Uint64
	dgrams, invalid, late, dup, overflow, lost, decErr atomic.Uint64
	recovered                                          atomic.Uint64
	bytes, streams                                     atomic.Uint64
}

// Receiver reads, reassembles and acknowledges one stream at a time.
type Receiver struct {
	cfg   Config
	conns []*net.UDPConn
	ctl   *control.Server
	heads tile.Headers

	packets chan packet
	c       counters
	latency stats.Latency
	recent  stats.Latency // since the last LiveLatency call
	latest  latest

	mu        sync.Mutex
	first     time.Time // first frame released
	lastFrame time.Time
	info      struct{ w, h, q int }
	sender    string

	announced     atomic.Uint32 // stream id from the last control hello
	versionWarned atomic.Bool   // a datagram of another protocol version was logged once
}

// New binds the UDP socket pool and the control port.
func New(cfg Config) (*Receiver, error) {
	if cfg.Sockets <= 0 {
		cfg.Sockets = runtime.NumCPU()
	}
	if cfg.Decoders <= 0 {
		cfg.Decoders = runtime.NumCPU()
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	if cfg.Limits.MaxWidth == 0 {
		cfg.Limits = wire.DefaultLimits
	}
	if cfg.NewDecoder == nil {
		cfg.NewDecoder = func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Sockets > 64 {
		return nil, fmt.Errorf("sockets %d: at most 64", cfg.Sockets)
	}
	conns, err := udp.ListenPool(cfg.Listen, cfg.Sockets)
	if err != nil {
		return nil, err
	}
	for i, c := range conns {
		if rcv, _, err := udp.RaiseBuffers(c, udp.BufferBytes); err == nil && i == 0 && rcv < udp.BufferBytes {
			cfg.Log.Warn("receive buffer smaller than asked: bursts may be lost (raise net.core.rmem_max or run as root)", "got", rcv, "asked", udp.BufferBytes)
		}
	}
	// The control link listens on the same port number over TCP.
	ctl, err := control.Listen(conns[0].LocalAddr().String(), cfg.Log)
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return nil, err
	}
	r := &Receiver{cfg: cfg, conns: conns, ctl: ctl, packets: make(chan packet, queueLen)}
	r.latest.init()
	ctl.OnHello = func(stream uint32, from string) { r.announced.Store(stream) }
	return r, nil
}

// Addr is the bound UDP address (useful with port 0).
func (r *Receiver) Addr() string { return r.conns[0].LocalAddr().String() }

// Next waits for a frame newer than the last one taken and returns it with one
// reference the caller must Release. Frames that arrive while the caller is busy are
// skipped: the caller always gets the newest.
func (r *Receiver) Next(ctx context.Context) (*Frame, error) {
	f, err := r.latest.take(ctx)
	if err == nil {
		r.c.displayed.Add(1)
	}
	return f, err
}

// Run reads and assembles until ctx ends. It owns every goroutine it starts and
// returns only after they have all stopped.
func (r *Receiver) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	ctlErr := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); ctlErr <- r.ctl.Run(ctx) }()
	var readers sync.WaitGroup
	for _, c := range r.conns {
		readers.Add(1)
		go func() { defer readers.Done(); r.read(c) }()
	}
	stopReaders := context.AfterFunc(ctx, func() {
		for _, c := range r.conns {
			c.Close()
		}
	})
	defer stopReaders()
	a := newAssembler(r)
	wg.Add(1)
	go func() { defer wg.Done(); a.run(ctx) }()
	readers.Wait()
	close(r.packets) // the assembler drains what is queued and stops
	wg.Wait()
	r.latest.close()
	if err := <-ctlErr; err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// packet is one validated datagram on its way to the assembler.
type packet struct {
	h       wire.Header
	buf     *[]byte // pooled storage holding the payload
	payload []byte
	at      time.Time
	from    netip.AddrPort
}

var smallBufs = sync.Pool{New: func() any { b := make([]byte, 2048); return &b }}

func (r *Receiver) read(c *net.UDPConn) {
	scratch := make([]byte, wire.MaxDatagram+1)
	for {
		n, from, err := c.ReadFromUDPAddrPort(scratch)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors and the like: nothing to do but read on
		}
		r.c.dgrams.Add(1)
		var p packet
		payload, err := p.h.Unmarshal(scratch[:n], r.cfg.Limits)
		if err != nil {
			r.c.invalid.Add(1)
			if errors.Is(err, wire.ErrVersion) && !r.versionWarned.Swap(true) {
				// Most likely an hrvs of another release at the other end: say so once,
				// where a silent invalid count would leave the user guessing.
				r.cfg.Log.Warn("datagrams of another protocol version are dropped: run the same hrvs release at both ends",
					"err", err, "ours", wire.Version)
			}
			continue
		}
		r.c.bytes.Add(uint64(n))
		if len(payload) <= 2048 {
			p.buf = smallBufs.Get().(*[]byte)
		} else {
			b := make([]byte, len(payload))
			p.buf = &b
		}
		p.payload = (*p.buf)[:len(payload)]
		copy(p.payload, payload)
		p.at, p.from = time.Now(), from
		select {
		case r.packets <- p:
		default:
			r.c.overflow.Add(1)
			p.free()
		}
	}
}

func (p *packet) free() {
	if p.buf != nil && cap(*p.buf) == 2048 {
		smallBufs.Put(p.buf)
	}
	p.buf = nil
}

// LiveLatency returns the median latency in ms of the frames released since the
// previous call, for the live status line.
func (r *Receiver) LiveLatency() float64 {
	p := r.recent.Percentile(50)
	r.recent.Reset()
	return p
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	first, last, info, sender := r.first, r.lastFrame, r.info, r.sender
	r.mu.Unlock()
	off, synced := r.ctl.Offset()
	s := Stats{
		FramesReceived: r.c.frames.Load(), FramesComplete: r.c.complete.Load(), FramesPartial: r.c.partial.Load(),
		FramesDisplayed: r.c.displayed.Load(),
		TilesReceived:   r.c.tilesGot.Load(), TilesMissing: r.c.tilesMissing.Load(),
		DatagramsReceived: r.c.dgrams.Load(), DatagramsInvalid: r.c.invalid.Load(), DatagramsLate: r.c.late.Load(),
		DatagramsDuplicate: r.c.dup.Load(), DatagramsOverflow: r.c.overflow.Load(), DatagramsLost: r.c.lost.Load(), DatagramsRecovered: r.c.recovered.Load(),
		DecodeErrors: r.c.decErr.Load(), BytesReceived: r.c.bytes.Load(), Streams: r.c.streams.Load(),
		AcksDropped: r.ctl.AcksDropped(),
		LatencyP50:  r.latency.Percentile(50), LatencyP99: r.latency.Percentile(99),
		ClockOffsetMs: float64(off) / float64(time.Millisecond), ClockSynced: synced,
		Width: info.w, Height: info.h, Quality: info.q, Sender: sender,
	}
	if d := last.Sub(first).Seconds(); d > 0 && s.FramesReceived > 1 {
		s.Seconds = d
		s.FPS = float64(s.FramesReceived-1) / d
		s.Mbps = float64(s.BytesReceived) * 8 / d / 1e6
	}
	return s
}
