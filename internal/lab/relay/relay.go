// Package relay is a user-space UDP relay that impairs what it forwards: random loss, delay,
// jitter, reordering, duplication, a rate cap and blackouts, all drawn from a seeded random
// source so a run can be repeated. It stands in for tc netem, which the test kernel lacks, and
// also relays TCP on the same port (HRVS's control link) as delayed byte copying.
//
// Datagrams from clients go to Config.Forward; replies from Forward go back, unimpaired except
// for blackouts, to the client that sent last. One goroutine reads, one releases the queued
// datagrams from a heap at their due time, and memory is bounded by Config.QueueLimit and
// Config.QueueBytes.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults used when the matching Config field is zero.
const (
	DefaultQueueLimit  = 4096                  // datagrams waiting in the delay line
	DefaultQueueBytes  = 64 << 20              // bytes waiting in the delay line
	DefaultRateLatency = 50 * time.Millisecond // longest wait in the rate cap's queue
	minRateBurst       = 16 << 10              // smallest token bucket, in bytes
	minReorderDelay    = 10 * time.Millisecond
)

// wireOverhead is what the rate cap charges per datagram on top of its payload: an IPv4
// header (20 bytes, RFC 791) and a UDP header (8 bytes, RFC 768).
const wireOverhead = 28

// maxDatagram is the largest UDP payload the relay reads (IPv4's 65,535 less the headers, with
// room to spare for IPv6 jumbograms it will never see).
const maxDatagram = 64 << 10

// Window is a span of time, measured from the relay's start, during which every datagram
// (both directions) is dropped and TCP bytes are held back.
type Window struct {
	Start, End time.Duration
}

// Config says where the relay listens and forwards and how it impairs the traffic.
// Probabilities are in 0..1. The zero value of every impairment means "none".
type Config struct {
	Listen  string // UDP address clients send to, e.g. "127.0.0.1:6000"; port 0 picks a free one
	Forward string // where datagrams go, e.g. "127.0.0.1:5000"

	// TCP: unless NoTCP, the relay also listens on TCP at the same host:port as the UDP socket
	// and copies each connection's bytes to TCPForward (Forward when empty). TCP bytes are
	// delayed by Delay (no jitter, no loss: TCP would turn loss into delay anyway) and held
	// back during blackouts, so the control link sees the same base latency as the datagrams.
	NoTCP      bool
	TCPForward string
	// DialTCP, when set, opens the connection to TCPForward instead of net.Dialer. A relay
	// started inside a network namespace (testbed.Bed.Do) needs one that dials there too,
	// since connections are dialled later from goroutines outside it.
	DialTCP func(ctx context.Context, addr string) (net.Conn, error)

	Delay time.Duration // base one-way delay
	// Jitter varies the delay within [-Jitter, +Jitter] (never below 0). The variation wanders
	// smoothly, like the fill of a queue shared with cross traffic: a fresh random target every
	// JitterPeriod (default 4*Jitter), straight lines in between. So datagrams sent together
	// see nearly the same delay, successive video frames see different ones, and jitter alone
	// never reorders (with the default period the delay changes at most half as fast as time).
	Jitter       time.Duration
	JitterPeriod time.Duration
	Loss         float64 // probability a datagram is dropped (per IP fragment when MTU > 0)
	MTU          int     // when > 0, Loss applies to each IPv4 fragment a datagram would need on a link of this MTU

	// Reorder is the probability a datagram is held back ReorderDelay (default 10ms) longer
	// than its due time, so that datagrams sent after it overtake it.
	Reorder      float64
	ReorderDelay time.Duration

	Duplicate float64 // probability a datagram is sent twice (the copy right after the original)

	// Tap, when set, sees every datagram from the client as it arrives, before any
	// impairment: tests play an eavesdropper with it. The slice is only valid during the
	// call.
	Tap func(datagram []byte)

	// RateBits caps the forward direction at this many bits per second (payload plus 28
	// header bytes per datagram), 0 for no cap. It is a token bucket of RateBurst bytes
	// (default: 10 ms at the rate, at least 16 KiB) in front of a queue that holds at most
	// RateLatency (default 50 ms) of traffic; datagrams that would wait longer are dropped.
	RateBits    int64
	RateBurst   int
	RateLatency time.Duration

	QueueLimit int // most datagrams waiting in the delay line (default 4096); more are dropped as overflow
	QueueBytes int // most bytes waiting in the delay line (default 64 MiB)

	Blackouts []Window // spans after the start when everything is dropped

	Seed     int64         // seeds every random choice; the same seed and input give the same decisions
	LogEvery time.Duration // Run logs the counters this often when > 0
}

