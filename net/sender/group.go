package sender

import (
	"context"
	"errors"
	"log/slog"
	"math/bits"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// A multicast sender (docs/PROTOCOL.md §10) sends each datagram once to a group and
// cannot know its receivers: each dials the sender's control port and keeps a link of
// its own. The group turns their acknowledgements into the one the ledger and rate
// control already understand, as if a single receiver had got only what every
// receiver got:
//
//   - a tile is acknowledged when every receiver in step acknowledged it, so a tile
//     lost by any of them is repaired with the next frame, one copy for all;
//   - a data datagram arrived when it arrived everywhere, so the loss that parity and
//     rate control see is at least the worst receiver's;
//   - the payload bytes are the fewest any receiver got, and the arrival times those
//     of the receiver that finished the frame last, on the sender's clock: the rate
//     follows the slowest receiver.
//
// Within limits: a receiver whose loss is far above the best receiver's, whose
// acknowledgements keep coming late, or that holds the rate below Config.GroupFloor
// while the others do not, is left behind for as long as that lasts: it is told so
// (a notice, §10.3), logged, and its acknowledgements no longer steer anything. It
// still gets the stream and the rolling refresh heals its picture. A receiver that
// joins makes the sender send every tile again, so it has a whole picture within a
// frame or two, and within one refresh period at the latest.

// Limits of the group (docs/PROTOCOL.md §10.4).
const (
	// DefaultGroupFloor is Config.GroupFloor's default: the rate, in bit/s, below which
	// the group stops following one receiver that is far behind the others.
	DefaultGroupFloor = 4_000_000
	// leaveLoss: a receiver losing more than this share of datagrams, and more than
	// twice the best receiver's share plus leaveMargin, costs the others more parity
	// than it is worth.
	leaveLoss   = 0.20
	leaveMargin = 0.05
	// leaveLate: a receiver whose acknowledgements missed the merge for more than this
	// share of frames holds the others' repairs back.
	leaveLate = 0.5
	// leaveAfter: a receiver must be behind (or back in step) this long before its
	// state changes, so one bad second does not flap it.
	leaveAfter = 3 * time.Second
	// mergeHold is the shortest a merge waits for slow receivers' acknowledgements
	// (twice the longest round trip when longer).
	mergeHold = 150 * time.Millisecond
	// groupTick is how often waiting merges and receivers' states are looked at.
	groupTick = 20 * time.Millisecond
	// maxMembers bounds the control links a multicast sender serves; a further one is
	// closed at once.
	maxMembers = 64
)

// ReceiverStats is one receiver of a multicast group, as its control link shows it.
type ReceiverStats struct {
	Addr        string  `json:"addr"` // its control connection's address
	RTTMs       float64 `json:"rtt_ms"`
	LossPct     float64 `json:"loss_pct"` // smoothed share of data datagrams it did not get
	AckedFPS    float64 `json:"acked_fps"`
	FramesAcked uint64  `json:"frames_acked"`
	LatePct     float64 `json:"late_pct"` // smoothed share of frames merged without its acknowledgement
	LeftBehind  bool    `json:"left_behind"`
	Connected   bool    `json:"connected"`
}

// member is one receiver's control link and what the group knows of it.
type member struct {
	addr   string
	cl     *control.Client // its link, served by Run
	link   memberLink      // the same link, as the group reads it
	joined time.Time

	// under group.mu
	acked    uint64
	last     uint32 // newest frame it acknowledged
	hasLast  bool
	loss     float64 // EWMA of its datagram loss per acknowledged frame
	late     float64 // EWMA of frames merged without its acknowledgement
	ackTimes []time.Time
	left     bool
	since    time.Time // when it started to look like it should change state; zero while it does not
	gone     bool
}

// memberLink is a receiver's control link as the group reads it (control.Client).
type memberLink interface {
	Connected() bool
	RTT() time.Duration
	Offset() (time.Duration, bool)
	Notify(n wire.Notice) error
}

// merge collects one frame's acknowledgements from the receivers in step.
type merge struct {
	frame uint32
	first time.Time // the first contribution arrived
	ack   wire.Ack  // the merged acknowledgement (own bitmaps)
	from  map[*member]bool
	got   bool  // some receiver acknowledged it (not only missed it)
	ready int64 // the merged ack's release, on the sender's clock
}

// group serves a multicast sender's control links and merges their acknowledgements.
type group struct {
	ln     net.Listener
	stream uint32
	log    *slog.Logger
	floor  float64
	// newClient makes the sender's end for one accepted link (stream, key, counter).
	newClient func() *control.Client
	// onAck is the Sender's: it gets the merged acknowledgements, in frame order.
	onAck func(a *wire.Ack, now time.Time)
	// target reads rate control's target rate, bit/s.
	target func() float64

	readyOnce sync.Once
	ready     chan struct{}

	emitMu  sync.Mutex // held while merged acks are collected and handed on, so they go in order
	mu      sync.Mutex
	members []*member
	joins   uint64
	pending []*merge // oldest first
	// handed is the newest frame whose merge was handed on: later acknowledgements of
	// it, or of older frames, come too late to count.
	handed    uint32
	hasHanded bool
	handedAt  map[uint32]time.Time // when the last handedKeep merges were handed on
	refusal   error
}

func newGroup(ln net.Listener, stream uint32, floor int64, log *slog.Logger) *group {
	if floor <= 0 {
		floor = DefaultGroupFloor
	}
	return &group{ln: ln, stream: stream, floor: float64(floor), log: log, ready: make(chan struct{}),
		handedAt: map[uint32]time.Time{}}
}

// keyed sets the sender's key for every link: each receiver proves it (§7.2) and gets
// the same datagram key, derived from the one random value.
func keyedClient(c *control.Client, key *seal.Key, suite seal.Suite, random [seal.RandomSize]byte, next func() uint64) {
	c.Key, c.Suite, c.Random, c.NextCounter = key, suite, random, next
}

// Run accepts receivers' control links and merges their acknowledgements until ctx
// ends; it returns once every goroutine it started has stopped.
func (g *group) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { g.ln.Close() })
	defer stop()
	wg.Go(func() {
		t := time.NewTicker(groupTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				g.tick(ctx, now, &wg)
			}
		}
	})
	for {
		nc, err := g.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			g.log.Warn("multicast: control accept", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		m := g.join(nc)
		if m == nil {
			nc.Close()
			continue
		}
		done := make(chan struct{})
		wg.Go(func() {
			// Keyed, the sender sends nothing before a receiver proved the key.
			select {
			case <-m.cl.Ready():
				g.readyOnce.Do(func() { close(g.ready) })
			case <-done:
			}
		})
		wg.Go(func() {
			err := m.cl.Serve(ctx, nc)
			close(done)
			g.leave(m, err)
		})
	}
}

