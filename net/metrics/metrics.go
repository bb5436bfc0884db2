// Package metrics exposes the sender's and the receiver's counters to Prometheus: a
// collector for each end reads one Stats snapshot per scrape and turns it into metrics
// in the text exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/).
// Nothing here counts on its own and nothing is global: each handler has its own registry.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// Namespace prefixes every metric name, as Prometheus's naming practice asks
// (https://prometheus.io/docs/practices/naming/).
const Namespace = "hrvs"

// LatencyBounds are the upper bounds of the receiver's latency histogram buckets. Those
// up to 200 ms fall on edges of the receiver's own buckets (0.1 ms wide below 25.6 ms,
// 1/128 of their value above), so their counts are exact; above, a count may miss the
// frames of the one bucket that straddles the bound (under 0.8% of the bound wide).
var LatencyBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 30 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second,
}

// metric is one figure of a snapshot of type S: its name under the end's subsystem,
// help, type, and value; a metric with a label has one value per label value.
type metric[S any] struct {
	name, help string
	kind       prometheus.ValueType
	label      string                     // "" for none
	values     map[string]func(S) float64 // by label value; the key "" when label is ""
	desc       *prometheus.Desc
}

func counter[S any](name, help string, v func(S) uint64) *metric[S] {
	return &metric[S]{name: name, help: help, kind: prometheus.CounterValue,
		values: map[string]func(S) float64{"": func(s S) float64 { return float64(v(s)) }}}
}

func gauge[S any](name, help string, v func(S) float64) *metric[S] {
	return &metric[S]{name: name, help: help, kind: prometheus.GaugeValue, values: map[string]func(S) float64{"": v}}
}

func boolean[S any](name, help string, v func(S) bool) *metric[S] {
	return gauge(name, help, func(s S) float64 { return b2f(v(s)) })
}

func byLabel[S any](name, help, label string, v map[string]func(S) uint64) *metric[S] {
	m := &metric[S]{name: name, help: help, kind: prometheus.CounterValue, label: label, values: map[string]func(S) float64{}}
	for k, f := range v {
		m.values[k] = func(s S) float64 { return float64(f(s)) }
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// snapshotCollector collects the metrics of one snapshot taken per scrape, so every
// figure of a scrape comes from the same moment.
type snapshotCollector[S any] struct {
	snap    func() S
	metrics []*metric[S]
	extra   func(S, chan<- prometheus.Metric) // metrics that are not one number, like a histogram
	descs   []*prometheus.Desc                // extra's descriptions
}

func newCollector[S any](subsystem string, snap func() S, ms []*metric[S]) *snapshotCollector[S] {
	for _, m := range ms {
		var labels []string
		if m.label != "" {
			labels = []string{m.label}
		}
		m.desc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, m.name), m.help, labels, nil)
	}
	return &snapshotCollector[S]{snap: snap, metrics: ms}
}

func (c *snapshotCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *snapshotCollector[S]) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	for _, m := range c.metrics {
		for lv, v := range m.values {
			if m.label == "" {
				ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v(s))
			} else {
				ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v(s), lv)
			}
		}
	}
	if c.extra != nil {
		c.extra(s, ch)
	}
}

// Receiver is what the receiver's collector reads: *receiver.Receiver.
type Receiver interface {
	Stats() receiver.Stats
	LatencyHistogram(bounds []time.Duration) receiver.LatencyHistogram
}

// Sender is what the sender's collector reads: *sender.Sender.
type Sender interface {
	Stats() sender.Stats
}

