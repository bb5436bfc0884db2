package receiver_test

import (
	"context"
	"image"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// protectedFrame cuts a 512x256 pattern frame into four tiles of small fragments,
// numbers its data datagrams, and codes them in one block with m parity shards,
// the way the sender does (docs/PROTOCOL.md §3.4).
type protectedFrame struct {
	src    *image.YCbCr
	data   [][]byte // datagrams, by index
	parity [][]byte // datagrams
}

func buildProtected(t *testing.T, stream uint32, m int) protectedFrame {
	t.Helper()
	pat, err := capture.NewPattern(512, 256, 0)
	if err != nil {
		t.Fatal(err)
	}
	src := image.NewYCbCr(image.Rect(0, 0, 512, 256), image.YCbCrSubsampleRatio420)
	pat.Draw(src, 5)
	g, err := tile.NewGrid(512, 256, 256, 128, wire.Sub420)
	if err != nil {
		t.Fatal(err)
	}
	var enc tile.StdEncoder
	const room = 700 // small fragments, so a frame has a few dozen
	var pf protectedFrame
	pf.src = src
	var shards [][]byte
	var sub uint8
	for i := range g.Len() {
		var payload []byte
		payload, sub, err = enc.AppendTile(nil, src, g.Rect(i), 90)
		if err != nil {
			t.Fatal(err)
		}
		count := wire.Fragments(len(payload), room)
		for f := range count {
			h := wire.Header{Flags: wire.FlagProtected, Stream: stream, Frame: 1, CaptureUS: testCapture, Width: 512, Height: 256, Tile: uint16(i),
				Seq: uint16(len(pf.data)), FrameTiles: uint16(g.Len()), TileW: 256, TileH: 128, Fragment: uint16(f),
				Fragments: uint16(count), PayloadSize: uint32(len(payload)), Quality: 90, Format: sub}
			off, n := wire.FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment)
			d := make([]byte, wire.HeaderSize+n)
			h.MarshalTo(d)
			copy(d[wire.HeaderSize:], payload[off:off+n])
			pf.data = append(pf.data, d)
			sh := make([]byte, wire.ShardPrefix+n)
			wire.PutShardPrefix(sh, &h)
			copy(sh[wire.ShardPrefix:], payload[off:off+n])
			shards = append(shards, sh)
		}
	}
	l := 0
	for _, sh := range shards {
		l = max(l, len(sh))
	}
	for i, sh := range shards {
		p := make([]byte, l)
		copy(p, sh)
		shards[i] = p
	}
	par := make([][]byte, m)
	for j := range par {
		par[j] = make([]byte, l)
	}
	if err := fec.NewCodes().Encode(shards, par); err != nil {
		t.Fatal(err)
	}
	for j, p := range par {
		h := wire.Header{Stream: stream, Frame: 1, CaptureUS: testCapture, Width: 512, Height: 256, FrameTiles: uint16(g.Len()), TileW: 256, TileH: 128,
			Quality: 90, Format: sub}
		h.SetBlock(wire.Block{Start: 0, K: len(shards), M: m, Index: j}, l)
		d := make([]byte, wire.HeaderSize+l)
		h.MarshalTo(d)
		copy(d[wire.HeaderSize:], p)
		pf.parity = append(pf.parity, d)
	}
	return pf
}