// Validate reports the first thing wrong with c, in terms a command-line user understands.
func (c Config) Validate() error {
	if c.Listen == "" {
		return errors.New("relay: no listen address")
	}
	if c.Forward == "" {
		return errors.New("relay: no forward address")
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", c.Loss}, {"reorder", c.Reorder}, {"duplicate", c.Duplicate}} {
		if !(p.v >= 0 && p.v <= 1) { // also rejects NaN
			return fmt.Errorf("relay: %s probability %v is outside 0..1", p.name, p.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"delay", c.Delay}, {"jitter", c.Jitter}, {"jitter period", c.JitterPeriod}, {"reorder delay", c.ReorderDelay}, {"rate latency", c.RateLatency}, {"log interval", c.LogEvery}} {
		if d.v < 0 {
			return fmt.Errorf("relay: negative %s %v", d.name, d.v)
		}
	}
	if c.RateBits < 0 || c.RateBurst < 0 || c.QueueLimit < 0 || c.QueueBytes < 0 {
		return errors.New("relay: rate, burst and queue limits must not be negative")
	}
	if c.MTU != 0 && c.MTU < 68 { // RFC 791: every IPv4 module must handle 68 bytes
		return fmt.Errorf("relay: MTU %d is below IPv4's minimum of 68", c.MTU)
	}
	for _, w := range c.Blackouts {
		if w.Start < 0 || w.End <= w.Start {
			return fmt.Errorf("relay: blackout [%v, %v) is empty or negative", w.Start, w.End)
		}
	}
	return nil
}

// Stats are the relay's counters. In the forward direction they balance:
// In + Duplicated = Out + SendErrors + Queued + every Dropped* counter.
type Stats struct {
	In, InBytes     uint64 // datagrams read from clients
	Out, OutBytes   uint64 // datagrams written to Forward, duplicates included
	DroppedLoss     uint64 // random loss
	DroppedBlackout uint64 // arrived during a blackout
	DroppedRate     uint64 // would have waited longer than RateLatency behind the rate cap
	DroppedOverflow uint64 // the delay line was full (QueueLimit or QueueBytes)
	DroppedClosed   uint64 // still queued when the relay closed
	SendErrors      uint64 // writes to Forward that failed even when tried twice
	Refused         uint64 // ICMP "port unreachable" reports: nothing was listening at Forward
	Duplicated      uint64 // extra copies queued
	Reordered       uint64 // datagrams held back so later ones overtake them
	Queued          int    // datagrams in the delay line now
	MaxQueued       int    // most datagrams ever in the delay line at once

	Replies        uint64 // datagrams from Forward written back to a client
	RepliesDropped uint64 // replies dropped: no client yet, a blackout, or a failed write

	TCPConns                 uint64 // TCP connections accepted
	TCPBytesUp, TCPBytesDown uint64 // bytes copied client->Forward and back
}

// LogValue lets a logger print Stats as a group of its non-zero counters.
func (s Stats) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Uint64("in", s.In), slog.Uint64("out", s.Out)}
	add := func(k string, v uint64) {
		if v != 0 {
			attrs = append(attrs, slog.Uint64(k, v))
		}
	}
	add("lost", s.DroppedLoss)
	add("blackout", s.DroppedBlackout)
	add("rate_drop", s.DroppedRate)
	add("overflow", s.DroppedOverflow)
	add("closed_drop", s.DroppedClosed)
	add("send_errors", s.SendErrors)
	add("refused", s.Refused)
	add("duplicated", s.Duplicated)
	add("reordered", s.Reordered)
	add("replies", s.Replies)
	add("replies_dropped", s.RepliesDropped)
	add("tcp_conns", s.TCPConns)
	add("tcp_up", s.TCPBytesUp)
	add("tcp_down", s.TCPBytesDown)
	attrs = append(attrs, slog.Int("queued", s.Queued), slog.Int("max_queued", s.MaxQueued))
	return slog.GroupValue(attrs...)
}

