package sender

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// The ledger is tested alone: acknowledgements are built here, the control link,
// rate control and the pacer are fakes that record what the ledger tells them.

type fakeLink struct {
	up         bool
	reconnects uint64
	rtt        time.Duration
}

func (f *fakeLink) Connected() bool               { return f.up }
func (f *fakeLink) Reconnects() uint64            { return f.reconnects }
func (f *fakeLink) RTT() time.Duration            { return f.rtt }
func (f *fakePace) setRate(bits int64)            { f.rates = append(f.rates, bits) }
func (f *fakeCC) openLoop() float64               { f.opened++; return 1e6 }
func (f *fakeCC) paceBits(time.Time, int64) int64 { return 42 }

type fakePace struct{ rates []int64 }

type ackFeed struct {
	owdMs      float64
	bytes      uint32
	sent, wire int64
}

type lossFeed struct {
	lost, late int
	lateShare  float64
}

type spreadFeed struct {
	wire, send, arrive, path int64
	lossless                 bool
}

type fakeCC struct {
	rxDropped int // datagrams explained as the receiver's
	acks      []ackFeed
	losses    []lossFeed
	spreads   []spreadFeed
	slow      bool // what onDispersion answers
	opened    int
}

func (f *fakeCC) onAck(_ time.Time, owdMs float64, _, _ int64, bytes uint32, sent, wire int64) {
	f.acks = append(f.acks, ackFeed{owdMs, bytes, sent, wire})
}

func (f *fakeCC) receiverDropped(_ time.Time, n int) { f.rxDropped += n }

func (f *fakeCC) onDatagramLoss(_ time.Time, lost, late int, share float64) {
	f.losses = append(f.losses, lossFeed{lost, late, share})
}

func (f *fakeCC) onDispersion(_ time.Time, wireBytes, sendUS, arriveUS, pathUS int64, lossless bool) bool {
	f.spreads = append(f.spreads, spreadFeed{wireBytes, sendUS, arriveUS, pathUS, lossless})
	return f.slow
}

const testStream = 0x5eed

type ledgerRig struct {
	l     *ledger
	link  *fakeLink
	cc    *fakeCC
	pace  *fakePace
	count *counters
	t0    time.Time
}

func newLedgerRig(tiles int) *ledgerRig {
	r := &ledgerRig{link: &fakeLink{up: true}, cc: &fakeCC{}, pace: &fakePace{}, count: &counters{}, t0: time.Unix(1000, 0)}
	r.l = newLedger(testStream, 3, 1e9, r.link, r.cc, r.pace, r.count, slog.New(slog.DiscardHandler))
	r.l.reset(tiles)
	return r
}

// send records frame no carrying tiles, as d data datagrams of 1000 payload bytes
// whose first left at sendUS and last 10 ms later, done at the same moment.
func (r *ledgerRig) send(no uint32, tiles []uint16, d int, sendUS int64) *tally {
	t := &tally{}
	t.seq.Store(int32(d))
	t.payload.Store(int64(1000 * d))
	t.bytes.Store(int64((1000 + wire.HeaderSize) * d))
	t.firstSendUS.Store(sendUS)
	t.lastSendUS.Store(sendUS + 10_000)
	at := r.t0.Add(time.Duration(sendUS) * time.Microsecond)
	r.l.record(no, tiles, t, at)
	r.l.sent(no, make([]int32, len(tiles)), at.Add(10*time.Millisecond))
	return t
}

// ackOf is an acknowledgement as the receiver would send it.
type ackOf struct {
	frame     uint32
	tiles     int   // tiles the frame carried
	got       []int // grid tiles received whole
	datagrams int
	missing   []int // data datagram indices that did not arrive
	firstUS   int64
	readyUS   int64
	bytes     uint32
}

