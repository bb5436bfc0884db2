package metrics_test

import (
	"net/http/httptest"
	"testing"

	"github.com/hrvs/hrvs/net/metrics"
	"github.com/hrvs/hrvs/net/sender"
)

// fixedSender is a sender whose Stats a test sets.
type fixedSender struct{ st sender.Stats }

func (f fixedSender) Stats() sender.Stats { return f.st }

func TestEachMulticastReceiverHasItsOwnSeries(t *testing.T) {
	st := sender.Stats{Receivers: []sender.ReceiverStats{
		{Addr: "10.0.0.2:40000", RTTMs: 2, LossPct: 5, AckedFPS: 29.5, FramesAcked: 300, LatePct: 1, Connected: true},
		{Addr: "10.0.0.3:40000", RTTMs: 40, LossPct: 35, AckedFPS: 12, FramesAcked: 100, LatePct: 60, LeftBehind: true, Connected: true},
		{Addr: "10.0.0.4:40000", FramesAcked: 7}, // gone
	}}
	h, err := metrics.Handler(metrics.NewSenderCollector(fixedSender{st}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	fams := scrape(t, srv.URL)
	for _, c := range []struct {
		name, metric, receiver string
		want                   float64
	}{
		{"the round trip is in seconds", "hrvs_sender_receiver_rtt_seconds", "10.0.0.2:40000", 0.002},
		{"the loss is a ratio", "hrvs_sender_receiver_loss_ratio", "10.0.0.3:40000", 0.35},
		{"the acked frame rate is per second", "hrvs_sender_receiver_acked_fps", "10.0.0.2:40000", 29.5},
		{"frames acked are a counter", "hrvs_sender_receiver_frames_acked_total", "10.0.0.2:40000", 300},
		{"late merges are a ratio", "hrvs_sender_receiver_late_ratio", "10.0.0.3:40000", 0.6},
		{"a receiver left behind reads 1", "hrvs_sender_receiver_left_behind", "10.0.0.3:40000", 1},
		{"a receiver in step reads 0", "hrvs_sender_receiver_left_behind", "10.0.0.2:40000", 0},
		{"a receiver gone reads 0 connected", "hrvs_sender_receiver_connected", "10.0.0.4:40000", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := value(t, fams, c.metric, "receiver", c.receiver); got != c.want {
				t.Fatalf("%s{receiver=%q} = %v, want %v", c.metric, c.receiver, got, c.want)
			}
		})
	}
	if got := value(t, fams, "hrvs_sender_receivers"); got != 2 {
		t.Fatalf("hrvs_sender_receivers = %v, want 2 linked", got)
	}
	t.Run("a sender to one receiver has no per-receiver series", func(t *testing.T) {
		h, err := metrics.Handler(metrics.NewSenderCollector(fixedSender{}))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		if _, ok := scrape(t, srv.URL)["hrvs_sender_receivers"]; ok {
			t.Fatal("hrvs_sender_receivers served for a unicast sender")
		}
	})
}