type counters struct {
	in, inBytes, out, outBytes                       atomic.Uint64
	loss, blackout, rate, overflow, closed, sendErrs atomic.Uint64
	refused                                          atomic.Uint64
	dup, reorder                                     atomic.Uint64
	replies, repliesDropped                          atomic.Uint64
	tcpConns, tcpUp, tcpDown                         atomic.Uint64
}

// Relay is a running relay. Start makes one; Close stops it and every goroutine it started.
type Relay struct {
	cfg   Config
	log   *slog.Logger
	t0    time.Time // start; all relay times are nanoseconds since t0 on the monotonic clock
	udp   *net.UDPConn
	up    *net.UDPConn // connected to Forward
	tcp   net.Listener // nil with NoTCP
	tcpTo string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	client        atomic.Pointer[netip.AddrPort] // last client, where replies go
	blackoutUntil atomic.Int64                   // end of a blackout started by BlackoutFor

	// Touched only by the client reader goroutine.
	lossRNG, reorderRNG, dupRNG *rand.Rand
	jitterSeed                  uint64
	linkFree                    int64 // when the rate cap's queue drains
	lastDue                     int64 // due time of the last in-order datagram, so jitter keeps order
	burst                       int64 // token bucket size in nanoseconds at the rate
	maxRateWait                 int64
	reorderDelay                int64
	fragPayload                 int // IP payload per fragment when MTU > 0

	mu     sync.Mutex // guards the delay line
	q      delayLine
	qBytes int
	maxQ   int
	kick   chan struct{} // wakes the scheduler when the earliest due time moves up

	connMu sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	n counters
}

// Start binds the sockets and starts relaying. Close stops it.
func Start(cfg Config, log *slog.Logger) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueLimit == 0 {
		cfg.QueueLimit = DefaultQueueLimit
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.RateLatency == 0 {
		cfg.RateLatency = DefaultRateLatency
	}
	if cfg.ReorderDelay == 0 {
		cfg.ReorderDelay = minReorderDelay
	}
	if cfg.JitterPeriod == 0 {
		cfg.JitterPeriod = max(4*cfg.Jitter, time.Millisecond)
	}
	if cfg.RateBits > 0 && cfg.RateBurst == 0 {
		cfg.RateBurst = max(int(cfg.RateBits/8/100), minRateBurst)
	}
	r := &Relay{
		cfg:   cfg,
		log:   log,
		kick:  make(chan struct{}, 1),
		conns: make(map[net.Conn]struct{}),
		tcpTo: cfg.TCPForward,
	}
	if r.tcpTo == "" {
		r.tcpTo = cfg.Forward
	}
	// One PCG stream per kind of decision: the loss pattern for a seed does not change
	// when, say, jitter is turned on.
	seed := uint64(cfg.Seed)
	r.lossRNG = rand.New(rand.NewPCG(seed, 1))
	r.jitterSeed = seed ^ 0x6a6974746572 // "jitter"
	r.reorderRNG = rand.New(rand.NewPCG(seed, 3))
	r.dupRNG = rand.New(rand.NewPCG(seed, 4))
	if cfg.RateBits > 0 {
		r.burst = int64(cfg.RateBurst) * 8 * int64(time.Second) / cfg.RateBits
		r.maxRateWait = int64(cfg.RateLatency)
	}
	r.reorderDelay = int64(cfg.ReorderDelay)
	if cfg.MTU > 0 {
		r.fragPayload = (cfg.MTU - 20) &^ 7 // RFC 791: fragment data is a multiple of 8 bytes
	}

	if err := r.bind(); err != nil {
		return nil, err
	}
	fwd, err := net.ResolveUDPAddr("udp", cfg.Forward)
	if err != nil {
		r.closeSockets()
		return nil, fmt.Errorf("relay: forward address: %w", err)
	}
	if r.up, err = net.DialUDP("udp", nil, fwd); err != nil {
		r.closeSockets()
		return nil, fmt.Errorf("relay: forward socket: %w", err)
	}
	growBuffers(r.udp, r.up, log)

	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.t0 = time.Now()
	r.wg.Add(3)
	go r.readClients()
	go r.readForward()
	go r.schedule()
	if r.tcp != nil {
		r.wg.Add(1)
		go r.acceptTCP()
	}
	log.Info("relay started", "udp", r.udp.LocalAddr().String(), "forward", cfg.Forward,
		"tcp", !cfg.NoTCP, "delay", cfg.Delay, "jitter", cfg.Jitter, "loss", cfg.Loss,
		"reorder", cfg.Reorder, "dup", cfg.Duplicate, "rate_bits", cfg.RateBits, "seed", cfg.Seed)
	return r, nil
}