func (o ackOf) build(gridTiles int) *wire.Ack {
	a := &wire.Ack{Stream: testStream, Frame: o.frame, FirstUS: o.firstUS, ReadyUS: o.readyUS, Bytes: o.bytes,
		Received: uint16(len(o.got)), FrameTiles: uint16(o.tiles), GridTiles: uint16(gridTiles),
		Got: make([]byte, (gridTiles+7)/8), Datagrams: uint16(o.datagrams), Arrived: make([]byte, (o.datagrams+7)/8)}
	for _, t := range o.got {
		wire.SetBit(a.Got, t)
	}
	for i := range o.datagrams {
		if !slices.Contains(o.missing, i) {
			wire.SetBit(a.Arrived, i)
		}
	}
	return a
}

func (r *ledgerRig) lostTiles() []int {
	var lost []int
	for i, ts := range r.l.tiles {
		if ts.lost {
			lost = append(lost, i)
		}
	}
	return lost
}

func TestLedgerLearnsFromAcks(t *testing.T) {
	t.Run("tiles the ack lacks are lost and the others confirmed", func(t *testing.T) {
		r := newLedgerRig(8)
		r.send(1, []uint16{0, 1, 2, 3}, 8, 0)
		r.l.onAck(ackOf{frame: 1, tiles: 4, got: []int{0, 2}, datagrams: 8, missing: []int{2, 3, 6, 7},
			firstUS: 5_000, readyUS: 30_000, bytes: 4000}.build(8), r.t0.Add(40*time.Millisecond))
		if got := r.lostTiles(); !slices.Equal(got, []int{1, 3}) {
			t.Fatalf("lost tiles %v, want [1 3]", got)
		}
		if !r.l.tiles[0].confirmed || !r.l.tiles[2].confirmed {
			t.Fatal("tiles that arrived are not confirmed")
		}
		if r.count.acked.Load() != 1 || r.count.ackedWhole.Load() != 0 || r.count.lost.Load() != 2 {
			t.Fatalf("acked %d, whole %d, tiles lost %d; want 1, 0, 2", r.count.acked.Load(), r.count.ackedWhole.Load(), r.count.lost.Load())
		}
		if len(r.l.inflight) != 0 || r.l.outstanding() != 0 {
			t.Fatal("the acknowledged frame is still in flight")
		}
	})
	t.Run("rate control hears the delay, the bytes and where the datagrams were lost", func(t *testing.T) {
		r := newLedgerRig(8)
		r.send(1, []uint16{0, 1, 2, 3}, 8, 100_000)
		r.l.onAck(ackOf{frame: 1, tiles: 4, got: []int{0, 2}, datagrams: 8, missing: []int{2, 5, 6, 7},
			firstUS: 112_000, readyUS: 130_000, bytes: 4000}.build(8), r.t0.Add(140*time.Millisecond))
		want := ackFeed{owdMs: 12, bytes: 4000, sent: 8000, wire: 8 * (1000 + wire.HeaderSize)}
		if len(r.cc.acks) != 1 || r.cc.acks[0] != want {
			t.Fatalf("rate control heard %+v, want %+v", r.cc.acks, want)
		}
		if len(r.cc.losses) != 1 || r.cc.losses[0] != (lossFeed{lost: 4, late: 3, lateShare: 0.5}) {
			t.Fatalf("datagram losses %+v, want 4 lost, 3 of them in the second half", r.cc.losses)
		}
		if len(r.cc.spreads) != 0 {
			t.Fatal("a partial frame's spread went to rate control")
		}
		if len(r.pace.rates) != 1 || r.pace.rates[0] != 42 {
			t.Fatalf("pacer set to %v, want rate control's 42", r.pace.rates)
		}
	})
	t.Run("frames older than the one acknowledged are lost", func(t *testing.T) {
		r := newLedgerRig(8)
		r.send(1, []uint16{0, 1}, 2, 0)
		r.send(2, []uint16{2, 3}, 2, 33_000)
		r.send(3, []uint16{4}, 1, 66_000)
		r.l.onAck(ackOf{frame: 2, tiles: 2, got: []int{2, 3}, datagrams: 2, firstUS: 40_000, readyUS: 50_000, bytes: 2000}.build(8),
			r.t0.Add(60*time.Millisecond))
		if got := r.lostTiles(); !slices.Equal(got, []int{0, 1}) {
			t.Fatalf("lost tiles %v, want frame 1's [0 1]", got)
		}
		if _, ok := r.l.inflight[3]; !ok || len(r.l.inflight) != 1 {
			t.Fatal("want only the newer frame 3 left in flight")
		}
	})
	t.Run("a tile already sent again is not marked for another repair", func(t *testing.T) {
		r := newLedgerRig(8)
		r.send(1, []uint16{0, 1}, 2, 0)
		r.send(2, []uint16{1}, 1, 33_000) // tile 1 changed again
		r.l.onAck(ackOf{frame: 1, tiles: 2, got: []int{0}, datagrams: 2, missing: []int{1}, firstUS: 5_000, readyUS: 20_000, bytes: 1000}.build(8),
			r.t0.Add(40*time.Millisecond))
		if got := r.lostTiles(); len(got) != 0 {
			t.Fatalf("lost tiles %v: tile 1's newer version is on its way", got)
		}
		if r.count.lost.Load() != 1 {
			t.Fatalf("tiles lost %d, want 1 counted", r.count.lost.Load())
		}
	})
	t.Run("acks of another stream or of unknown frames change nothing", func(t *testing.T) {
		r := newLedgerRig(8)
		r.send(1, []uint16{0}, 1, 0)
		other := ackOf{frame: 1, tiles: 1, datagrams: 1, firstUS: 5_000, readyUS: 6_000}.build(8)
		other.Stream++
		r.l.onAck(other, r.t0.Add(time.Millisecond))
		r.l.onAck(ackOf{frame: 9, tiles: 1, datagrams: 1, firstUS: 5_000, readyUS: 6_000}.build(8), r.t0.Add(time.Millisecond))
		if len(r.l.inflight) != 1 || r.count.acked.Load() != 0 || len(r.cc.acks) != 0 {
			t.Fatal("a foreign or unknown ack was taken")
		}
	})
	t.Run("an ack from before a resize touches no tile of the new grid", func(t *testing.T) {
		r := newLedgerRig(8)
		r.send(1, []uint16{0, 1}, 2, 0)
		r.l.reset(4)
		r.l.onAck(ackOf{frame: 1, tiles: 2, datagrams: 2, firstUS: 5_000, readyUS: 6_000}.build(8), r.t0.Add(time.Millisecond))
		if got := r.lostTiles(); len(got) != 0 {
			t.Fatalf("lost tiles %v in the new grid", got)
		}
	})
}