// join files a new receiver's link; nil when the group is full.
func (g *group) join(nc net.Conn) *member {
	g.mu.Lock()
	defer g.mu.Unlock()
	live := 0
	for _, m := range g.members {
		if !m.gone {
			live++
		}
	}
	if live >= maxMembers {
		return nil
	}
	m := &member{addr: nc.RemoteAddr().String(), joined: time.Now()}
	cl := g.newClient()
	cl.Stream = g.stream
	cl.OnAck = func(a *wire.Ack, now time.Time) { g.ack(m, a, now) }
	m.cl, m.link = cl, cl
	g.members = append(g.members, m)
	// A receiver that joins holds nothing: every tile goes again (the ledger acts on
	// a change of Reconnects), so it has a whole picture within a frame or two.
	g.joins++
	g.log.Info("multicast: receiver joined", "addr", m.addr, "receivers", live+1)
	return m
}

func (g *group) leave(m *member, err error) {
	g.mu.Lock()
	m.gone = true
	// Forget it after a while, not at once, so Stats still shows why it went.
	g.members = keepRecent(g.members, time.Now())
	refused := errors.Is(err, control.ErrRefused) || errors.Is(err, control.ErrAuth)
	if refused {
		g.refusal = err
	}
	g.mu.Unlock()
	g.log.Info("multicast: receiver left", "addr", m.addr, "err", err)
}

// keepRecent drops members gone for good; it keeps at most the newest maxMembers gone.
func keepRecent(ms []*member, _ time.Time) []*member {
	gone := 0
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].gone {
			gone++
			if gone > maxMembers {
				ms = append(ms[:i], ms[i+1:]...)
			}
		}
	}
	return ms
}

