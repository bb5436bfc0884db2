package metrics_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/metrics"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// scrape fetches url and parses the text exposition format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain") // the text format, as curl and older scrapers get it
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %s, Content-Type %q", url, res.Status, res.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return fams
}

// settled scrapes url until a scrape falls between two equal snapshots of the stats it
// reports, so the scrape can be compared with them figure by figure.
func settled[S any](t *testing.T, snap func() S, url string) (S, map[string]*dto.MetricFamily) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		before := snap()
		fams := scrape(t, url)
		if after := snap(); reflect.DeepEqual(after, before) {
			return after, fams
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: the stats still move after 30 s: %+v then %+v", url, before, after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// value is the value of the family's metric whose labels are all of labels (name,
// value pairs); it fails the test if there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		}
		t.Fatalf("metric %s is a %v, not a counter or gauge", name, f.GetType())
	}
	t.Fatalf("metric %s has no series with labels %v", name, labels)
	return 0
}

// TestScrapedMetricsMatchTheStats streams frames from a sender to a receiver on loopback,
// serves both ends' metrics, scrapes them over HTTP and checks every figure against
// the ends' own Stats snapshots.
func TestScrapedMetricsMatchTheStats(t *testing.T) {
	const frames = 20
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 2, Deadline: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewPattern(320, 192, 30)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sender.New(sender.Config{To: rx.Addr(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rx.Run(ctx) }()
	go func() {
		defer wg.Done()
		for {
			f, err := rx.Next(ctx)
			if err != nil {
				return
			}
			f.Release()
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	if err := tx.Run(ctx, src, frames); err != nil {
		t.Fatal(err)
	}
	// The sender is done: wait for the receiver to release the frames still in flight.
	deadline := time.Now().Add(30 * time.Second)
	for rx.Stats().FramesReceived < tx.Stats().FramesSent && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	rh, err := metrics.Handler(metrics.NewReceiverCollector(rx))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := metrics.Handler(metrics.NewSenderCollector(tx))
	if err != nil {
		t.Fatal(err)
	}
	var urls [2]string
	for i, h := range []http.Handler{rh, sh} {
		srv, err := metrics.Serve("127.0.0.1:0", h, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		urls[i] = "http://" + srv.Addr().String() + "/metrics"
	}
	rs, rm := settled(t, rx.Stats, urls[0])
	st, sm := settled(t, tx.Stats, urls[1])
	if rs.FramesReceived == 0 || st.FramesSent == 0 {
		t.Fatalf("nothing went through: sender %+v receiver %+v", st, rs)
	}

	t.Run("the receiver's counters are its Stats", func(t *testing.T) {
		want := []struct {
			name   string
			labels []string
			v      float64
		}{
			{"hrvs_receiver_frames_received_total", nil, float64(rs.FramesReceived)},
			{"hrvs_receiver_frames_complete_total", nil, float64(rs.FramesComplete)},
			{"hrvs_receiver_frames_partial_total", nil, float64(rs.FramesPartial)},
			{"hrvs_receiver_frames_displayed_total", nil, float64(rs.FramesDisplayed)},
			{"hrvs_receiver_tiles_received_total", nil, float64(rs.TilesReceived)},
			{"hrvs_receiver_datagrams_received_total", nil, float64(rs.DatagramsReceived)},
			{"hrvs_receiver_datagrams_lost_total", nil, float64(rs.DatagramsLost)},
			{"hrvs_receiver_datagrams_recovered_total", nil, float64(rs.DatagramsRecovered)},
			{"hrvs_receiver_datagrams_dropped_total", []string{"reason", "invalid"}, float64(rs.DatagramsInvalid)},
			{"hrvs_receiver_datagrams_dropped_total", []string{"reason", "duplicate"}, float64(rs.DatagramsDuplicate)},
			{"hrvs_receiver_datagrams_dropped_total", []string{"reason", "stale"}, float64(rs.DatagramsStale)},
			{"hrvs_receiver_bytes_received_total", nil, float64(rs.BytesReceived)},
			{"hrvs_receiver_fps", nil, rs.FPS},
			{"hrvs_receiver_rate_bytes_per_second", nil, rs.Mbps * 1e6 / 8},
			{"hrvs_receiver_clock_offset_seconds", nil, rs.ClockOffsetMs / 1e3},
			{"hrvs_receiver_frame_width_pixels", nil, 320},
			{"hrvs_receiver_frame_height_pixels", nil, 192},
		}
		for _, w := range want {
			if got := value(t, rm, w.name, w.labels...); math.Abs(got-w.v) > 1e-9*math.Max(1, math.Abs(w.v)) {
				t.Errorf("%s%v = %v, Stats says %v", w.name, w.labels, got, w.v)
			}
		}
	})
	t.Run("the latency histogram counts every frame released", func(t *testing.T) {
		f, ok := rm["hrvs_receiver_latency_seconds"]
		if !ok || f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) != 1 {
			t.Fatalf("no single latency histogram: %v", f)
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != rs.FramesReceived {
			t.Fatalf("histogram counts %d frames, Stats says %d released", h.GetSampleCount(), rs.FramesReceived)
		}
		// The text format lists the +Inf bucket too.
		if len(h.GetBucket()) != len(metrics.LatencyBounds)+1 || !math.IsInf(h.GetBucket()[len(metrics.LatencyBounds)].GetUpperBound(), 1) {
			t.Fatalf("%d buckets, want %d and +Inf", len(h.GetBucket()), len(metrics.LatencyBounds))
		}
		prev := uint64(0)
		for _, b := range h.GetBucket()[:len(metrics.LatencyBounds)] {
			if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
				t.Fatalf("bucket le=%v holds %d after %d of %d", b.GetUpperBound(), b.GetCumulativeCount(), prev, h.GetSampleCount())
			}
			prev = b.GetCumulativeCount()
		}
		// On an idle loopback every frame is ready within 5 s of its capture.
		if prev != h.GetSampleCount() || h.GetSampleSum() <= 0 {
			t.Fatalf("the 5 s bucket holds %d of %d frames, sum %v s", prev, h.GetSampleCount(), h.GetSampleSum())
		}
		if p50 := rs.LatencyP50 / 1e3; h.GetSampleSum()/float64(h.GetSampleCount()) > 10*p50+0.01 {
			t.Errorf("mean latency %v s far above the median %v s", h.GetSampleSum()/float64(h.GetSampleCount()), p50)
		}
	})
	t.Run("the sender's counters are its Stats", func(t *testing.T) {
		want := []struct {
			name   string
			labels []string
			v      float64
		}{
			{"hrvs_sender_frames_captured_total", nil, float64(st.FramesCaptured)},
			{"hrvs_sender_frames_sent_total", nil, float64(st.FramesSent)},
			{"hrvs_sender_frames_dropped_total", []string{"reason", "busy"}, float64(st.FramesDroppedBusy)},
			{"hrvs_sender_frames_dropped_total", []string{"reason", "window"}, float64(st.FramesDroppedAck)},
			{"hrvs_sender_frames_dropped_total", []string{"reason", "rate"}, float64(st.FramesDroppedRate)},
			{"hrvs_sender_frames_acked_total", nil, float64(st.FramesAcked)},
			{"hrvs_sender_tiles_sent_total", nil, float64(st.TilesSent)},
			{"hrvs_sender_tiles_repaired_total", nil, float64(st.TilesRepaired)},
			{"hrvs_sender_datagrams_sent_total", nil, float64(st.DatagramsSent)},
			{"hrvs_sender_bytes_sent_total", nil, float64(st.BytesSent)},
			{"hrvs_sender_rtt_seconds", nil, st.RTTMs / 1e3},
			{"hrvs_sender_parity_ratio", nil, st.FECPct / 100},
			{"hrvs_sender_loss_ratio", nil, st.LossPct / 100},
			{"hrvs_sender_quality", nil, float64(st.Quality)},
			{"hrvs_sender_target_rate_bytes_per_second", nil, st.TargetMbps * 1e6 / 8},
		}
		for _, w := range want {
			if got := value(t, sm, w.name, w.labels...); math.Abs(got-w.v) > 1e-9*math.Max(1, math.Abs(w.v)) {
				t.Errorf("%s%v = %v, Stats says %v", w.name, w.labels, got, w.v)
			}
		}
		if st.FramesSent != frames || value(t, sm, "hrvs_sender_frames_sent_total") != frames {
			t.Errorf("sent %d frames, want %d", st.FramesSent, frames)
		}
	})
	t.Run("each end also reports its process", func(t *testing.T) {
		for i, fams := range []map[string]*dto.MetricFamily{rm, sm} {
			if _, ok := fams["process_resident_memory_bytes"]; !ok {
				t.Errorf("%s has no process_resident_memory_bytes", urls[i])
			}
			if _, ok := fams["go_goroutines"]; !ok {
				t.Errorf("%s has no go_goroutines", urls[i])
			}
		}
	})
	t.Run("every metric has help and the hrvs_ prefix or the standard ones", func(t *testing.T) {
		for i, fams := range []map[string]*dto.MetricFamily{rm, sm} {
			for name, f := range fams {
				ok := strings.HasPrefix(name, "hrvs_") || strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_")
				if !ok || f.GetHelp() == "" {
					t.Errorf("%s: %s (help %q)", urls[i], name, f.GetHelp())
				}
			}
		}
	})
}

// TestServeStopsOnClose: the metrics server's goroutine ends with Close and its port is
// free again.
func TestServeStopsOnClose(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "up 1") })
	srv, err := metrics.Serve("127.0.0.1:0", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", res.Status)
	}
	if res, err := http.Get("http://" + addr + "/other"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /other: %v %v, want 404", res, err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("still serving after Close")
	}
}
