package sender_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// loopbackName is the loopback interface's name, where a group on this machine lives.
func loopbackName(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 {
			return ifi.Name
		}
	}
	t.Fatal("no loopback interface")
	return ""
}

// groupReceivers joins n receivers to group on iface, runs them until the test ends
// and counts the frames each shows.
type groupReceivers struct {
	rx    []*receiver.Receiver
	mu    sync.Mutex
	shown []int
}

func (g *groupReceivers) count(i int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.shown[i]
}

func startGroupReceivers(t *testing.T, ctx context.Context, wg *sync.WaitGroup, cfgs []receiver.Config,
	newRX func(i int, c receiver.Config) (*receiver.Receiver, error)) *groupReceivers {
	t.Helper()
	g := &groupReceivers{shown: make([]int, len(cfgs))}
	for i, c := range cfgs {
		// The tests count whole frames: a receiver starved of CPU on a loaded machine
		// loses datagrams in its socket, and the repair that rides the next frame
		// must reach it before the frame is given up.
		c.Deadline = time.Second
		rx, err := newRX(i, c)
		if err != nil {
			t.Fatal(err)
		}
		g.rx = append(g.rx, rx)
		wg.Go(func() { rx.Run(ctx) })
		wg.Go(func() {
			for {
				f, err := rx.Next(ctx)
				if err != nil {
					return
				}
				g.mu.Lock()
				g.shown[i]++
				g.mu.Unlock()
				f.Release()
			}
		})
	}
	return g
}

// One sender sends each datagram once to a group on the loopback interface; two
// receivers joined to it show the stream, each with its own control link, keyed or not.
func TestMulticastOnLoopbackReachesEveryReceiver(t *testing.T) {
	lo := loopbackName(t)
	for _, keyed := range []bool{false, true} {
		name := "two receivers each show the stream and ack on their own link"
		if keyed {
			name = "two keyed receivers each prove the key and show the stream"
		}
		t.Run(name, func(t *testing.T) {
			var key *seal.Key
			if keyed {
				k, err := seal.NewKey()
				if err != nil {
					t.Fatal(err)
				}
				key = &k
			}
			// A free port for the group: bind one receiver with port 0, the rest join it.
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			first, err := receiver.New(receiver.Config{Listen: "239.77.1.1:0", Iface: lo, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			group := first.Addr()
			rs := startGroupReceivers(t, ctx, &wg, make([]receiver.Config, 2), func(i int, c receiver.Config) (*receiver.Receiver, error) {
				if i == 0 {
					return first, nil
				}
				c.Listen, c.Iface, c.Key = group, lo, key
				return receiver.New(c)
			})
			tx, err := sender.New(sender.Config{To: group, Iface: lo, Key: key, Stream: 0x5eed})
			if err != nil {
				t.Fatal(err)
			}
			if tx.ControlAddr() == nil {
				t.Fatal("a multicast sender has no control port")
			}
			txCtx, stopTX := context.WithCancel(ctx)
			txDone := make(chan error, 1)
			go func() { txDone <- tx.Run(txCtx, pattern(t, 320, 192, 30), 0) }()
			testrig.Eventually(t, testrig.Patience, func() error {
				st := tx.Stats()
				if linked(st) != 2 {
					return fmt.Errorf("%d receivers linked", linked(st))
				}
				for i := range rs.rx {
					if n := rs.count(i); n < 30 {
						return fmt.Errorf("receiver %d showed %d frames", i, n)
					}
				}
				for _, r := range st.Receivers {
					if r.FramesAcked < 20 || r.LeftBehind {
						return fmt.Errorf("receiver %+v", r)
					}
				}
				return nil
			})
			st := tx.Stats()
			stopTX()
			if err := <-txDone; err != nil {
				t.Fatal(err)
			}
			if st.DatagramsSent == 0 {
				t.Fatal("no datagrams counted")
			}
			for i, rx := range rs.rx {
				rst := rx.Stats()
				// Each datagram reached each receiver once: a pool of sockets on a group
				// would duplicate them.
				if rst.DatagramsDuplicate > rst.DatagramsReceived/10 {
					t.Errorf("receiver %d: %d duplicates of %d datagrams", i, rst.DatagramsDuplicate, rst.DatagramsReceived)
				}
			}
			t.Logf("sender: %d frames, %d datagrams; receivers %+v", st.FramesSent, st.DatagramsSent, st.Receivers)
		})
	}
}

// linked counts the group's receivers linked now.
func linked(st sender.Stats) int {
	n := 0
	for _, r := range st.Receivers {
		if r.Connected {
			n++
		}
	}
	return n
}

// A receiver that joins a running group of a still scene is sent the whole picture at
// once: its link's arrival marks every tile for repair (with the rolling refresh out of
// the way, an hour; only the one-tile keepalive would bring it otherwise, a tile a frame).
func TestALateJoinerIsSentTheWholePictureAtOnce(t *testing.T) {
	lo := loopbackName(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	first, err := receiver.New(receiver.Config{Listen: "239.77.1.2:0", Iface: lo})
	if err != nil {
		t.Fatal(err)
	}
	group := first.Addr()
	wg.Go(func() { first.Run(ctx) })
	wg.Go(func() {
		for {
			f, err := first.Next(ctx)
			if err != nil {
				return
			}
			f.Release()
		}
	})
	src := still{pattern(t, 320, 192, 30)}
	tx, err := sender.New(sender.Config{To: group, Iface: lo, Refresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	txCtx, stopTX := context.WithCancel(ctx)
	txDone := make(chan error, 1)
	go func() { txDone <- tx.Run(txCtx, src, 0) }()
	defer func() { stopTX(); <-txDone }()
	// The first receiver has had the whole picture and the scene sends nothing new.
	testrig.Eventually(t, testrig.Patience, func() error {
		if st := tx.Stats(); st.FramesAcked < 30 {
			return fmt.Errorf("%d frames acknowledged", st.FramesAcked)
		}
		return nil
	})
	before := tx.Stats()
	late, err := receiver.New(receiver.Config{Listen: group, Iface: lo})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { late.Run(ctx) })
	ref := reference(src)(0)
	var best atomic.Uint64 // PSNR x 100 of the best frame the joiner showed
	wg.Go(func() {
		for {
			f, err := late.Next(ctx)
			if err != nil {
				return
			}
			if p := uint64(100 * tile.PSNR(ref, f.Image)); p > best.Load() {
				best.Store(p)
			}
			f.Release()
		}
	})
	testrig.Eventually(t, testrig.Patience, func() error {
		if p := float64(best.Load()) / 100; p < 30 {
			return fmt.Errorf("the late joiner's best picture is at %.1f dB", p)
		}
		return nil
	})
	testrig.Eventually(t, testrig.Patience, func() error {
		st := tx.Stats()
		if n := st.TilesRepaired - before.TilesRepaired; n < uint64(st.Tiles) {
			return fmt.Errorf("%d tiles sent again since the join, want all %d", n, st.Tiles)
		}
		return nil
	})
}
