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
	"syscall"
	"time"

	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/receiver/mailbox"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// Config holds the receiver's settings; zero values take the defaults noted.
type Config struct {
	Listen   string        // host:port for UDP datagrams and the TCP control link
	Sockets  int           // UDP sockets (and reader goroutines) sharing the port (runtime.NumCPU)
	Decoders int           // tile decoders (runtime.NumCPU)
	Deadline time.Duration // how long a frame waits for missing tiles after its latest datagram (DefaultDeadline)
	Limits   wire.Limits   // largest frame accepted (wire.DefaultLimits)
	// Key, when set, makes the receiver keyed: it accepts only sealed datagrams of
	// streams whose sender proved the key on the control link (docs/PROTOCOL.md §7).
	Key *seal.Key
	// MaxMemory bounds, in bytes, everything the receiver holds from the network: the
	// queue, reassembly and parity buffers, and frame images (DefaultMaxMemory).
	MaxMemory int64
	// Backlog is how many released frames wait for Next (default 1: only the newest, so
	// a display always shows the newest). A consumer that wants every frame, a file
	// sink, asks for more and gets them oldest first while it catches up; the frames
	// waiting count against MaxMemory's frame budget.
	Backlog    int
	NewDecoder func(h *tile.Headers) tile.Decoder // tile decoder per decode worker (tile.NewFastDecoder)
	// Iface is the interface a multicast receiver joins its group on ("": the route's);
	// Listen names the group then (docs/PROTOCOL.md §10).
	Iface string
	// DialControl, when set, dials a multicast receiver's control link to its sender
	// (tests run receivers inside network namespaces with it); nil uses net.Dialer.
	DialControl func(ctx context.Context, addr string) (net.Conn, error)
	Log         *slog.Logger
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

// DefaultMaxMemory is Config.MaxMemory's default: room for 8K frames.
const DefaultMaxMemory = 256 << 20

// Budgets that keep hostile or broken input from growing memory without bound. The
// byte budgets are shares of Config.MaxMemory (see budgets).
const (
	maxPending = 8    // frames being assembled at once, at most
	queueLen   = 8192 // datagrams between readers and the assembler, at most
)

// Stream rules that keep one stray or hostile datagram from taking over or freezing the
// display (docs/SECURITY.md).
const (
	// SwitchAfter is how long the current stream must have been silent before
	// datagrams of another stream take over (immediately, with a key, once the new
	// stream's sender proved the key).
	SwitchAfter = time.Second
	// maxAhead is how many frame numbers ahead of the newest released frame (or the
	// stream's first frame) a datagram may be; beyond, it is dropped and counted.
	maxAhead = 300
	// resyncAfter and resyncCount: frame numbers outside the window take over only
	// when nothing inside it arrived for resyncAfter and at least resyncCount
	// datagrams came from outside meanwhile; a single far-ahead datagram never does.
	resyncAfter = time.Second
	resyncCount = 8
	// StaleAfter drops frames captured longer ago than this (once the clocks are
	// related by pings): after a stall the receiver jumps to the newest frames
	// instead of showing the backlog.
	StaleAfter = 500 * time.Millisecond
)

// budgets splits maxMemory: a sixteenth for the queue, an eighth for reassembly and
// parity buffers, the rest for frame images.
func budgets(maxMemory int64) (queue, reassembly, frames int64) {
	return maxMemory / 16, maxMemory / 8, maxMemory - maxMemory/16 - maxMemory/8
}

// Receiver reads, reassembles and acknowledges one stream at a time. The socket
// readers feed an assembler through a queue; the assembler hands released frames to
// the display through a mailbox that always holds the newest.
type Receiver struct {
	cfg   Config
	conns []*net.UDPConn
	ctl   *control.Server
	group groupState // a multicast receiver's: multicast.go

	packets   chan packet
	c         readCounters // the readers'
	asm       *assembler
	frames    *mailbox.Box[*Frame]
	displayed atomic.Uint64 // frames taken by Next

	liveMu   sync.Mutex
	liveLast latencyCounts // the latency histogram at the previous LiveLatency call
	// readPause, set by tests before Run, makes the socket readers sleep after
	// each read: a receiver starved of CPU, whose socket buffers overflow.
	readPause time.Duration

	queued atomic.Int64 // payload bytes and unused read room in packets, against the queue budget
	warned [numRefusals]atomic.Bool
	// current is the assembler's stream (valid once haveCur) and curNs when its latest
	// datagram was queued: readers drop other streams while it is live, so a flood of
	// foreign datagrams never fills the queue the live stream needs.
	current atomic.Uint32
	haveCur atomic.Bool
	curNs   atomic.Int64
	// newest is the newest capture time seen of the current stream, stream<<32 |
	// low 32 bits of µs, so the assembler can tell a backlog after a stall.
	newest atomic.Uint64
}

// ErrClosed is returned by Next after the receiver has stopped.
var ErrClosed = errors.New("receiver: closed")

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
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	if cfg.MaxMemory < 32<<20 {
		return nil, fmt.Errorf("max memory %d MB: at least 32 MB", cfg.MaxMemory>>20)
	}
	if cfg.Sockets > 64 {
		return nil, fmt.Errorf("sockets %d: at most 64", cfg.Sockets)
	}
	var conns []*net.UDPConn
	var ctl *control.Server
	var err error
	if udp.IsGroup(cfg.Listen) {
		conns, ctl, err = joinGroup(cfg)
	} else {
		conns, ctl, err = listen(cfg)
	}
	if err != nil {
		return nil, err
	}
	for i, c := range conns {
		if rcv, _, err := udp.RaiseBuffers(c, udp.BufferBytes); err == nil && i == 0 && rcv < udp.BufferBytes {
			cfg.Log.Warn("receive buffer smaller than asked: bursts may be lost (raise net.core.rmem_max or run as root)", "got", rcv, "asked", udp.BufferBytes)
		}
	}
	r := &Receiver{cfg: cfg, conns: conns, ctl: ctl, packets: make(chan packet, queueLen), frames: mailbox.NewDepth[*Frame](cfg.Backlog)}
	if r.group.on = ctl.Addr() == nil; r.group.on {
		g, _ := udp.ParseGroup(cfg.Listen)
		r.group.addr = netip.AddrPortFrom(g.Addr(), uint16(conns[0].LocalAddr().(*net.UDPAddr).Port)).String()
	}
	ctl.OnNotice = func(n wire.Notice, _ string) { r.group.left.Store(n.State == wire.NoticeLeftBehind) }
	ctl.DropCount = r.droppedHere
	_, reassembly, frameBytes := budgets(cfg.MaxMemory)
	acfg := assemblerConfig{
		decoders: cfg.Decoders, newDecoder: cfg.NewDecoder, deadline: cfg.Deadline, limits: cfg.Limits, log: cfg.Log,
		acks: ctl, clock: ctl, publish: func(f *Frame) { r.frames.Put(f) },
		reassembly: int(reassembly), frameBytes: frameBytes,
		newest: r.newest.Load,
		following: func(stream uint32, at time.Time) {
			r.current.Store(stream)
			r.haveCur.Store(true)
			r.curNs.Store(at.UnixNano())
		},
	}
	acfg.linked = ctl.Linked
	if cfg.Key != nil {
		ctl.Key = cfg.Key
		acfg.keyed = true
	}
	r.asm = newAssembler(acfg)
	return r, nil
}