func TestLedgerTimeoutsAndTheLoop(t *testing.T) {
	t.Run("a frame unacknowledged past the timeout is lost in closed loop", func(t *testing.T) {
		r := newLedgerRig(4)
		r.send(1, []uint16{0, 1}, 2, 0)
		now := r.t0.Add(100 * time.Millisecond)
		r.l.expire(now, r.l.checkLoop(now))
		if len(r.lostTiles()) != 0 {
			t.Fatal("lost before the timeout")
		}
		now = r.t0.Add(300 * time.Millisecond)
		r.l.expire(now, r.l.checkLoop(now))
		if got := r.lostTiles(); !slices.Equal(got, []int{0, 1}) {
			t.Fatalf("lost tiles %v, want [0 1]", got)
		}
		if r.l.outstanding() != 0 {
			t.Fatal("an expired frame still holds the window")
		}
	})
	t.Run("the ack timeout follows the round trip", func(t *testing.T) {
		r := newLedgerRig(4)
		r.link.rtt = 200 * time.Millisecond
		r.send(1, []uint16{0}, 1, 0)
		now := r.t0.Add(500 * time.Millisecond)
		r.l.expire(now, true)
		if len(r.lostTiles()) != 0 {
			t.Fatal("expired within four round trips")
		}
	})
	t.Run("open loop keeps the records and marks nothing", func(t *testing.T) {
		r := newLedgerRig(4)
		r.send(1, []uint16{0}, 1, 0)
		now := r.t0.Add(time.Second)
		r.l.expire(now, false)
		if len(r.lostTiles()) != 0 || len(r.l.inflight) != 1 {
			t.Fatal("open loop declared a loss or dropped the record")
		}
		r.l.expire(r.t0.Add(keepFlights+time.Second), false)
		if len(r.l.inflight) != 0 {
			t.Fatal("a record outlived keepFlights")
		}
	})
	t.Run("the window fills with unacknowledged frames", func(t *testing.T) {
		r := newLedgerRig(4)
		for no := range uint32(3) {
			if r.l.windowFull() {
				t.Fatalf("full after %d frames", no)
			}
			r.send(no+1, []uint16{uint16(no)}, 1, int64(no)*33_000)
		}
		if !r.l.windowFull() {
			t.Fatal("three frames in flight and the window of three is not full")
		}
	})
	t.Run("a silent link while frames wait drops to open loop once", func(t *testing.T) {
		r := newLedgerRig(4)
		r.send(1, []uint16{0}, 1, 0)
		r.l.onAck(ackOf{frame: 1, tiles: 1, got: []int{0}, datagrams: 1, firstUS: 5_000, readyUS: 6_000, bytes: 1000}.build(4), r.t0.Add(20*time.Millisecond))
		r.send(2, []uint16{1}, 1, 33_000)
		now := r.t0.Add(100 * time.Millisecond)
		if !r.l.checkLoop(now) {
			t.Fatal("open loop while acks are fresh")
		}
		for _, d := range []time.Duration{3 * time.Second, 4 * time.Second} {
			if r.l.checkLoop(r.t0.Add(d)) {
				t.Fatalf("closed loop after %v of silence", d)
			}
		}
		if r.cc.opened != 1 {
			t.Fatalf("rate control told %d times, want once", r.cc.opened)
		}
	})
	t.Run("a reconnection sends every tile again", func(t *testing.T) {
		r := newLedgerRig(4)
		r.l.checkLoop(r.t0)
		r.send(1, []uint16{0, 2}, 2, 0)
		r.l.onAck(ackOf{frame: 1, tiles: 2, got: []int{0, 2}, datagrams: 2, firstUS: 5_000, readyUS: 6_000, bytes: 2000}.build(4), r.t0.Add(20*time.Millisecond))
		r.link.up = false
		r.l.checkLoop(r.t0.Add(time.Second))
		r.link.up, r.link.reconnects = true, 1
		r.l.checkLoop(r.t0.Add(2 * time.Second))
		if got := r.lostTiles(); !slices.Equal(got, []int{0, 2}) {
			t.Fatalf("lost tiles %v after a reconnection, want every tile sent [0 2]", got)
		}
	})
}

