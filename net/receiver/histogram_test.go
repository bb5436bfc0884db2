package receiver

import (
	"slices"
	"testing"
	"time"
)

func TestLatencyHistogramBuckets(t *testing.T) {
	ms := time.Millisecond
	bounds := []time.Duration{ms, 10 * ms, 50 * ms, time.Second}
	cases := []struct {
		name    string
		samples []time.Duration
		want    []uint64
		sum     time.Duration
	}{
		{"no frames leave every bucket empty", nil, []uint64{0, 0, 0, 0}, 0},
		{"a frame counts in every bucket at or above it", []time.Duration{5 * ms}, []uint64{0, 1, 1, 1}, 5*ms + 50*time.Microsecond},
		{"a frame just under a bound counts within it", []time.Duration{ms - time.Microsecond}, []uint64{1, 1, 1, 1}, 950 * time.Microsecond},
		{"a frame past the last bound counts only in the total", []time.Duration{3 * time.Second}, []uint64{0, 0, 0, 0}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Receiver{asm: newAssembler(assemblerConfig{})}
			for _, d := range c.samples {
				r.asm.c.latency.add(d)
			}
			h := r.LatencyHistogram(bounds)
			if h.Count != uint64(len(c.samples)) || !slices.Equal(h.Buckets, c.want) {
				t.Fatalf("count %d buckets %v, want %d and %v", h.Count, h.Buckets, len(c.samples), c.want)
			}
			if c.sum > 0 && (h.Sum < c.sum-time.Microsecond || h.Sum > c.sum+time.Microsecond) {
				t.Fatalf("sum %v, want %v", h.Sum, c.sum)
			}
			if len(c.samples) > 0 && c.sum == 0 && (h.Sum < c.samples[0]*99/100 || h.Sum > c.samples[0]*101/100) {
				t.Fatalf("sum %v, want within 1%% of %v", h.Sum, c.samples[0])
			}
		})
	}
}
