package relay

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every test here sends only to 127.0.0.1.

// noLeaks fails the test if any relay goroutine is still running once the test's other
// cleanups (registered after this call, so run before it) have closed the relay.
func noLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var stacks string
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			stacks = relayStacks()
			if stacks == "" {
				return
			}
		}
		t.Errorf("relay goroutines still running after Close:\n%s", stacks)
	})
}

// relayStacks returns the stacks of goroutines running relay code other than tests.
func relayStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/lab/relay.(*Relay)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func start(t *testing.T, cfg Config) *Relay {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	r, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// arrival is one datagram as the sink saw it.
type arrival struct {
	seq      uint64
	sent     time.Duration // since the test's base time, written by the sender
	received time.Duration
	size     int
}

// sink receives test datagrams on loopback until stopped.
type sink struct {
	conn *net.UDPConn
	base time.Time
	mu   sync.Mutex
	got  []arrival
	done chan struct{}
}

func newSink(t *testing.T, base time.Time) *sink {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(8 << 20)
	s := &sink{conn: c, base: base, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, maxDatagram)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if n < 16 {
				continue
			}
			a := arrival{
				seq:      binary.BigEndian.Uint64(buf),
				sent:     time.Duration(binary.BigEndian.Uint64(buf[8:])),
				received: time.Since(base),
				size:     n,
			}
			s.mu.Lock()
			s.got = append(s.got, a)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *sink) addr() string { return s.conn.LocalAddr().String() }

// wait returns the arrivals once none has come for quiet.
func (s *sink) wait(quiet time.Duration) []arrival {
	last := -1
	for {
		time.Sleep(quiet)
		s.mu.Lock()
		n := len(s.got)
		s.mu.Unlock()
		if n == last {
			break
		}
		last = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *sink) stop() {
	s.conn.Close()
	<-s.done
}

// sender writes numbered, timestamped datagrams of size bytes to the relay.
type sender struct {
	conn *net.UDPConn
	base time.Time
	buf  []byte
}

func newSender(t *testing.T, to string, base time.Time, size int) *sender {
	t.Helper()
	ra, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		t.Fatal(err)
	}
	c.SetWriteBuffer(8 << 20)
	t.Cleanup(func() { c.Close() })
	return &sender{conn: c, base: base, buf: make([]byte, max(size, 16))}
}

func (s *sender) send(t *testing.T, seq uint64) {
	binary.BigEndian.PutUint64(s.buf, seq)
	binary.BigEndian.PutUint64(s.buf[8:], uint64(time.Since(s.base)))
	if _, err := s.conn.Write(s.buf); err != nil {
		t.Fatalf("send %d: %v", seq, err)
	}
}

// paced sends n datagrams, one every gap (roughly: sleeps are coarse, so it catches up).
func (s *sender) paced(t *testing.T, n int, gap time.Duration) {
	t0 := time.Now()
	for i := range n {
		if d := time.Until(t0.Add(time.Duration(i) * gap)); d > 0 {
			time.Sleep(d)
		}
		s.send(t, uint64(i))
	}
}

func TestDelayAndJitterStayWithinBounds(t *testing.T) {
	noLeaks(t)
	base := time.Now()
	sk := newSink(t, base)
	const delay, jitter = 20 * time.Millisecond, 10 * time.Millisecond
	r := start(t, Config{Forward: sk.addr(), Delay: delay, Jitter: jitter, Seed: 1, NoTCP: true})
	snd := newSender(t, r.Addr().String(), base, 200)
	const n = 1000 // a second: 25 jitter periods
	snd.paced(t, n, time.Millisecond)
	got := sk.wait(100 * time.Millisecond)
	if len(got) != n {
		t.Fatalf("got %d datagrams, want %d", len(got), n)
	}
	var lat []time.Duration
	for i, a := range got {
		if a.seq != uint64(i) {
			t.Fatalf("arrival %d is datagram %d: jitter must not reorder", i, a.seq)
		}
		lat = append(lat, a.received-a.sent)
	}
	slices.Sort(lat)
	lo, hi := lat[0], lat[len(lat)-1]
	med := lat[len(lat)/2]
	p95 := lat[len(lat)*95/100]
	t.Logf("one-way delay: min %v median %v p95 %v max %v", lo, med, p95, hi)
	if lo < delay-jitter {
		t.Errorf("min delay %v is below delay-jitter %v", lo, delay-jitter)
	}
	// Timers fire late on a busy machine, never early; allow some lateness at the top.
	if p95 > delay+jitter+5*time.Millisecond || hi > delay+jitter+50*time.Millisecond {
		t.Errorf("p95 %v / max %v exceed delay+jitter %v by too much", p95, hi, delay+jitter)
	}
	if spread := lat[len(lat)*9/10] - lat[len(lat)/10]; spread < jitter/2 {
		t.Errorf("delays p10..p90 spread only %v: jitter of ±%v not applied", spread, jitter)
	}
	// Each datagram's delay follows the relay's jitter curve at the time it was sent (loopback
	// takes microseconds), give or take timer slack. A machine busy with other tests (the
	// race detector, parallel packages) delays timers now and then, so a tenth may stray.
	relayStart := r.t0.Sub(base)
	off := 0
	for _, a := range got {
		want := delay + time.Duration(r.jitterAt(int64(a.sent-relayStart)))
		if d := (a.received - a.sent) - want; d < -time.Millisecond || d > 3*time.Millisecond {
			off++
		}
	}
	if off > n/10 {
		t.Errorf("%d of %d datagrams strayed from the jitter curve by more than 3ms", off, n)
	}
}

func TestJitterCurveIsBoundedSmoothAndCoversTheRange(t *testing.T) {
	const j = 10 * time.Millisecond
	r := &Relay{cfg: Config{Jitter: j, JitterPeriod: 4 * j}, jitterSeed: 42}
	var lo, hi int64
	prev := r.jitterAt(0)
	for tt := int64(0); tt < int64(10*time.Second); tt += int64(100 * time.Microsecond) {
		v := r.jitterAt(tt)
		if v < -int64(j) || v > int64(j) {
			t.Fatalf("jitter %v at %v outside ±%v", time.Duration(v), time.Duration(tt), j)
		}
		if step := v - prev; step > int64(50*time.Microsecond)+1 || step < -int64(50*time.Microsecond)-1 {
			t.Fatalf("jitter moved %v in 100µs at %v: faster than half of time", time.Duration(step), time.Duration(tt))
		}
		lo, hi, prev = min(lo, v), max(hi, v), v
	}
	if lo > -int64(9*time.Millisecond) || hi < int64(9*time.Millisecond) {
		t.Errorf("jitter over 250 periods spans only %v..%v", time.Duration(lo), time.Duration(hi))
	}
}

// lossRun sends n datagrams through a relay with loss p and returns which ones arrived.
func lossRun(t *testing.T, p float64, seed int64, n int) ([]uint64, Stats) {
	base := time.Now()
	sk := newSink(t, base)
	r, err := Start(Config{Listen: "127.0.0.1:0", Forward: sk.addr(), Loss: p, Seed: seed, NoTCP: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snd := newSender(t, r.Addr().String(), base, 100)
	for i := range n {
		snd.send(t, uint64(i))
		if i%50 == 49 {
			time.Sleep(200 * time.Microsecond) // keep the socket buffers from overflowing
		}
	}
	got := sk.wait(50 * time.Millisecond)
	sk.stop()
	r.Close()
	seqs := make([]uint64, len(got))
	for i, a := range got {
		seqs[i] = a.seq
	}
	return seqs, r.Stats()
}

func TestLossRateMatchesConfigAndRepeatsWithTheSeed(t *testing.T) {
	noLeaks(t)
	const n, p = 5000, 0.2
	a, st := lossRun(t, p, 7, n)
	if st.In != n {
		t.Fatalf("relay read %d datagrams, want %d (kernel drops?)", st.In, n)
	}
	if uint64(len(a))+st.DroppedLoss != n || st.Out != uint64(len(a)) {
		t.Errorf("received %d + lost %d != sent %d (out %d)", len(a), st.DroppedLoss, n, st.Out)
	}
	sigma := math.Sqrt(n * p * (1 - p))
	if d := math.Abs(float64(st.DroppedLoss) - n*p); d > 4*sigma {
		t.Errorf("lost %d of %d, want %v ± %.0f", st.DroppedLoss, n, n*p, 4*sigma)
	}
	b, _ := lossRun(t, p, 7, n)
	if !slices.Equal(a, b) {
		t.Errorf("two runs with seed 7 delivered different datagrams (%d vs %d)", len(a), len(b))
	}
	c, _ := lossRun(t, p, 8, n)
	if slices.Equal(a, c) {
		t.Errorf("seeds 7 and 8 lost exactly the same datagrams")
	}
}

func TestLossPerFragment(t *testing.T) {
	noLeaks(t)
	// 10,000 bytes on a 1500-byte MTU are 7 fragments: a datagram survives with 0.9^7 = 0.48.
	base := time.Now()
	sk := newSink(t, base)
	r := start(t, Config{Forward: sk.addr(), Loss: 0.1, MTU: 1500, Seed: 3, NoTCP: true})
	snd := newSender(t, r.Addr().String(), base, 10000)
	const n = 1000
	snd.paced(t, n, 100*time.Microsecond)
	got := sk.wait(50 * time.Millisecond)
	want := n * math.Pow(0.9, 7)
	if d := math.Abs(float64(len(got)) - want); d > 4*math.Sqrt(want*(1-want/n)) {
		t.Errorf("%d of %d datagrams survived, want about %.0f", len(got), n, want)
	}
}

func TestReorderAndDuplicatesAreCountedAtTheReceiver(t *testing.T) {
	noLeaks(t)
	base := time.Now()
	sk := newSink(t, base)
	r := start(t, Config{Forward: sk.addr(), Delay: 5 * time.Millisecond, Jitter: 2 * time.Millisecond,
		Reorder: 0.05, Duplicate: 0.05, Seed: 5, NoTCP: true})
	snd := newSender(t, r.Addr().String(), base, 100)
	const n = 1000
	snd.paced(t, n, 500*time.Microsecond)
	// Trailing datagrams make sure the last held-back ones are overtaken too.
	for i := range 40 {
		time.Sleep(time.Millisecond)
		snd.send(t, uint64(n+i))
	}
	got := sk.wait(100 * time.Millisecond)
	st := r.Stats()
	seen := map[uint64]bool{}
	var dups, late uint64
	var highest uint64
	for i, a := range got {
		switch {
		case seen[a.seq]:
			dups++
		case i > 0 && a.seq < highest:
			late++
		}
		seen[a.seq] = true
		highest = max(highest, a.seq)
	}
	t.Logf("relay: %+v; receiver: %d duplicates, %d out of order", st, dups, late)
	if st.In+st.Duplicated != st.Out {
		t.Errorf("in %d + duplicated %d != out %d", st.In, st.Duplicated, st.Out)
	}
	if len(seen) != n+40 {
		t.Errorf("%d distinct datagrams arrived, want %d", len(seen), n+40)
	}
	if dups != st.Duplicated || dups == 0 {
		t.Errorf("receiver saw %d duplicates, relay made %d", dups, st.Duplicated)
	}
	if late != st.Reordered || late < 20 {
		t.Errorf("receiver saw %d late datagrams, relay reordered %d", late, st.Reordered)
	}
}

func TestRateCapHoldsThroughput(t *testing.T) {
	noLeaks(t)
	base := time.Now()
	sk := newSink(t, base)
	const rate = 20_000_000
	r := start(t, Config{Forward: sk.addr(), RateBits: rate, Seed: 1, NoTCP: true})
	const size = 1200
	snd := newSender(t, r.Addr().String(), base, size)
	// Offer about 40 Mbit/s for 600 ms: twice the cap.
	snd.paced(t, 2500, 240*time.Microsecond)
	got := sk.wait(100 * time.Millisecond)
	st := r.Stats()
	if len(got) < 100 {
		t.Fatalf("only %d datagrams arrived", len(got))
	}
	// Skip the first burst allowance, then measure bits per second on the wire.
	first := got[0].received
	var bytes, skipped int
	for _, a := range got {
		if bytes == 0 && skipped < minRateBurst {
			skipped += a.size + wireOverhead
			first = a.received
			continue
		}
		bytes += a.size + wireOverhead
	}
	span := got[len(got)-1].received - first
	bps := float64(bytes) * 8 / span.Seconds()
	t.Logf("%.1f Mbit/s over %v; relay %+v", bps/1e6, span, st)
	if bps < rate*0.9 || bps > rate*1.1 {
		t.Errorf("throughput %.1f Mbit/s, want 20 ± 10%%", bps/1e6)
	}
	if st.DroppedRate == 0 {
		t.Errorf("offered twice the rate but nothing was dropped at the cap")
	}
	if st.DroppedRate+st.Out != st.In {
		t.Errorf("in %d != out %d + dropped at the cap %d", st.In, st.Out, st.DroppedRate)
	}
}

func TestBlackoutDropsEverythingInTheWindow(t *testing.T) {
	noLeaks(t)
	base := time.Now()
	sk := newSink(t, base)
	r := start(t, Config{Forward: sk.addr(), Seed: 1, NoTCP: true,
		Blackouts: []Window{{Start: 100 * time.Millisecond, End: 300 * time.Millisecond}}})
	relayStart := r.t0.Sub(base)
	snd := newSender(t, r.Addr().String(), base, 64)
	snd.paced(t, 400, time.Millisecond)
	// And one started by hand.
	r.BlackoutFor(100 * time.Millisecond)
	handStart := time.Since(base)
	snd.paced(t, 150, time.Millisecond)
	got := sk.wait(50 * time.Millisecond)
	st := r.Stats()
	margin := 5 * time.Millisecond
	for _, a := range got {
		rel := a.sent - relayStart
		if rel > 100*time.Millisecond+margin && rel < 300*time.Millisecond-margin {
			t.Fatalf("datagram %d sent %v after the relay started got through the blackout", a.seq, rel)
		}
		if a.sent > handStart+margin && a.sent < handStart+100*time.Millisecond-margin {
			t.Fatalf("datagram %d got through the BlackoutFor window", a.seq)
		}
	}
	if st.DroppedBlackout < 250 || st.DroppedBlackout > 350 {
		t.Errorf("dropped %d in blackouts, want about 300", st.DroppedBlackout)
	}
	if uint64(len(got))+st.DroppedBlackout != 550 {
		t.Errorf("received %d + blacked out %d != 550", len(got), st.DroppedBlackout)
	}
}

func TestRepliesGoBackToTheLastClient(t *testing.T) {
	noLeaks(t)
	echo, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(append([]byte("re:"), buf[:n]...), from)
		}
	}()
	r := start(t, Config{Forward: echo.LocalAddr().String(), Delay: 5 * time.Millisecond, NoTCP: true})
	for _, msg := range []string{"one", "two"} {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "re:"+msg {
			t.Fatalf("reply to %q: %q, %v", msg, buf[:n], err)
		}
	}
	if st := r.Stats(); st.Replies != 2 {
		t.Errorf("replies %d, want 2", st.Replies)
	}
}

func TestTCPIsRelayedOnTheSamePortWithTheDelay(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	const delay = 30 * time.Millisecond
	sk := newSink(t, time.Now())
	r := start(t, Config{Forward: sk.addr(), TCPForward: ln.Addr().String(), Delay: delay})
	if r.TCPAddr().Port() != r.Addr().Port() {
		t.Fatalf("TCP on port %d, UDP on %d", r.TCPAddr().Port(), r.Addr().Port())
	}
	c, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("hrvs control "), 10000) // larger than one chunk
	t0 := time.Now()
	go c.Write(msg)
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	rtt := time.Since(t0)
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	if rtt < 2*delay {
		t.Errorf("round trip %v is shorter than twice the delay %v", rtt, delay)
	}
	c.(*net.TCPConn).CloseWrite()
	if n, err := c.Read(got); n != 0 || err != io.EOF {
		t.Errorf("after half-close: %d bytes, %v; want EOF", n, err)
	}
	st := r.Stats()
	if st.TCPConns != 1 || st.TCPBytesUp != uint64(len(msg)) || st.TCPBytesDown != uint64(len(msg)) {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var server net.Conn
	accepted := make(chan struct{})
	go func() {
		server, _ = ln.Accept()
		close(accepted)
	}()
	sk := newSink(t, time.Now())
	r, err := Start(Config{Listen: "127.0.0.1:0", Forward: sk.addr(), TCPForward: ln.Addr().String(),
		Delay: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-accepted
	defer server.Close()
	c.Write([]byte("queued for a second")) // sits in the TCP delay
	snd := newSender(t, r.Addr().String(), time.Now(), 100)
	for i := range 100 {
		snd.send(t, uint64(i)) // sit in the delay line
	}
	time.Sleep(50 * time.Millisecond)
	if stacks := relayStacks(); !strings.Contains(stacks, "pipe") {
		t.Fatalf("expected TCP pipes running:\n%s", stacks)
	}
	t0 := time.Now()
	r.Close()
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
	// A goroutine that has run its deferred wg.Done may still be on its way out
	// when Close returns; give it a moment before calling it left behind.
	stacks := relayStacks()
	for deadline := time.Now().Add(time.Second); stacks != "" && time.Now().Before(deadline); stacks = relayStacks() {
		time.Sleep(5 * time.Millisecond)
	}
	if stacks != "" {
		t.Errorf("goroutines left after Close:\n%s", stacks)
	}
	st := r.Stats()
	if st.DroppedClosed != 100 || st.Out != 0 {
		t.Errorf("stats after Close: %+v; want 100 dropped as closed", st)
	}
	r.Close() // twice is fine
	sk.stop()
	c.Close()
	server.Close()
	ln.Close()
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

func TestDestinationDownDoesNotGrowTheQueue(t *testing.T) {
	noLeaks(t)
	// A port with nothing listening: bind one and close it.
	tmp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dead := tmp.LocalAddr().String()
	tmp.Close()

	t.Run("with no delay every datagram is written and fails or vanishes", func(t *testing.T) {
		r := start(t, Config{Forward: dead, NoTCP: true})
		snd := newSender(t, r.Addr().String(), time.Now(), 1000)
		snd.paced(t, 2000, 20*time.Microsecond)
		time.Sleep(50 * time.Millisecond)
		st := r.Stats()
		if st.Queued != 0 || st.MaxQueued >= DefaultQueueLimit {
			t.Errorf("queue %d (max %d) with nothing delayed", st.Queued, st.MaxQueued)
		}
		if st.Out+st.SendErrors != st.In || st.Refused == 0 {
			t.Errorf("in %d, out %d, send errors %d, refused %d", st.In, st.Out, st.SendErrors, st.Refused)
		}
	})
	t.Run("with a long delay the queue stops at its limit", func(t *testing.T) {
		const limit = 500
		r := start(t, Config{Forward: dead, NoTCP: true, Delay: time.Minute, QueueLimit: limit})
		snd := newSender(t, r.Addr().String(), time.Now(), 1000)
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap0 := ms.HeapAlloc
		snd.paced(t, 5000, 20*time.Microsecond)
		time.Sleep(50 * time.Millisecond)
		st := r.Stats()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		grew := int64(ms.HeapAlloc) - int64(heap0)
		t.Logf("heap grew %d KiB; %+v", grew>>10, st)
		if st.Queued != limit || st.MaxQueued != limit {
			t.Errorf("queued %d (max %d), want the limit %d", st.Queued, st.MaxQueued, limit)
		}
		if st.DroppedOverflow != st.In-limit {
			t.Errorf("overflow %d, want %d", st.DroppedOverflow, st.In-limit)
		}
		if grew > 4<<20 {
			t.Errorf("heap grew %d KiB for %d queued KiB", grew>>10, limit*1000>>10)
		}
	})
	t.Run("the byte limit also holds", func(t *testing.T) {
		r := start(t, Config{Forward: dead, NoTCP: true, Delay: time.Minute, QueueBytes: 100_000})
		snd := newSender(t, r.Addr().String(), time.Now(), 1000)
		snd.paced(t, 500, 20*time.Microsecond)
		time.Sleep(50 * time.Millisecond)
		if st := r.Stats(); st.Queued != 100 {
			t.Errorf("queued %d datagrams of 1000 bytes under a 100,000-byte limit", st.Queued)
		}
	})
}

func TestListenWithoutAHostBindsTCPToo(t *testing.T) {
	noLeaks(t)
	r := start(t, Config{Listen: ":0", Forward: "127.0.0.1:9"})
	if !r.TCPAddr().IsValid() || r.TCPAddr().Port() != r.Addr().Port() {
		t.Errorf("UDP %v, TCP %v", r.Addr(), r.TCPAddr())
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no forward":        {Listen: "127.0.0.1:0"},
		"loss above one":    {Listen: "127.0.0.1:0", Forward: "127.0.0.1:9", Loss: 1.5},
		"negative delay":    {Listen: "127.0.0.1:0", Forward: "127.0.0.1:9", Delay: -time.Second},
		"tiny MTU":          {Listen: "127.0.0.1:0", Forward: "127.0.0.1:9", MTU: 40},
		"backwards window":  {Listen: "127.0.0.1:0", Forward: "127.0.0.1:9", Blackouts: []Window{{Start: 2, End: 1}}},
		"unparsable listen": {Listen: "nonsense", Forward: "127.0.0.1:9"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Start(cfg, nil)
			if err == nil {
				r.Close()
				t.Fatal("started")
			}
			if !strings.HasPrefix(err.Error(), "relay: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

func TestDelayLineReleasesInDueThenArrivalOrder(t *testing.T) {
	var q delayLine
	dues := []int64{5, 3, 9, 3, 1, 7, 5, 5, 0, 2}
	for i, d := range dues {
		q.push(d, []byte{byte(i)})
	}
	var got []int
	for q.len() > 0 {
		got = append(got, int(q.pop()[0]))
	}
	want := []int{8, 4, 9, 1, 3, 0, 6, 7, 5, 2}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// BenchmarkForward measures the relay's cost per datagram on loopback with a delay and
// jitter set (so every datagram goes through the heap), sending in bursts of 64 like a frame.
func BenchmarkForward(b *testing.B) {
	dst, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	dst.SetReadBuffer(8 << 20)
	r, err := Start(Config{Listen: "127.0.0.1:0", Forward: dst.LocalAddr().String(), NoTCP: true,
		Delay: time.Millisecond, Jitter: 500 * time.Microsecond}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	src, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	const size = 1200
	got := make(chan int)
	go func() {
		buf := make([]byte, 2048)
		n := 0
		for {
			dst.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := dst.Read(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	buf := make([]byte, size)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		src.Write(buf)
		if i%64 == 63 {
			// Let the relay keep up: measure it, not the kernel's drops.
			for deadline := time.Now().Add(time.Second); r.Stats().In < uint64(i+1)-64 && time.Now().Before(deadline); {
				runtime.Gosched()
			}
		}
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
		if st := r.Stats(); st.In == uint64(b.N) && st.Out+st.DroppedOverflow == st.In {
			break
		}
	}
	b.StopTimer()
	n := <-got
	b.ReportMetric(float64(n)/float64(b.N), "delivered/op")
}