// inStep reports whether m's acknowledgements steer the group.
func (m *member) inStep() bool { return !m.gone && !m.left && m.link.Connected() }

// ack takes one receiver's acknowledgement (on its link's goroutine).
func (g *group) ack(m *member, a *wire.Ack, now time.Time) {
	if a.Stream != g.stream {
		return
	}
	g.emitMu.Lock()
	defer g.emitMu.Unlock()
	g.mu.Lock()
	m.acked++
	m.last, m.hasLast = a.Frame, true
	m.ackTimes = append(pruneTimes(m.ackTimes, now), now)
	if d := int(a.Datagrams); d > 0 {
		lost := d - popcount(a.Arrived, d)
		m.loss += 0.05 * (float64(lost)/float64(d) - m.loss)
	}
	var out []*wire.Ack
	switch {
	case m.left && !m.gone:
		// Not waited for, but still timed against the merge, so one that keeps up
		// again can come back in step.
		if at, ok := g.handedAt[a.Frame]; ok && now.Sub(at) > g.hold() {
			m.late += 0.02 * (1 - m.late)
		} else {
			m.late *= 0.98
		}
	case m.inStep() && g.hasHanded && int32(a.Frame-g.handed) <= 0:
		m.late += 0.02 * (1 - m.late) // its frame was merged without it
	case m.inStep():
		mg := g.find(a.Frame, now)
		if mg != nil && !mg.from[m] {
			mg.add(m, a)
			m.late *= 0.98
		}
		out = g.collect(now, false)
	}
	g.mu.Unlock()
	for _, x := range out {
		g.onAck(x, now)
	}
}

// find returns the merge of frame, made if need be; nil for a frame older than every
// waiting merge's that was already handed on.
func (g *group) find(frame uint32, now time.Time) *merge {
	for _, mg := range g.pending {
		if mg.frame == frame {
			return mg
		}
	}
	mg := &merge{frame: frame, first: now, from: map[*member]bool{}}
	// Keep the pending list in frame order (serial numbers).
	i := sort.Search(len(g.pending), func(i int) bool { return int32(g.pending[i].frame-frame) > 0 })
	g.pending = append(g.pending, nil)
	copy(g.pending[i+1:], g.pending[i:])
	g.pending[i] = mg
	return mg
}

// add folds receiver m's acknowledgement a into the merge.
func (mg *merge) add(m *member, a *wire.Ack) {
	mg.from[m] = true
	off, _ := m.link.Offset()
	// The receiver's clock, turned into ours, so receivers can be compared.
	first, ready := a.FirstUS-off.Microseconds(), a.ReadyUS-off.Microseconds()
	if !mg.got {
		mg.got = true
		mg.ack = *a
		mg.ack.Got = append([]byte(nil), a.Got...)
		mg.ack.Arrived = append([]byte(nil), a.Arrived...)
		mg.ack.FirstUS, mg.ack.ReadyUS, mg.ready = first, ready, ready
		return
	}
	if a.GridTiles == mg.ack.GridTiles && len(a.Got) == len(mg.ack.Got) {
		for i := range mg.ack.Got {
			mg.ack.Got[i] &= a.Got[i]
		}
	}
	mg.ack.Received = uint16(popcount(mg.ack.Got, int(mg.ack.GridTiles)))
	// A datagram arrived only if it arrived everywhere; one a receiver did not know of
	// did not reach it.
	d := max(mg.ack.Datagrams, a.Datagrams)
	arr := make([]byte, (int(d)+7)/8)
	for i := range arr {
		var x, y byte
		if i < len(mg.ack.Arrived) {
			x = mg.ack.Arrived[i]
		}
		if i < len(a.Arrived) {
			y = a.Arrived[i]
		}
		arr[i] = x & y
	}
	mg.ack.Datagrams, mg.ack.Arrived = d, arr
	mg.ack.Bytes = min(mg.ack.Bytes, a.Bytes)
	if ready > mg.ready {
		mg.ready, mg.ack.FirstUS, mg.ack.ReadyUS = ready, first, ready
	}
}