// TestParityRebuildsLostDatagrams sends a protected frame with some datagrams left
// out: up to M lost of K+M, the receiver must rebuild them and show the frame whole,
// with the same pixels as when nothing was lost; one more and it cannot.
func TestParityRebuildsLostDatagrams(t *testing.T) {
	const m = 4
	cases := []struct {
		name        string
		dropData    []int
		dropParity  []int
		parityFirst bool
		complete    bool
		rebuilt     int // when not the datagrams dropped
	}{
		{name: "nothing lost: parity changes nothing", complete: true},
		{name: "as many data datagrams lost as there is parity", dropData: []int{0, 5, 6, 17}, complete: true},
		{name: "data and parity lost, M in all", dropData: []int{3, 9}, dropParity: []int{0, 3}, complete: true},
		// With the parity in first, the block is rebuilt as soon as any K shards are
		// there: before the last data datagram arrives, which then is a duplicate.
		{name: "parity before the data", dropData: []int{1, 2, 3}, parityFirst: true, complete: true, rebuilt: m},
		{name: "one more than parity can rebuild", dropData: []int{0, 1, 2, 3, 4}, complete: false},
	}
	var whole float64 // PSNR of the frame when nothing was lost
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream := uint32(200 + i)
			pf := buildProtected(t, stream, m)
			if len(pf.data) < 20 {
				t.Fatalf("only %d data datagrams: the test needs more", len(pf.data))
			}
			rx, conn, ctx := startReceiver(t, receiver.Config{Deadline: 100 * time.Millisecond})
			acks := make(chan wire.Ack, 4)
			cl := &control.Client{Addr: rx.Addr(), Stream: stream, OnAck: func(a *wire.Ack, _ time.Time) {
				c := *a
				c.Arrived = append([]byte(nil), a.Arrived...)
				select {
				case acks <- c:
				default:
				}
			}}
			cctx, ccancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); cl.Run(cctx) }()
			defer func() { ccancel(); <-done }()
			for !cl.Connected() {
				time.Sleep(5 * time.Millisecond)
			}
			drop := map[int]bool{}
			for _, d := range c.dropData {
				drop[d] = true
			}
			sendParity := func() {
				for j, d := range pf.parity {
					if !slices.Contains(c.dropParity, j) {
						conn.Write(d)
					}
				}
			}
			if c.parityFirst {
				sendParity()
			}
			for k, d := range pf.data {
				if !drop[k] {
					conn.Write(d)
				}
			}
			if !c.parityFirst {
				sendParity()
			}
			fctx, fcancel := context.WithTimeout(ctx, 3*time.Second)
			defer fcancel()
			f, err := rx.Next(fctx)
			if err != nil {
				t.Fatalf("no frame: %v (stats %+v)", err, rx.Stats())
			}
			defer f.Release()
			st := rx.Stats()
			want := uint64(len(c.dropData))
			if c.rebuilt > 0 {
				want = uint64(c.rebuilt)
			}
			if !c.complete {
				want = 0
			}
			if f.Complete() != c.complete || st.DatagramsRecovered != want || st.DatagramsInvalid != 0 {
				t.Fatalf("complete %v (want %v), %d datagrams rebuilt (want %d); stats %+v", f.Complete(), c.complete, st.DatagramsRecovered, want, st)
			}
			p := tile.PSNR(pf.src, f.Image)
			if i == 0 {
				whole = p
			}
			if c.complete && (p < 35 || p != whole) {
				t.Fatalf("PSNR %.3f dB against the source, %.3f dB with nothing lost: a rebuilt datagram is wrong", p, whole)
			}
			select {
			case a := <-acks:
				if int(a.Datagrams) != len(pf.data) {
					t.Fatalf("ack covers %d datagrams, the frame had %d", a.Datagrams, len(pf.data))
				}
				for k := range pf.data {
					if a.Came(k) == drop[k] {
						t.Fatalf("ack says datagram %d arrived %v; it was dropped %v (rebuilt ones must not count)", k, a.Came(k), drop[k])
					}
				}
			case <-time.After(3 * time.Second):
				t.Fatal("no acknowledgement")
			}
		})
	}
}

