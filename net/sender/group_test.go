package sender

import (
	"log/slog"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// fakeMember is a receiver's control link as a test sets it.
type fakeMember struct {
	up      bool
	rtt     time.Duration
	offset  time.Duration // the receiver's clock minus ours
	notices []wire.Notice
}

func (f *fakeMember) Connected() bool               { return f.up }
func (f *fakeMember) RTT() time.Duration            { return f.rtt }
func (f *fakeMember) Offset() (time.Duration, bool) { return f.offset, true }
func (f *fakeMember) Notify(n wire.Notice) error    { f.notices = append(f.notices, n); return nil }
func newTestGroup() (*group, *[]wire.Ack)           { return testGroup(DefaultGroupFloor) }
func bitmap(n int, set ...int) []byte               { b := make([]byte, (n+7)/8); setBits(b, set...); return b }
func setBits(b []byte, set ...int) {
	for _, i := range set {
		b[i/8] |= 0x80 >> (i % 8)
	}
}
func (g *group) addMember(l *fakeMember, t time.Time) *member {
	m := &member{addr: "198.51.100.1:1", link: l, joined: t}
	g.members = append(g.members, m)
	return m
}

func testGroup(floor int64) (*group, *[]wire.Ack) {
	g := newGroup(nil, 1, floor, slog.New(slog.DiscardHandler))
	var out []wire.Ack
	g.onAck = func(a *wire.Ack, _ time.Time) { out = append(out, *a) }
	g.target = func() float64 { return 50e6 }
	return g, &out
}

// ack makes receiver's acknowledgement of frame: tiles got of 16, datagrams arrived of d.
func ack(frame uint32, bytes uint32, got []int, d int, arrived []int, firstUS, readyUS int64) *wire.Ack {
	return &wire.Ack{Stream: 1, Frame: frame, FirstUS: firstUS, ReadyUS: readyUS, Bytes: bytes, Received: uint16(len(got)),
		FrameTiles: 4, GridTiles: 16, Got: bitmap(16, got...), Datagrams: uint16(d), Arrived: bitmap(d, arrived...)}
}

func TestGroupMergesAcknowledgements(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t.Run("a tile lost by one receiver is reported lost once, for all", func(t *testing.T) {
		g, out := newTestGroup()
		a, b := g.addMember(&fakeMember{up: true}, t0), g.addMember(&fakeMember{up: true}, t0)
		g.ack(a, ack(1, 4000, []int{0, 1, 2, 3}, 4, []int{0, 1, 2, 3}, 10, 20), t0)
		if len(*out) != 0 {
			t.Fatal("merged before every receiver answered")
		}
		g.ack(b, ack(1, 3000, []int{0, 2, 3}, 4, []int{0, 2, 3}, 10, 20), t0)
		if len(*out) != 1 {
			t.Fatalf("%d merged acks, want 1", len(*out))
		}
		m := (*out)[0]
		if !m.Has(0) || m.Has(1) || !m.Has(2) || m.Received != 3 {
			t.Fatalf("merged tiles %08b, received %d: want tile 1 lost", m.Got, m.Received)
		}
		if m.Came(1) || !m.Came(0) || m.Bytes != 3000 {
			t.Fatalf("merged arrival %08b, %d bytes: want datagram 1 lost and the fewest bytes", m.Arrived, m.Bytes)
		}
	})
	t.Run("the timing is the receiver that finished last, on the sender's clock", func(t *testing.T) {
		g, out := newTestGroup()
		a := g.addMember(&fakeMember{up: true, offset: time.Second}, t0)
		b := g.addMember(&fakeMember{up: true, offset: -time.Second}, t0)
		g.ack(a, ack(1, 4000, []int{0}, 1, []int{0}, 1_000_100, 1_000_300), t0) // 100, 300 on ours
		g.ack(b, ack(1, 4000, []int{0}, 1, []int{0}, -999_900, -999_500), t0)   // 100, 500 on ours
		if m := (*out)[0]; m.FirstUS != 100 || m.ReadyUS != 500 {
			t.Fatalf("first %d, ready %d µs: want 100, 500", m.FirstUS, m.ReadyUS)
		}
	})
	t.Run("a receiver that acknowledged a later frame missed the earlier one, and the merges go in order", func(t *testing.T) {
		g, out := newTestGroup()
		a, b := g.addMember(&fakeMember{up: true}, t0), g.addMember(&fakeMember{up: true}, t0)
		g.ack(a, ack(1, 4000, []int{0, 1}, 2, []int{0, 1}, 1, 2), t0)
		g.ack(a, ack(2, 4000, []int{0, 1}, 2, []int{0, 1}, 1, 2), t0)
		g.ack(b, ack(2, 4000, []int{0, 1}, 2, []int{0, 1}, 1, 2), t0)
		if len(*out) != 2 || (*out)[0].Frame != 1 || (*out)[1].Frame != 2 {
			t.Fatalf("merged %+v, want frames 1 then 2", *out)
		}
		if (*out)[0].Received != 0 || (*out)[0].Has(0) {
			t.Fatalf("frame 1 merged with tiles %08b: the second receiver got none", (*out)[0].Got)
		}
	})
	t.Run("a silent receiver holds a merge no longer than the hold, and counts late", func(t *testing.T) {
		g, out := newTestGroup()
		a, b := g.addMember(&fakeMember{up: true}, t0), g.addMember(&fakeMember{up: true}, t0)
		g.ack(a, ack(1, 4000, []int{0, 1}, 2, []int{0, 1}, 1, 2), t0)
		if got := g.collect(t0.Add(mergeHold/2), false); len(got) != 0 {
			t.Fatal("handed on before the hold")
		}
		got := g.collect(t0.Add(mergeHold), false)
		if len(got) != 1 || got[0].Received != 0 {
			t.Fatalf("after the hold: %+v, want frame 1 with every tile lost (unknown at one receiver)", got)
		}
		if b.late == 0 || a.late != 0 {
			t.Fatalf("late: %.2f, %.2f; want only the silent one late", a.late, b.late)
		}
		// Its acknowledgement, when it comes, is too late to merge.
		g.ack(b, ack(1, 4000, []int{0, 1}, 2, []int{0, 1}, 1, 2), t0.Add(time.Second))
		if len(*out) != 0 || len(g.pending) != 0 {
			t.Fatalf("a late acknowledgement made a merge: %+v", *out)
		}
	})
	t.Run("a receiver left behind steers nothing", func(t *testing.T) {
		g, out := newTestGroup()
		a, b := g.addMember(&fakeMember{up: true}, t0), g.addMember(&fakeMember{up: true}, t0)
		b.left = true
		g.ack(a, ack(1, 4000, []int{0, 1}, 2, []int{0, 1}, 1, 2), t0)
		if len(*out) != 1 || (*out)[0].Received != 2 {
			t.Fatalf("merged %+v, want frame 1 as the receiver in step got it", *out)
		}
	})
}

func TestGroupLeavesBehindAReceiverFarBehind(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name       string
		loss, late float64
		target     float64
		left       bool
		reason     uint8
	}{
		{"a receiver losing 5% stays in step: parity covers it", 0.05, 0, 50e6, false, 0},
		{"a receiver losing 40% while the others lose nothing is left behind", 0.40, 0, 50e6, true, wire.ReasonLoss},
		{"a receiver whose acknowledgements keep missing the merge is left behind", 0, 0.8, 50e6, true, wire.ReasonLate},
		{"the lossiest receiver holding the rate below the floor is left behind", 0.06, 0, 1e6, true, wire.ReasonLoss},
		{"the same receiver above the floor stays", 0.06, 0, 10e6, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := testGroup(DefaultGroupFloor)
			good := g.addMember(&fakeMember{up: true}, t0)
			badLink := &fakeMember{up: true}
			bad := g.addMember(badLink, t0)
			bad.loss, bad.late = tc.loss, tc.late
			now := t0.Add(leaveAfter)
			if n := g.review(now, tc.target); len(n) != 0 {
				t.Fatalf("state changed at once: %+v", n)
			}
			notes := g.review(now.Add(leaveAfter), tc.target)
			if bad.left != tc.left || good.left {
				t.Fatalf("left behind: bad %v, good %v; want %v, false", bad.left, good.left, tc.left)
			}
			if !tc.left {
				return
			}
			if len(notes) != 1 || notes[0].m != bad || notes[0].n.State != wire.NoticeLeftBehind || notes[0].n.Reason != tc.reason {
				t.Fatalf("notices %+v", notes)
			}
			// Once it does well again it comes back, and is told so.
			bad.loss, bad.late = 0, 0
			g.review(now.Add(3*leaveAfter), tc.target*100)
			notes = g.review(now.Add(4*leaveAfter), tc.target*100)
			if bad.left || len(notes) != 1 || notes[0].n.State != wire.NoticeInStep {
				t.Fatalf("did not come back: left %v, notices %+v", bad.left, notes)
			}
		})
	}
	t.Run("the last receiver in step is never left behind", func(t *testing.T) {
		g, _ := testGroup(DefaultGroupFloor)
		only := g.addMember(&fakeMember{up: true}, t0)
		only.loss = 0.9
		g.review(t0.Add(leaveAfter), 1e6)
		g.review(t0.Add(3*leaveAfter), 1e6)
		if only.left {
			t.Fatal("the only receiver was left behind")
		}
	})
}