// A whole frame's spread reaches rate control once a later frame's first datagram
// bounds it: on a FIFO path that datagram cannot arrive before this frame's last.
func TestLedgerBoundsTheSpreadByTheNextFrame(t *testing.T) {
	cases := []struct {
		name      string
		ready     int64 // release of frame 1, µs after its first arrival
		nextFirst int64 // frame 2's first arrival, µs after frame 1's
		wantPath  int64
	}{
		{"a release after the next frame began is cut to its arrival", 150_000, 33_000, 33_000},
		{"a release before the next frame is the path's", 20_000, 33_000, 20_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newLedgerRig(4)
			r.send(1, []uint16{0, 1}, 40, 1_000) // a first send at 0 would read as nothing sent
			r.send(2, []uint16{2}, 40, 34_000)
			r.l.onAck(ackOf{frame: 1, tiles: 2, got: []int{0, 1}, datagrams: 40, firstUS: 1_000_000, readyUS: 1_000_000 + c.ready,
				bytes: 40_000}.build(4), r.t0.Add(200*time.Millisecond))
			if len(r.cc.spreads) != 0 {
				t.Fatal("the spread went to rate control before a later frame bounded it")
			}
			r.cc.slow = true
			r.l.onAck(ackOf{frame: 2, tiles: 1, got: []int{2}, datagrams: 40, missing: []int{0}, firstUS: 1_000_000 + c.nextFirst,
				readyUS: 1_000_000 + c.nextFirst + 5_000, bytes: 39_000}.build(4), r.t0.Add(230*time.Millisecond))
			want := spreadFeed{wire: 40 * (1000 + wire.HeaderSize), send: 10_000, arrive: c.ready, path: c.wantPath, lossless: true}
			if len(r.cc.spreads) != 1 || r.cc.spreads[0] != want {
				t.Fatalf("spreads %+v, want %+v", r.cc.spreads, want)
			}
			if r.count.receiverSlow.Load() != 1 {
				t.Fatal("rate control's verdict of a slow receiver was not counted")
			}
		})
	}
}