// miss records that m skipped the merge's frame altogether: it got none of its tiles.
func (mg *merge) miss(m *member) {
	mg.from[m] = true
	clear(mg.ack.Got)
	mg.ack.Received = 0
}

// collect hands on, oldest first, the merges every receiver in step has answered (an
// acknowledgement, or one of a later frame: over an ordered link, a frame never
// acknowledged when a later one is did not reach that receiver), and with force or
// once they waited mergeHold, the rest up to them. A receiver whose acknowledgement
// missed a merge that went without it counts it late and its tiles as lost.
func (g *group) collect(now time.Time, force bool) []*wire.Ack {
	hold := g.hold()
	var steer []*member
	for _, m := range g.members {
		if m.inStep() {
			steer = append(steer, m)
		}
	}
	last := -1
	for i, mg := range g.pending {
		done := true
		for _, m := range steer {
			if mg.from[m] {
				continue
			}
			if m.hasLast && int32(m.last-mg.frame) > 0 {
				mg.miss(m)
				continue
			}
			done = false
		}
		if done || force || now.Sub(mg.first) >= hold {
			last = i
		}
	}
	var out []*wire.Ack
	for _, mg := range g.pending[:last+1] {
		for _, m := range steer {
			if !mg.from[m] {
				mg.miss(m)
				m.late += 0.02 * (1 - m.late)
			}
		}
		g.handed, g.hasHanded = mg.frame, true
		g.handedAt[mg.frame] = now
		delete(g.handedAt, mg.frame-handedKeep)
		if mg.got {
			a := mg.ack
			out = append(out, &a)
		}
	}
	g.pending = g.pending[last+1:]
	return out
}

// handedKeep is how many merges' hand-on times are kept, to time the acknowledgements
// of receivers left behind.
const handedKeep = 256

// hold is how long a merge waits for slow receivers: mergeHold, or twice the longest
// round trip of the receivers in step.
func (g *group) hold() time.Duration {
	hold := mergeHold
	for _, m := range g.members {
		if m.inStep() {
			hold = max(hold, 2*m.link.RTT())
		}
	}
	return hold
}

// tick hands on merges that waited long enough and reviews each receiver's place.
func (g *group) tick(ctx context.Context, now time.Time, wg *sync.WaitGroup) {
	target := g.target()
	g.emitMu.Lock()
	g.mu.Lock()
	out := g.collect(now, false)
	notes := g.review(now, target)
	g.mu.Unlock()
	for _, a := range out {
		g.onAck(a, now)
	}
	g.emitMu.Unlock()
	for _, n := range notes {
		wg.Go(func() {
			if err := n.m.link.Notify(n.n); err != nil && ctx.Err() == nil {
				g.log.Debug("multicast: notice not sent", "addr", n.m.addr, "err", err)
			}
		})
	}
}

type note struct {
	m *member
	n wire.Notice
}

// review leaves behind the receivers far behind the group, and takes back those that
// caught up (docs/PROTOCOL.md §10.4); it returns the notices to send.
func (g *group) review(now time.Time, target float64) []note {
	var live []*member
	best := 1.0
	for _, m := range g.members {
		if m.gone || !m.link.Connected() || now.Sub(m.joined) < leaveAfter {
			continue
		}
		live = append(live, m)
		if !m.left {
			best = min(best, m.loss)
		}
	}
	if best == 1.0 {
		best = 0
	}
	worst := (*member)(nil)
	for _, m := range live {
		if !m.left && (worst == nil || m.loss > worst.loss) {
			worst = m
		}
	}
	inStep := 0
	for _, m := range live {
		if !m.left {
			inStep++
		}
	}
	var notes []note
	for _, m := range live {
		var reason uint8
		switch {
		case m.loss > leaveLoss && m.loss > 2*best+leaveMargin:
			reason = wire.ReasonLoss
		case m.late > leaveLate:
			reason = wire.ReasonLate
		case target < g.floor && m == worst && m.loss > best+leaveMargin/2:
			reason = wire.ReasonLoss // it holds the rate below the floor while the others would not
		}
		// Never leave the last receiver in step behind: the stream would steer by nothing.
		wantLeft := reason != wire.ReasonNone && (m.left || inStep > 1)
		back := m.left && m.loss <= max(2*best+leaveMargin, leaveLoss/2) && m.late < leaveLate/2
		if !m.left && wantLeft || back {
			if m.since.IsZero() {
				m.since = now
			}
			if now.Sub(m.since) < leaveAfter {
				continue
			}
			m.since = time.Time{}
			m.left = !m.left
			kbps := uint32(min(target/1000, float64(^uint32(0))))
			n := wire.Notice{State: wire.NoticeInStep, LossBP: uint16(min(10000, 10000*m.loss)), GroupKbps: kbps}
			if m.left {
				inStep--
				n.State, n.Reason = wire.NoticeLeftBehind, reason
				g.log.Warn("multicast: receiver left behind: the group no longer waits for it",
					"addr", m.addr, "loss_pct", 100*m.loss, "late_pct", 100*m.late, "best_loss_pct", 100*best,
					"target_mbit_per_s", target/1e6, "floor_mbit_per_s", g.floor/1e6)
			} else {
				inStep++
				g.log.Info("multicast: receiver back in step", "addr", m.addr, "loss_pct", 100*m.loss)
			}
			notes = append(notes, note{m, n})
			continue
		}
		m.since = time.Time{}
	}
	return notes
}

