package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hrvs/hrvs/net/sender"
)

// groupMetrics are a multicast sender's per-receiver figures (sender.ReceiverStats),
// one series per receiver, labelled with its control connection's address: the
// group is as fast as its slowest receiver in step, and these show which one that is.
type groupMetrics struct {
	receivers                             *prometheus.Desc
	rtt, loss, fps, acked, late, left, up *prometheus.Desc
}

func newGroupMetrics() *groupMetrics {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "sender", name), help, []string{"receiver"}, nil)
	}
	return &groupMetrics{
		receivers: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "sender", "receivers"), "Multicast: receivers linked now.", nil, nil),
		rtt:       d("receiver_rtt_seconds", "Multicast: round-trip time on the receiver's control link."),
		loss:      d("receiver_loss_ratio", "Multicast: smoothed share of data datagrams the receiver did not get, 0..1."),
		fps:       d("receiver_acked_fps", "Multicast: frames the receiver acknowledged per second, over the last 2 s."),
		acked:     d("receiver_frames_acked_total", "Multicast: frames the receiver acknowledged."),
		late:      d("receiver_late_ratio", "Multicast: smoothed share of frames merged without the receiver's acknowledgement, 0..1."),
		left:      d("receiver_left_behind", "Multicast: 1 while the group no longer waits for the receiver."),
		up:        d("receiver_connected", "Multicast: 1 while the receiver's control link is up."),
	}
}

func (g *groupMetrics) describe() []*prometheus.Desc {
	return []*prometheus.Desc{g.receivers, g.rtt, g.loss, g.fps, g.acked, g.late, g.left, g.up}
}

// collect sends s's per-receiver series; nothing for a sender to one receiver.
func (g *groupMetrics) collect(s sender.Stats, ch chan<- prometheus.Metric) {
	if s.Receivers == nil {
		return
	}
	linked, seen := 0, map[string]bool{}
	// Newest last in Stats: a reused address keeps its newest link's figures.
	for i := len(s.Receivers) - 1; i >= 0; i-- {
		r := s.Receivers[i]
		if seen[r.Addr] {
			continue
		}
		seen[r.Addr] = true
		if r.Connected {
			linked++
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, r.Addr)
		}
		gauge(g.rtt, r.RTTMs/1e3)
		gauge(g.loss, r.LossPct/100)
		gauge(g.fps, r.AckedFPS)
		ch <- prometheus.MustNewConstMetric(g.acked, prometheus.CounterValue, float64(r.FramesAcked), r.Addr)
		gauge(g.late, r.LatePct/100)
		gauge(g.left, b2f(r.LeftBehind))
		gauge(g.up, b2f(r.Connected))
	}
	ch <- prometheus.MustNewConstMetric(g.receivers, prometheus.GaugeValue, float64(linked))
}
