package sender_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/lab/testbed"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// newBedRig puts the receiver in the bed's receiver namespace and the sender in the
// sender namespace, so the kernel's own loss (nftables) and rate cap (tbf) sit between.
func newBedRig(t *testing.T, b *testbed.Bed, src source, cfg sender.Config) *rig {
	t.Helper()
	rcfg := receiver.Config{Listen: netip.AddrPortFrom(b.ReceiverAddr(), 0).String(), Sockets: 2}
	if raceEnabled {
		rcfg.Deadline = time.Second
	}
	var rx *receiver.Receiver
	if err := b.Do(testbed.Receiver, func() (err error) { rx, err = receiver.New(rcfg); return err }); err != nil {
		t.Fatal(err)
	}
	cfg.To = rx.Addr()
	cfg.DialControl = func(ctx context.Context, addr string) (net.Conn, error) {
		return b.DialTCP(ctx, testbed.Sender, addr)
	}
	var tx *sender.Sender
	if err := b.Do(testbed.Sender, func() (err error) { tx, err = sender.New(cfg); return err }); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, rx: rx, tx: tx, src: src, seqs: make(map[int64]uint64)}
}

func TestKernelLossIsRepaired(t *testing.T) {
	b := testrig.Netns(t, "")
	if err := b.SetLoss(10); err != nil {
		t.Fatal(err)
	}
	r := newBedRig(t, b, still{pattern(t, 640, 384, 30)}, sender.Config{Refresh: time.Hour})
	r.start()
	time.Sleep(slow(1500 * time.Millisecond))
	r.stop()
	st := r.tx.Stats()
	t.Logf("sender %+v", st)
	fr := r.frames()
	if len(fr) < 10 {
		t.Fatalf("only %d frames shown", len(fr))
	}
	if p := fr[len(fr)-1].psnr; p < 35 {
		t.Errorf("last frame PSNR %.1f dB under 10%% kernel loss: not repaired", p)
	}
	if st.TilesLost == 0 || st.TilesRepaired == 0 {
		t.Errorf("10%% loss and nothing lost or repaired: %+v", st)
	}
}

func TestKernelRateCapKeepsLatencyBounded(t *testing.T) {
	b := testrig.Netns(t, "")
	if err := b.SetRate(3_000_000); err != nil {
		t.Fatal(err)
	}
	r := newBedRig(t, b, pattern(t, 640, 384, 30), sender.Config{})
	r.start()
	time.Sleep(slow(3 * time.Second))
	st := r.tx.Stats()
	r.stop()
	t.Logf("sender %+v", st)
	fr := r.frames()
	if len(fr) < 20 {
		t.Fatalf("only %d frames shown", len(fr))
	}
	var worst time.Duration
	for _, s := range fr[len(fr)/2:] {
		worst = max(worst, s.latency)
	}
	if !raceEnabled && worst > 200*time.Millisecond {
		t.Errorf("latency reached %v in the second half behind a 3 Mbit/s tbf", worst)
	}
	if !raceEnabled && st.TargetMbps > 3.2 { // under race the encoder is slower than the cap
		t.Errorf("target %.1f Mbit/s above the 3 Mbit/s cap", st.TargetMbps)
	}
}