func TestGroupParityFollowsTheWorstReceiver(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name   string
		losses []float64
		min    float64
		max    float64
		own    bool
	}{
		{"one lossy receiver among clean ones: its loss, its own", []float64{0, 0.05, 0}, 0.05, 0.051, true},
		{"two lossy receivers: both counted", []float64{0.05, 0.05, 0}, 0.097, 0.098, true},
		{"every receiver losing alike: a shared path, not theirs", []float64{0.05, 0.05, 0.05}, 0.14, 0.15, false},
		{"a receiver beyond the limit: parity stops at the limit", []float64{0, 0.6}, leaveLoss, leaveLoss, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newTestGroup()
			for _, l := range tc.losses {
				g.addMember(&fakeMember{up: true}, t0).loss = l
			}
			loss, own := g.parityLoss()
			if loss < tc.min || loss > tc.max || own != tc.own {
				t.Fatalf("parity loss %.4f, own %v; want %.3f..%.3f, %v", loss, own, tc.min, tc.max, tc.own)
			}
		})
	}
}

func TestAReceiverLeftBehindIsStillTimed(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		after time.Duration
		later bool
	}{
		{"its acknowledgement soon after the merge counts as keeping up", 10 * time.Millisecond, false},
		{"its acknowledgement long after the merge counts as late", time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, out := newTestGroup()
			in := g.addMember(&fakeMember{up: true}, t0)
			left := g.addMember(&fakeMember{up: true}, t0)
			left.left, left.late = true, 0.5
			g.ack(in, ack(1, 4000, []int{0}, 1, []int{0}, 1, 2), t0)
			if len(*out) != 1 {
				t.Fatalf("the merge waited for a receiver left behind: %d merged", len(*out))
			}
			g.ack(left, ack(1, 4000, []int{0}, 1, []int{0}, 1, 2), t0.Add(tc.after))
			if (left.late > 0.5) != tc.later {
				t.Fatalf("late share %.3f after an acknowledgement %v after the merge", left.late, tc.after)
			}
		})
	}
}
