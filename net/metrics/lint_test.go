package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/hrvs/hrvs/net/metrics"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
)

// fakeRx and fakeTx give zero snapshots: naming does not depend on the figures.
type fakeRx struct{}

func (fakeRx) Stats() receiver.Stats { return receiver.Stats{} }
func (fakeRx) LatencyHistogram(b []time.Duration) receiver.LatencyHistogram {
	return receiver.LatencyHistogram{Buckets: make([]uint64, len(b))}
}

type fakeTx struct{}

func (fakeTx) Stats() sender.Stats { return sender.Stats{} }

// TestMetricsFollowPrometheusNaming runs promlint (the client library's linter of the
// naming practice) and the pedantic registry's consistency checks over both collectors.
func TestMetricsFollowPrometheusNaming(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewReceiverCollector(fakeRx{}), metrics.NewSenderCollector(fakeTx{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	probs, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
