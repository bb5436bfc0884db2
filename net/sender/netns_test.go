package sender_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/lab/testbed"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// newBedRig puts the receiver in the bed's receiver namespace and the sender in the
// sender namespace, so the kernel's own loss (nftables) and rate cap (tbf) sit between.
func newBedRig(t *testing.T, b *testbed.Bed, src source, cfg sender.Config) *loopback.Rig {
	t.Helper()
	rcfg := receiver.Config{Listen: netip.AddrPortFrom(b.ReceiverAddr(), 0).String(), Sockets: 2}
	if testrig.Race {
		rcfg.Deadline = time.Second
	}
	cfg.DialControl = func(ctx context.Context, addr string) (net.Conn, error) {
		return b.DialTCP(ctx, testbed.Sender, addr)
	}
	return loopback.Start(t, src, loopback.Config{Receiver: rcfg, Sender: cfg, Reference: reference(src),
		NewReceiver: func(c receiver.Config) (rx *receiver.Receiver, err error) {
			err = b.Do(testbed.Receiver, func() (err error) { rx, err = receiver.New(c); return err })
			return rx, err
		},
		NewSender: func(c sender.Config) (tx *sender.Sender, err error) {
			err = b.Do(testbed.Sender, func() (err error) { tx, err = sender.New(c); return err })
			return tx, err
		},
	})
}

func TestKernelLossIsRepaired(t *testing.T) {
	b := testrig.Netns(t, "")
	if err := b.SetLoss(10); err != nil {
		t.Fatal(err)
	}
	r := newBedRig(t, b, still{pattern(t, 640, 384, 30)}, sender.Config{Refresh: time.Hour})
	// The picture must heal, however long a busy machine takes.
	r.SendUntil(t, func() error {
		fr, st := r.Shown(), r.TX.Stats()
		if len(fr) < 10 || st.TilesLost == 0 || st.TilesRepaired == 0 || lastPSNR(fr) < 35 {
			return fmt.Errorf("%d frames shown, the last at PSNR %.1f dB under 10%% kernel loss (%d tiles lost, %d repaired)",
				len(fr), lastPSNR(fr), st.TilesLost, st.TilesRepaired)
		}
		return nil
	})
	r.Stop()
	t.Logf("sender %+v", r.TX.Stats())
}

func TestKernelRateCapKeepsLatencyBounded(t *testing.T) {
	b := testrig.Netns(t, "")
	if err := b.SetRate(3_000_000); err != nil {
		t.Fatal(err)
	}
	r := newBedRig(t, b, pattern(t, 640, 384, 30), sender.Config{})
	r.SendUntil(t, settledUnderCap(r))
	st := r.TX.Stats()
	r.Stop()
	t.Logf("sender %+v", st)
	fr := r.Shown()
	var worst time.Duration
	for _, s := range fr[len(fr)/2:] {
		worst = max(worst, s.Latency)
	}
	if !testrig.Race && worst > 200*time.Millisecond {
		t.Errorf("latency reached %v in the second half behind a 3 Mbit/s tbf", worst)
	}
	if !testrig.Race && st.TargetMbps > 3.2 { // under race the encoder is slower than the cap
		t.Errorf("target %.1f Mbit/s above the 3 Mbit/s cap", st.TargetMbps)
	}
}