// bind opens the UDP socket and, unless NoTCP, a TCP listener on the same port. With port 0
// it retries a few kernel-chosen ports until one is free for both.
func (r *Relay) bind() error {
	la, err := net.ResolveUDPAddr("udp", r.cfg.Listen)
	if err != nil {
		return fmt.Errorf("relay: listen address: %w", err)
	}
	tries := 1
	if la.Port == 0 && !r.cfg.NoTCP {
		tries = 20
	}
	for i := 0; ; i++ {
		u, err := net.ListenUDP("udp", la)
		if err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		if r.cfg.NoTCP {
			r.udp = u
			return nil
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		host := ""
		if la.IP != nil {
			host = la.IP.String()
		}
		t, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
		if err == nil {
			r.udp, r.tcp = u, t
			return nil
		}
		u.Close()
		if i+1 >= tries {
			return fmt.Errorf("relay: TCP on the UDP port: %w", err)
		}
	}
}

// Addr is the UDP address the relay listens on (with the port the kernel picked).
func (r *Relay) Addr() netip.AddrPort {
	return r.udp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TCPAddr is the TCP listener's address; it is invalid with NoTCP.
func (r *Relay) TCPAddr() netip.AddrPort {
	if r.tcp == nil {
		return netip.AddrPort{}
	}
	return r.tcp.Addr().(*net.TCPAddr).AddrPort()
}

// BlackoutFor drops everything (and holds TCP bytes) from now for d, on top of Config.Blackouts.
func (r *Relay) BlackoutFor(d time.Duration) {
	end := r.now() + int64(d)
	for {
		old := r.blackoutUntil.Load()
		if old >= end || r.blackoutUntil.CompareAndSwap(old, end) {
			return
		}
	}
}

// Stats returns a snapshot of the counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	queued, maxQ := r.q.len(), r.maxQ
	r.mu.Unlock()
	n := &r.n
	return Stats{
		In: n.in.Load(), InBytes: n.inBytes.Load(), Out: n.out.Load(), OutBytes: n.outBytes.Load(),
		DroppedLoss: n.loss.Load(), DroppedBlackout: n.blackout.Load(), DroppedRate: n.rate.Load(),
		DroppedOverflow: n.overflow.Load(), DroppedClosed: n.closed.Load(), SendErrors: n.sendErrs.Load(), Refused: n.refused.Load(),
		Duplicated: n.dup.Load(), Reordered: n.reorder.Load(), Queued: queued, MaxQueued: maxQ,
		Replies: n.replies.Load(), RepliesDropped: n.repliesDropped.Load(),
		TCPConns: n.tcpConns.Load(), TCPBytesUp: n.tcpUp.Load(), TCPBytesDown: n.tcpDown.Load(),
	}
}

// Close stops the relay and waits for every goroutine it started. Datagrams still queued are
// dropped and counted in DroppedClosed. It is safe to call more than once.
func (r *Relay) Close() error {
	r.once.Do(func() {
		r.cancel()
		r.closeSockets()
		r.connMu.Lock()
		r.closed = true
		for c := range r.conns {
			c.Close()
		}
		r.connMu.Unlock()
	})
	r.wg.Wait()
	return nil
}

func (r *Relay) closeSockets() {
	if r.udp != nil {
		r.udp.Close()
	}
	if r.up != nil {
		r.up.Close()
	}
	if r.tcp != nil {
		r.tcp.Close()
	}
}

// Run relays until ctx ends, logging the counters every cfg.LogEvery, and returns the final
// counters. It is what `hrvs relay` calls.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Stats, error) {
	r, err := Start(cfg, log)
	if err != nil {
		return nil, err
	}
	var tick <-chan time.Time
	if cfg.LogEvery > 0 {
		t := time.NewTicker(cfg.LogEvery)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick:
			r.log.Info("relay", "stats", r.Stats())
		}
	}
	r.Close()
	st := r.Stats()
	r.log.Info("relay stopped", "stats", st)
	return &st, nil
}