// listen binds the UDP socket pool and the TCP control port on the same port number.
// With port 0 the kernel picks the UDP port, and that number may be taken over TCP
// (another program's connection): then it tries another, a few times.
func listen(cfg Config) ([]*net.UDPConn, *control.Server, error) {
	_, port, _ := net.SplitHostPort(cfg.Listen)
	for attempt := 0; ; attempt++ {
		conns, err := udp.ListenPool(cfg.Listen, cfg.Sockets)
		if err != nil {
			return nil, nil, err
		}
		ctl, err := control.Listen(conns[0].LocalAddr().String(), cfg.Log)
		if err == nil {
			return conns, ctl, nil
		}
		for _, c := range conns {
			c.Close()
		}
		if port != "0" || attempt == 8 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, err
		}
	}
}

// Addr is the bound UDP address (useful with port 0); a multicast receiver's group
// and port.
func (r *Receiver) Addr() string {
	if r.group.on {
		return r.group.addr
	}
	return r.conns[0].LocalAddr().String()
}

// Next waits for a frame newer than the last one taken and returns it with one
// reference the caller must Release. Frames that arrive while the caller is busy are
// skipped beyond Config.Backlog (by default the caller always gets the newest).
func (r *Receiver) Next(ctx context.Context) (*Frame, error) {
	f, err := r.frames.Take(ctx)
	if errors.Is(err, mailbox.ErrClosed) {
		return nil, ErrClosed
	}
	if err == nil {
		r.displayed.Add(1)
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
	if r.group.on {
		wg.Go(func() { r.ctl.Dial(ctx, r.group.sender, r.cfg.DialControl) })
	}
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
	wg.Add(1)
	go func() { defer wg.Done(); r.asm.run(ctx, r.packets) }()
	readers.Wait()
	close(r.packets) // the assembler drains what is queued and stops
	wg.Wait()
	r.frames.Close()
	if err := <-ctlErr; err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
