package receiver_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/testrig/loopback"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// A receiver starved of CPU drops datagrams in its own socket buffers. It counts
// them and tells the sender, which sends it fewer frames and keeps the quality:
// on a loss-free loopback nothing is the path's.
func TestAReceiverStarvedOfCPUGetsFewerFramesNotWorseOnes(t *testing.T) {
	pat, _ := capture.NewPattern(1280, 720, 30)
	r := loopback.Start(t, pat, loopback.Config{
		Receiver: receiver.Config{Sockets: 1},
		Sender:   sender.Config{Quality: 75, NewEncoder: fast},
		NewReceiver: func(cfg receiver.Config) (*receiver.Receiver, error) {
			rx, err := receiver.New(cfg)
			if err == nil {
				err = receiver.Starve(rx, 4*time.Millisecond, 16<<10)
			}
			return rx, err
		},
	})
	r.SendUntil(t, func() error {
		rs, ss := r.RX.Stats(), r.TX.Stats()
		if rs.DatagramsDroppedSocket == 0 || ss.LossAtReceiver < 50 || ss.FramesSkippedReceiver == 0 || rs.FramesReceived < 30 {
			return fmt.Errorf("receiver dropped %d datagrams itself, the sender took %d lost as the receiver's and skipped %d frames for it; %d frames received",
				rs.DatagramsDroppedSocket, ss.LossAtReceiver, ss.FramesSkippedReceiver, rs.FramesReceived)
		}
		return nil
	})
	r.Stop()
	rs, ss := r.RX.Stats(), r.TX.Stats()
	t.Logf("datagrams sent %d, received %d: %d lost on a loss-free loopback\n", ss.DatagramsSent, rs.DatagramsReceived, ss.DatagramsSent-rs.DatagramsReceived)
	t.Logf("receiver: dropped here %d (socket %d, counted %v), lost %d, frames %d\nsender: quality %d, cuts %d (%s) %v, loss %.1f%%, dropped at receiver %d, loss at receiver %d, frames skipped for it %d of %d",
		rs.DatagramsDroppedHere, rs.DatagramsDroppedSocket, rs.DropsCounted, rs.DatagramsLost, rs.FramesReceived,
		ss.Quality, ss.QualityCuts, ss.QualityCutReason, ss.TargetCuts, ss.LossPct, ss.DatagramsDroppedAtReceiver, ss.LossAtReceiver, ss.FramesSkippedReceiver, ss.FramesCaptured)
	if !rs.DropsCounted || rs.DatagramsDroppedHere < rs.DatagramsDroppedSocket {
		t.Errorf("drops counted %v, dropped here %d < the sockets' %d", rs.DropsCounted, rs.DatagramsDroppedHere, rs.DatagramsDroppedSocket)
	}
	// On a loss-free loopback every datagram lost is the receiver's. With GRO the
	// kernel counts buffers, not datagrams, so the count is an estimate.
	if lost := ss.DatagramsSent - rs.DatagramsReceived; rs.DatagramsDroppedHere < lost/2 || rs.DatagramsDroppedHere > 2*lost {
		t.Errorf("the receiver counted %d datagrams dropped itself, %d were lost", rs.DatagramsDroppedHere, lost)
	}
	if ss.DatagramsDroppedAtReceiver == 0 || ss.DatagramsDroppedAtReceiver > rs.DatagramsDroppedHere {
		t.Errorf("the sender heard of %d datagrams dropped at the receiver, which counted %d", ss.DatagramsDroppedAtReceiver, rs.DatagramsDroppedHere)
	}
	if ss.Quality != 75 || ss.QualityCuts != 0 {
		t.Errorf("quality %d after %d cuts for %q (target cuts %v): a starved receiver is not a full path", ss.Quality, ss.QualityCuts, ss.QualityCutReason, ss.TargetCuts)
	}
}

// Loss on the path stays the path's: a receiver that keeps up counts no drops of its
// own, and the sender lowers the quality for the loss as before.
func TestPathLossStillCutsQuality(t *testing.T) {
	pat, _ := capture.NewPattern(640, 384, 30)
	r := loopback.Start(t, pat, loopback.Config{
		Receiver: receiver.Config{Sockets: 1},
		Sender:   sender.Config{Quality: 75, NewEncoder: fast},
		Relay:    &relay.Config{Loss: 0.4},
	})
	r.SendUntil(t, func() error {
		if ss := r.TX.Stats(); ss.QualityCuts == 0 || ss.TargetCuts["loss"] == 0 {
			return fmt.Errorf("quality %d after %d cuts, target cuts %v", ss.Quality, ss.QualityCuts, ss.TargetCuts)
		}
		return nil
	})
	r.Stop()
	rs, ss := r.RX.Stats(), r.TX.Stats()
	t.Logf("quality %d after %d cuts (%s), loss %.0f%%, receiver dropped %d itself, the sender took %d lost as the receiver's",
		ss.Quality, ss.QualityCuts, ss.QualityCutReason, ss.LossPct, rs.DatagramsDroppedHere, ss.LossAtReceiver)
	if lost := ss.DatagramsSent - rs.DatagramsReceived; ss.LossAtReceiver*10 > lost {
		t.Errorf("%d of %d datagrams the path lost were taken for the receiver's", ss.LossAtReceiver, lost)
	}
	if ss.Quality >= 75 {
		t.Errorf("quality %d at 40%% path loss, want it lowered", ss.Quality)
	}
}