// NewReceiverCollector returns a collector of rx's figures, named hrvs_receiver_*:
// frame, tile, datagram and byte counters, datagrams dropped by reason, the latency
// histogram (capture to frame ready, in seconds), fps, rate and the clock offset.
func NewReceiverCollector(rx Receiver) prometheus.Collector {
	type S = receiver.Stats
	c := newCollector("receiver", rx.Stats, []*metric[S]{
		counter("frames_received_total", "Frames released for display, complete or concealed.", func(s S) uint64 { return s.FramesReceived }),
		counter("frames_complete_total", "Frames released with every tile.", func(s S) uint64 { return s.FramesComplete }),
		counter("frames_partial_total", "Frames released with tiles missing (concealed from the previous frame).", func(s S) uint64 { return s.FramesPartial }),
		counter("frames_displayed_total", "Frames the outputs took; the others were replaced by a newer one first.", func(s S) uint64 { return s.FramesDisplayed }),
		counter("tiles_received_total", "Tiles decoded.", func(s S) uint64 { return s.TilesReceived }),
		counter("tiles_missing_total", "Tiles missing from released frames.", func(s S) uint64 { return s.TilesMissing }),
		counter("datagrams_received_total", "Datagrams read from the sockets.", func(s S) uint64 { return s.DatagramsReceived }),
		counter("datagrams_lost_total", "Datagrams of released frames that never arrived and were not rebuilt.", func(s S) uint64 { return s.DatagramsLost }),
		counter("datagrams_recovered_total", "Datagrams rebuilt from parity (FEC).", func(s S) uint64 { return s.DatagramsRecovered }),
		byLabel("datagrams_dropped_total", "Datagrams refused, by reason.", "reason", map[string]func(S) uint64{
			"invalid":         func(s S) uint64 { return s.DatagramsInvalid },
			"late":            func(s S) uint64 { return s.DatagramsLate },
			"duplicate":       func(s S) uint64 { return s.DatagramsDuplicate },
			"overflow":        func(s S) uint64 { return s.DatagramsOverflow },
			"socket":          func(s S) uint64 { return s.DatagramsDroppedSocket },
			"unauthenticated": func(s S) uint64 { return s.DatagramsUnauthenticated },
			"replayed":        func(s S) uint64 { return s.DatagramsReplayed },
			"other_stream":    func(s S) uint64 { return s.DatagramsOtherStream },
			"out_of_window":   func(s S) uint64 { return s.DatagramsOutOfWindow },
			"stale":           func(s S) uint64 { return s.DatagramsStale },
		}),
		counter("datagrams_dropped_here_total", "Datagrams this receiver dropped itself (its sockets' buffers and its overflows), not the path; told to the sender.", func(s S) uint64 { return s.DatagramsDroppedHere }),
		counter("decode_errors_total", "Tiles that failed to decode.", func(s S) uint64 { return s.DecodeErrors }),
		counter("bytes_received_total", "UDP payload bytes read.", func(s S) uint64 { return s.BytesReceived }),
		counter("streams_total", "Streams (sender restarts) seen.", func(s S) uint64 { return s.Streams }),
		counter("acks_dropped_total", "Acknowledgements not sent because the control link was full or down.", func(s S) uint64 { return s.AcksDropped }),
		gauge("fps", "Frames per second released, over the whole run.", func(s S) float64 { return s.FPS }),
		gauge("rate_bytes_per_second", "UDP payload bytes per second read, over the whole run.", func(s S) float64 { return s.Mbps * 1e6 / 8 }),
		gauge("clock_offset_seconds", "The sender's clock minus ours, as measured on the control link.", func(s S) float64 { return s.ClockOffsetMs / 1e3 }),
		boolean("clock_synced", "1 when the clock offset has been measured.", func(s S) bool { return s.ClockSynced }),
		boolean("keyed", "1 when the receiver requires a key.", func(s S) bool { return s.Keyed }),
		gauge("frame_width_pixels", "The newest frame's width.", func(s S) float64 { return float64(s.Width) }),
		gauge("frame_height_pixels", "The newest frame's height.", func(s S) float64 { return float64(s.Height) }),
		gauge("quality", "The newest frame's JPEG quality.", func(s S) float64 { return float64(s.Quality) }),
	})
	lat := prometheus.NewDesc(prometheus.BuildFQName(Namespace, "receiver", "latency_seconds"),
		"Capture to frame ready, every frame released (needs the clock offset for a sender on another machine).", nil, nil)
	c.descs = append(c.descs, lat)
	c.extra = func(_ receiver.Stats, ch chan<- prometheus.Metric) {
		h := rx.LatencyHistogram(LatencyBounds)
		buckets := make(map[float64]uint64, len(LatencyBounds))
		for i, b := range LatencyBounds {
			buckets[b.Seconds()] = h.Buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(lat, h.Count, h.Sum.Seconds(), buckets)
	}
	return c
}

// NewSenderCollector returns a collector of tx's figures, named hrvs_sender_*: frame,
// tile, datagram and byte counters, frames dropped by reason, repairs, parity, loss,
// the rate control's state and the control link's round-trip time.
func NewSenderCollector(tx Sender) prometheus.Collector {
	type S = sender.Stats
	c := newCollector("sender", tx.Stats, []*metric[S]{
		counter("frames_captured_total", "Frames taken from the source.", func(s S) uint64 { return s.FramesCaptured }),
		counter("frames_sent_total", "Frames sent.", func(s S) uint64 { return s.FramesSent }),
		byLabel("frames_dropped_total", "Frames not sent, by reason: busy (encoders still on the previous frame), window (too many unacknowledged), rate (over the rate control's budget), receiver (a receiver dropping datagrams itself).", "reason", map[string]func(S) uint64{
			"busy":   func(s S) uint64 { return s.FramesDroppedBusy },
			"window": func(s S) uint64 { return s.FramesDroppedAck },
			"rate":   func(s S) uint64 { return s.FramesDroppedRate },
			// fewer frames for a receiver that drops datagrams itself
			"receiver": func(s S) uint64 { return s.FramesSkippedReceiver },
		}),
		counter("datagrams_dropped_at_receiver_total", "Datagrams the receiver said it dropped itself (its sockets' buffers, its queue): its CPU, not the path.", func(s S) uint64 { return s.DatagramsDroppedAtReceiver }),
		counter("loss_at_receiver_total", "Lost datagrams the receiver's own drops explained: counted as its CPU's, not as path loss.", func(s S) uint64 { return s.LossAtReceiver }),
		counter("frames_acked_total", "Frames the receiver acknowledged.", func(s S) uint64 { return s.FramesAcked }),
		counter("frames_acked_complete_total", "Frames the receiver acknowledged whole.", func(s S) uint64 { return s.FramesAckedWhole }),
		counter("frames_receiver_slow_total", "Frames whose arrival spread showed a slow receiver rather than a slow path.", func(s S) uint64 { return s.FramesReceiverSlow }),
		counter("tiles_sent_total", "Tiles sent.", func(s S) uint64 { return s.TilesSent }),
		counter("tiles_changed_total", "Tiles sent because the picture changed.", func(s S) uint64 { return s.TilesChanged }),
		counter("tiles_repaired_total", "Tiles sent again because the receiver missed them.", func(s S) uint64 { return s.TilesRepaired }),
		counter("tiles_refreshed_total", "Tiles sent by the rolling refresh.", func(s S) uint64 { return s.TilesRefreshed }),
		counter("tiles_lost_total", "Tiles reported missing, or in frames never acknowledged.", func(s S) uint64 { return s.TilesLost }),
		counter("tiles_deferred_total", "Tiles left for a later frame to keep a frame's spread on a slow path.", func(s S) uint64 { return s.TilesDeferred }),
		counter("datagrams_sent_total", "Datagrams sent, parity included.", func(s S) uint64 { return s.DatagramsSent }),
		counter("bytes_sent_total", "UDP payload bytes sent.", func(s S) uint64 { return s.BytesSent }),
		counter("send_errors_total", "Datagrams the socket refused.", func(s S) uint64 { return s.SendErrors }),
		counter("encode_errors_total", "Tiles that failed to encode.", func(s S) uint64 { return s.EncodeErrors }),
		counter("control_reconnects_total", "Times the control link was connected again.", func(s S) uint64 { return s.ControlReconnects }),
		gauge("rtt_seconds", "Round-trip time on the control link.", func(s S) float64 { return s.RTTMs / 1e3 }),
		boolean("control_connected", "1 while the control link to the receiver is up.", func(s S) bool { return s.ControlConnected }),
		boolean("open_loop", "1 while no usable acknowledgements arrive: safe rate, no repair.", func(s S) bool { return s.OpenLoop }),
		boolean("keyed", "1 when the stream is sealed with a key.", func(s S) bool { return s.Keyed }),
		gauge("quality", "JPEG quality chosen by rate control.", func(s S) float64 { return float64(s.Quality) }),
		gauge("target_rate_bytes_per_second", "The rate control's target.", func(s S) float64 { return s.TargetMbps * 1e6 / 8 }),
		gauge("receive_rate_bytes_per_second", "What the receiver reported getting.", func(s S) float64 { return s.ReceiveMbps * 1e6 / 8 }),
		gauge("queue_delay_seconds", "One-way delay above the path's empty-queue minimum.", func(s S) float64 { return s.QueueDelayMs / 1e3 }),
		gauge("loss_ratio", "Smoothed datagram loss, 0..1.", func(s S) float64 { return s.LossPct / 100 }),
		gauge("parity_ratio", "Parity datagrams per data datagram in the last protected frame; 0 when unprotected.", func(s S) float64 { return s.FECPct / 100 }),
		gauge("tile_share", "Tiles sent per grid tile per frame: 1 is whole frames.", func(s S) float64 { return s.TileShare }),
		gauge("encode_seconds_p50", "Median time to encode a frame's tiles.", func(s S) float64 { return s.EncodeMsP50 / 1e3 }),
		gauge("frame_width_pixels", "The frame's width.", func(s S) float64 { return float64(s.Width) }),
		gauge("frame_height_pixels", "The frame's height.", func(s S) float64 { return float64(s.Height) }),
	})
	g := newGroupMetrics() // a multicast group's receivers (group.go)
	c.descs, c.extra = g.describe(), g.collect
	return c
}

// Handler serves the collectors' metrics, and the process's and Go runtime's, in the
// Prometheus exposition formats, from a registry of its own.
func Handler(cs ...prometheus.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	cs = append(cs, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, MaxRequestsInFlight: 4}), nil
}

// Server serves a metrics handler at /metrics on its own listener, for an end that has
// no HTTP server of its own (the sender).
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Serve listens on addr (host:port; ":0" picks a port) and serves h at /metrics until
// Close.
func Serve(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	s := &Server{ln: ln, done: make(chan struct{}), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, giving scrapes in flight a second to finish.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	return err
}