// Issue 17: a receiver that stamps "frame released" after decoding slowly made the
// rate fall from 20 to 2 Mbit/s. Fed through the ledger into the real rate control,
// such acks must leave the rate where the path puts it.
func TestSlowReceiverDoesNotCollapseTheRate(t *testing.T) {
	const (
		fps        = 30
		frameBytes = 60_000 // ~14 Mbit/s at 30 fps, under the 20 Mbit/s start
		payload    = 1300
	)
	cases := []struct {
		name     string
		decodeUS int64 // the receiver's time from last arrival to release
		capBits  float64
		minRate  float64 // the target must end at least here
		maxRate  float64 // and at most here
		slow     bool    // frames counted as the receiver's slowness
	}{
		{"a receiver decoding 150 ms per frame leaves a fast path's rate up", 150_000, 1e9, 15e6, 1e12, true},
		{"a receiver decoding 60 ms per frame leaves a fast path's rate up", 60_000, 1e9, 15e6, 1e12, true},
		{"a prompt receiver behind a 5 Mbit/s path still cuts the rate", 1_000, 5e6, 0, 6e6, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newRateControl(0, 75, 20)
			r := newLedgerRig(64)
			r.l.cc = rc
			d := (frameBytes + payload - 1) / payload
			wireBytes := int64(d * (payload + wire.HeaderSize))
			var pathFreeUS int64 // when the bottleneck has sent everything so far
			for no := uint32(1); no <= 5*fps; no++ {
				sendUS := int64(no) * 1_000_000 / fps
				tl := &tally{}
				tl.seq.Store(int32(d))
				tl.payload.Store(int64(d * payload))
				tl.bytes.Store(wireBytes)
				tl.firstSendUS.Store(sendUS)
				sendSpan := int64(float64(wireBytes*8) / float64(rc.paceBits(r.t0, 1e9)) * 1e6)
				tl.lastSendUS.Store(sendUS + sendSpan)
				at := r.t0.Add(time.Duration(sendUS) * time.Microsecond)
				r.l.record(no, []uint16{uint16(no % 64)}, tl, at)
				r.l.sent(no, []int32{frameBytes}, at.Add(time.Duration(sendSpan)*time.Microsecond))
				// The path: 2 ms of propagation, then a FIFO served at capBits.
				first := max(sendUS+2_000, pathFreeUS)
				pathFreeUS = first + int64(float64(wireBytes*8)/c.capBits*1e6)
				ready := max(pathFreeUS, sendUS+sendSpan+2_000) + c.decodeUS
				ackAt := r.t0.Add(time.Duration(ready+1_000) * time.Microsecond)
				r.l.onAck(ackOf{frame: no, tiles: 1, got: []int{int(no % 64)}, datagrams: d, firstUS: first, readyUS: ready,
					bytes: uint32(d * payload)}.build(64), ackAt)
			}
			if rc.target < c.minRate || rc.target > c.maxRate {
				t.Errorf("target %.1f Mbit/s after 5 s, want %.0f..%.0f", rc.target/1e6, c.minRate/1e6, c.maxRate/1e6)
			}
			if slow := r.count.receiverSlow.Load(); (slow > 0) != c.slow {
				t.Errorf("%d frames counted as the receiver's slowness", slow)
			}
		})
	}
}

