package receiver

import "time"

// LatencyHistogram is the capture-to-ready latency of every frame released so far, in
// the shape of a Prometheus histogram (cumulative buckets, a count and a sum), read from
// the receiver's own buckets (0.1 ms wide below 25.6 ms, 1/128 of their value above).
type LatencyHistogram struct {
	Count uint64 // frames released
	// Sum of their latencies, estimated with each frame at the middle of its bucket: to
	// 0.05 ms below 25.6 ms and 0.4% above.
	Sum time.Duration
	// Buckets[i] counts the frames whose latency was at most bounds[i]. A frame whose
	// bucket straddles a bound counts above it, so a bound that is not on one of the
	// receiver's bucket edges undercounts by at most that bucket.
	Buckets []uint64
}

// LatencyHistogram returns the latency histogram with the given upper bounds, in
// ascending order. Like Stats it takes no lock the assembler uses.
func (r *Receiver) LatencyHistogram(bounds []time.Duration) LatencyHistogram {
	var c latencyCounts
	r.asm.c.latency.load(&c)
	h := LatencyHistogram{Buckets: make([]uint64, len(bounds))}
	lower := int64(0)
	for i, n := range c {
		upper := histUpper(i)
		h.Count += n
		h.Sum += time.Duration(n) * time.Duration(lower+upper) * histUnit / 2
		for j, b := range bounds {
			if time.Duration(upper)*histUnit <= b {
				h.Buckets[j] += n
			}
		}
		lower = upper
	}
	return h
}