// parityLoss is the share of datagrams that some receiver in step misses, their
// losses taken as independent (1 - the product of what each gets), within the limit
// beyond which a receiver is left behind: parity for more would cost every receiver
// more than that one is worth. own reports whether that loss is some receivers' own
// (the best loses under a quarter of the worst's): not a queue on the sender's link,
// which every receiver would share, so parity helps and cannot feed that queue.
func (g *group) parityLoss() (loss float64, own bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	got, best, worst, n := 1.0, 1.0, 0.0, 0
	for _, m := range g.members {
		if m.inStep() {
			got *= 1 - m.loss
			best, worst = min(best, m.loss), max(worst, m.loss)
			n++
		}
	}
	return min(1-got, leaveLoss), n > 1 && best < worst/4
}

// The group as the ledger's link (and the sender's feedback).

// Connected reports whether some receiver in step is linked.
func (g *group) Connected() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m.inStep() {
			return true
		}
	}
	return false
}

// Reconnects counts receivers that joined; each join resends every tile.
func (g *group) Reconnects() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.joins
}

// RTT is the longest round trip of the receivers in step.
func (g *group) RTT() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	var rtt time.Duration
	for _, m := range g.members {
		if m.inStep() {
			rtt = max(rtt, m.link.RTT())
		}
	}
	return rtt
}

// Ready is closed once a receiver's link is up (keyed: it proved the key).
func (g *group) Ready() <-chan struct{} { return g.ready }

// Refusal is the last receiver's refusal of this stream (a key mismatch), or nil.
func (g *group) Refusal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusal
}

// receivers is the per-receiver part of Stats: every receiver linked now, and the
// most recent maxMembers that went.
func (g *group) receivers(now time.Time) []ReceiverStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []ReceiverStats
	for _, m := range g.members { // those gone too, for a summary at the end
		m.ackTimes = pruneTimes(m.ackTimes, now)
		fps := 0.0
		if span := min(fpsSpan, now.Sub(m.joined)); span > 0 {
			fps = float64(len(m.ackTimes)) / span.Seconds()
		}
		out = append(out, ReceiverStats{Addr: m.addr, RTTMs: float64(m.link.RTT()) / float64(time.Millisecond),
			LossPct: 100 * m.loss, AckedFPS: fps, FramesAcked: m.acked, LatePct: 100 * m.late,
			LeftBehind: m.left, Connected: m.link.Connected()})
	}
	return out
}

// fpsSpan is the span of acknowledgements a receiver's acked frame rate is taken over.
const fpsSpan = 2 * time.Second

// pruneTimes drops the times older than fpsSpan before now.
func pruneTimes(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > fpsSpan {
		i++
	}
	return append(ts[:0], ts[i:]...)
}

// popcount counts the set bits among the first n of an MSB-first bitmap.
func popcount(b []byte, n int) int {
	c := 0
	for i, x := range b {
		if (i+1)*8 > n {
			if r := n - i*8; r > 0 {
				c += bits.OnesCount8(x >> (8 - r))
			}
			break
		}
		c += bits.OnesCount8(x)
	}
	return c
}