// Loss the receiver says it dropped itself (docs/PROTOCOL.md §5.4) reaches rate
// control as the receiver's, and only the rest as the path's.
func TestLedgerTakesTheReceiversDropsOutOfThePathLoss(t *testing.T) {
	drops := func(n uint64) wire.Drops { return wire.Drops{Stream: testStream, Count: n} }
	lossy := ackOf{frame: 1, tiles: 4, got: []int{0, 2}, datagrams: 8, missing: []int{2, 5, 6, 7},
		firstUS: 112_000, readyUS: 130_000, bytes: 4000}
	cases := []struct {
		name     string
		counts   []wire.Drops // the receiver's messages before the ack
		gap      time.Duration
		wantRx   int
		wantLoss lossFeed
		wantB    uint32
		wantTot  uint64
	}{
		{name: "without a message every loss is the path's, as before",
			wantLoss: lossFeed{lost: 4, late: 3, lateShare: 0.5}, wantB: 4000},
		{name: "the first message is a baseline: drops from before it explain nothing",
			counts: []wire.Drops{drops(500)}, wantLoss: lossFeed{lost: 4, late: 3, lateShare: 0.5}, wantB: 4000},
		{name: "three drops counted take three losses, the tail's first, out of the path's",
			counts: []wire.Drops{drops(10), drops(13)}, wantRx: 3, wantLoss: lossFeed{lost: 1, late: 0, lateShare: 0.5}, wantB: 7000, wantTot: 3},
		{name: "more drops than losses explain all of them, bytes included",
			counts: []wire.Drops{drops(0), drops(50)}, wantRx: 4, wantLoss: lossFeed{lost: 0, late: 0, lateShare: 0.5}, wantB: 8000, wantTot: 50},
		{name: "drops counted too long before the ack have lapsed",
			counts: []wire.Drops{drops(0), drops(50)}, gap: 2 * rxCreditKeep, wantLoss: lossFeed{lost: 4, late: 3, lateShare: 0.5}, wantB: 4000, wantTot: 50},
		{name: "a count that went down is a restarted receiver: a new baseline",
			counts: []wire.Drops{drops(100), drops(2)}, wantLoss: lossFeed{lost: 4, late: 3, lateShare: 0.5}, wantB: 4000},
		{name: "another stream's count is not ours",
			counts: []wire.Drops{drops(0), {Stream: testStream + 1, Count: 50}}, wantLoss: lossFeed{lost: 4, late: 3, lateShare: 0.5}, wantB: 4000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newLedgerRig(8)
			r.send(1, []uint16{0, 1, 2, 3}, 8, 100_000)
			at := r.t0.Add(140 * time.Millisecond)
			for _, d := range c.counts {
				r.l.onDrops(d, at.Add(-c.gap))
			}
			r.l.onAck(lossy.build(8), at)
			if r.cc.rxDropped != c.wantRx {
				t.Errorf("%d datagrams explained as the receiver's, want %d", r.cc.rxDropped, c.wantRx)
			}
			if len(r.cc.losses) != 1 || r.cc.losses[0] != c.wantLoss {
				t.Errorf("path losses %+v, want %+v", r.cc.losses, c.wantLoss)
			}
			if len(r.cc.acks) != 1 || r.cc.acks[0].bytes != c.wantB {
				t.Errorf("rate control heard %+v, want %d bytes arrived", r.cc.acks, c.wantB)
			}
			if got := r.count.rxDropped.Load(); got != c.wantTot {
				t.Errorf("%d datagrams counted as dropped at the receiver, want %d", got, c.wantTot)
			}
		})
	}
}