// startReceiver runs a receiver on loopback until the test ends and returns it with
// a UDP socket that sends to it.
func startReceiver(t *testing.T, cfg receiver.Config) (*receiver.Receiver, net.Conn, context.Context) {
	t.Helper()
	cfg.Listen, cfg.Sockets = "127.0.0.1:0", 1
	rx, err := receiver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rx.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	conn, err := net.Dial("udp", rx.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return rx, conn, ctx
}

// TestHostileParity sends parity datagrams that lie: random shards, blocks that
// overlap, a shard length that changes. Nothing may panic, what they rebuild must
// be refused or at worst spoil the frame they claim, and the next honest frame
// must arrive whole.
func TestHostileParity(t *testing.T) {
	pf := buildProtected(t, 300, 3)
	rx, conn, ctx := startReceiver(t, receiver.Config{Deadline: 100 * time.Millisecond})
	r := rand.New(rand.NewPCG(1, 1))
	var h wire.Header
	if _, err := h.Unmarshal(pf.parity[0], wire.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	// Frame 1: data with two gaps, then lying parity.
	for k, d := range pf.data {
		if k != 2 && k != 7 {
			conn.Write(d)
		}
	}
	for j := range 3 {
		b := h.Block()
		b.Index = j
		lie := h
		lie.SetBlock(b, len(pf.parity[0])-wire.HeaderSize)
		d := make([]byte, len(pf.parity[0]))
		lie.MarshalTo(d)
		for k := wire.HeaderSize; k < len(d); k++ {
			d[k] = byte(r.IntN(256))
		}
		conn.Write(d)
	}
	overlap := h
	overlap.SetBlock(wire.Block{Start: 3, K: 10, M: 2}, 50)
	d := make([]byte, wire.HeaderSize+50)
	overlap.MarshalTo(d)
	conn.Write(d)
	fctx, fcancel := context.WithTimeout(ctx, 3*time.Second)
	defer fcancel()
	f, err := rx.Next(fctx)
	if err != nil {
		t.Fatalf("no frame after lying parity: %v", err)
	}
	f.Release()
	// Frame 2: honest, one datagram lost, honest parity.
	for _, d := range pf.data[1:] {
		b := append([]byte(nil), d...)
		b[11] = 2 // frame number 2
		conn.Write(b)
	}
	for _, d := range pf.parity {
		b := append([]byte(nil), d...)
		b[11] = 2
		conn.Write(b)
	}
	f, err = rx.Next(fctx)
	if err != nil {
		t.Fatalf("no honest frame after the lies: %v", err)
	}
	defer f.Release()
	if st := rx.Stats(); !f.Complete() || st.DatagramsInvalid == 0 {
		t.Fatalf("honest frame complete %v; invalid datagrams %d (the overlapping block must count); stats %+v", f.Complete(), st.DatagramsInvalid, st)
	}
	if p := tile.PSNR(pf.src, f.Image); p < 35 {
		t.Fatalf("honest frame PSNR %.1f dB", p)
	}
}

// TestEndMarkerReleasesAFrameThatLostDatagrams: with the sender's end marker in, a
// frame missing a datagram is released at once, not after the deadline (2 s here)
// nor when the next frame shows up.
func TestEndMarkerReleasesAFrameThatLostDatagrams(t *testing.T) {
	pf := buildProtected(t, 400, 1)
	rx, conn, ctx := startReceiver(t, receiver.Config{Deadline: 2 * time.Second})
	for _, d := range pf.data[:len(pf.data)-3] { // the tail is lost, as behind a full queue
		conn.Write(d)
	}
	var h wire.Header
	if _, err := h.Unmarshal(pf.parity[0], wire.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	h.SetEnd(len(pf.data) - 1)
	end := make([]byte, wire.HeaderSize)
	h.MarshalTo(end)
	sent := time.Now()
	conn.Write(end)
	fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
	defer fcancel()
	f, err := rx.Next(fctx)
	if err != nil {
		t.Fatalf("no frame: %v", err)
	}
	defer f.Release()
	if waited := time.Since(sent); waited > time.Second || f.Complete() {
		t.Fatalf("frame released %v after the end marker (deadline 2 s), complete %v", waited, f.Complete())
	}
	if st := rx.Stats(); st.DatagramsInvalid != 0 || st.DatagramsDuplicate != 0 {
		t.Fatalf("the end marker was counted: %+v", st)
	}
}

// testCapture is the capture time the hand-made frames carry: a real one, so the
// receiver, whose clock the control link relates to ours, does not find them stale.
var testCapture = uint32(time.Now().UnixMicro())