func (r *Relay) now() int64 { return int64(time.Since(r.t0)) }

// blackoutEnd returns the end of the blackout covering t, or 0 when there is none.
func (r *Relay) blackoutEnd(t int64) int64 {
	end := int64(0)
	if u := r.blackoutUntil.Load(); t < u {
		end = u
	}
	for _, w := range r.cfg.Blackouts {
		if t >= int64(w.Start) && t < int64(w.End) {
			end = max(end, int64(w.End))
		}
	}
	return end
}

// readClients reads datagrams from clients and admits them into the delay line.
func (r *Relay) readClients() {
	defer r.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := r.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if r.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Debug("relay: read from client", "err", err)
			continue
		}
		if c := r.client.Load(); c == nil || *c != from {
			r.client.Store(&from)
		}
		if r.cfg.Tap != nil {
			r.cfg.Tap(buf[:n])
		}
		r.admit(buf[:n])
	}
}

// admit decides one datagram's fate: drop it, or queue it (and maybe a copy) with a due time.
func (r *Relay) admit(p []byte) {
	now := r.now()
	r.n.in.Add(1)
	r.n.inBytes.Add(uint64(len(p)))
	if r.blackoutEnd(now) != 0 {
		r.n.blackout.Add(1)
		return
	}
	if r.lost(len(p)) {
		r.n.loss.Add(1)
		return
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.q.len() >= r.cfg.QueueLimit || r.qBytes+len(p) > r.cfg.QueueBytes {
		r.n.overflow.Add(1)
		return
	}
	depart := now
	if r.cfg.RateBits > 0 {
		// Virtual-time token bucket: the link is busy until linkFree; an idle link has
		// saved up at most burst worth of time.
		cost := int64(len(p)+wireOverhead) * 8 * int64(time.Second) / r.cfg.RateBits
		start := max(r.linkFree, now-r.burst)
		finish := start + cost
		if finish-now > r.maxRateWait {
			r.n.rate.Add(1)
			return
		}
		r.linkFree = finish
		depart = max(finish, now)
	}
	due := depart + int64(r.cfg.Delay)
	if r.cfg.Jitter > 0 {
		due = max(due+r.jitterAt(now), depart)
	}
	due = max(due, r.lastDue) // keep order even with a short JitterPeriod
	if r.cfg.Reorder > 0 && r.reorderRNG.Float64() < r.cfg.Reorder {
		due += r.reorderDelay // later datagrams are not held behind this one
		r.n.reorder.Add(1)
	} else {
		r.lastDue = due
	}
	data := make([]byte, len(p))
	copy(data, p)
	r.push(due, data)
	if r.cfg.Duplicate > 0 && r.dupRNG.Float64() < r.cfg.Duplicate {
		r.n.dup.Add(1)
		if r.q.len() < r.cfg.QueueLimit && r.qBytes+len(p) <= r.cfg.QueueBytes {
			r.push(due, data) // the copy shares the bytes; nobody writes to them
		} else {
			r.n.overflow.Add(1)
		}
	}
}

// lost draws the loss decision for a datagram of n bytes: once, or once per fragment.
func (r *Relay) lost(n int) bool {
	if r.cfg.Loss == 0 {
		return false
	}
	frags := 1
	if r.fragPayload > 0 {
		frags = (n + 8 + r.fragPayload - 1) / r.fragPayload
	}
	lost := false
	for range frags { // draw for every fragment so the stream does not depend on which one is lost
		if r.lossRNG.Float64() < r.cfg.Loss {
			lost = true
		}
	}
	return lost
}

// push queues data for release at due; r.mu is held.
func (r *Relay) push(due int64, data []byte) {
	wasEmpty := r.q.len() == 0
	head := int64(0)
	if !wasEmpty {
		head = r.q.next()
	}
	r.q.push(due, data)
	r.qBytes += len(data)
	r.maxQ = max(r.maxQ, r.q.len())
	if wasEmpty || due < head {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// schedule is the one goroutine that writes queued datagrams to Forward when they are due.
func (r *Relay) schedule() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch [][]byte
	for {
		r.mu.Lock()
		now := r.now()
		for r.q.len() > 0 && r.q.next() <= now {
			d := r.q.pop()
			r.qBytes -= len(d)
			batch = append(batch, d)
		}
		wait := time.Duration(-1)
		if r.q.len() > 0 {
			wait = time.Duration(r.q.next() - now)
		}
		r.mu.Unlock()

		if len(batch) > 0 {
			for i, d := range batch {
				r.send(d)
				batch[i] = nil
			}
			batch = batch[:0]
			continue // writing took time: look again before sleeping
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-r.ctx.Done():
			timer.Stop()
			r.mu.Lock()
			r.n.closed.Add(uint64(r.q.clear()))
			r.qBytes = 0
			r.mu.Unlock()
			return
		case <-r.kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// send writes one datagram to Forward. A connected UDP socket reports an earlier datagram's
// ICMP "port unreachable" on the next write and drops that write, so it is tried once more.
func (r *Relay) send(d []byte) {
	_, err := r.up.Write(d)
	if errors.Is(err, syscall.ECONNREFUSED) {
		r.countRefused()
		_, err = r.up.Write(d)
	}
	if err != nil {
		if r.n.sendErrs.Add(1) == 1 {
			r.log.Warn("relay: write to forward address failed (further failures are only counted)", "err", err)
		}
		return
	}
	r.n.out.Add(1)
	r.n.outBytes.Add(uint64(len(d)))
}

// readForward copies replies from Forward back to the client that sent last.
func (r *Relay) readForward() {
	defer r.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, err := r.up.Read(buf)
		if err != nil {
			if r.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) { // not fatal: the destination may come up
				r.countRefused()
			}
			continue
		}
		c := r.client.Load()
		if c == nil || r.blackoutEnd(r.now()) != 0 {
			r.n.repliesDropped.Add(1)
			continue
		}
		if _, err := r.udp.WriteToUDPAddrPort(buf[:n], *c); err != nil {
			r.n.repliesDropped.Add(1)
			continue
		}
		r.n.replies.Add(1)
	}
}

// jitterAt is the jitter for a datagram arriving at t: the straight line between the random
// targets of the JitterPeriod that t falls in. Targets depend only on the seed and the period's
// index, so the shape over time repeats from run to run.
func (r *Relay) jitterAt(t int64) int64 {
	p := int64(r.cfg.JitterPeriod)
	k := t / p
	frac := float64(t%p) / float64(p)
	a, b := r.jitterTarget(k), r.jitterTarget(k+1)
	return int64(a + (b-a)*frac)
}

// jitterTarget is uniform in [-Jitter, +Jitter], drawn from the seed and k by SplitMix64.
func (r *Relay) jitterTarget(k int64) float64 {
	z := r.jitterSeed + uint64(k)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	u := float64(z>>11) / (1 << 53) // [0, 1)
	return (2*u - 1) * float64(r.cfg.Jitter)
}

func (r *Relay) countRefused() {
	if r.n.refused.Add(1) == 1 {
		r.log.Warn("relay: nothing is listening at the forward address (yet); datagrams are sent anyway", "forward", r.cfg.Forward)
	}
}
