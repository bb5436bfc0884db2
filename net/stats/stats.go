// Package stats keeps the counters both ends report: a latency histogram with
// percentiles, rate meters for the once-a-second live line, and the JSON summary
// written by --stats-json. Everything here is safe for concurrent use.
package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Latency is a histogram of durations in 100 µs buckets up to 10 s, so percentiles
// cost no memory per sample and stay exact to a tenth of a millisecond.
type Latency struct {
	mu      sync.Mutex
	buckets [100001]uint32
	n       uint64
}

const bucketWidth = 100 * time.Microsecond

// Add records one sample; negative samples (clock offset error) count as zero.
func (l *Latency) Add(d time.Duration) {
	i := int(max(d, 0) / bucketWidth)
	if i >= len(l.buckets) {
		i = len(l.buckets) - 1
	}
	l.mu.Lock()
	l.buckets[i]++
	l.n++
	l.mu.Unlock()
}

// Count is the number of samples.
func (l *Latency) Count() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Percentile returns the p-th percentile (0..100) as milliseconds, 0 with no samples.
// It reports the upper edge of the bucket holding the sample.
func (l *Latency) Percentile(p float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return 0
	}
	rank := uint64(p / 100 * float64(l.n))
	if rank >= l.n {
		rank = l.n - 1
	}
	var seen uint64
	for i, c := range l.buckets {
		seen += uint64(c)
		if seen > rank {
			return float64(time.Duration(i+1)*bucketWidth) / float64(time.Millisecond)
		}
	}
	return float64(time.Duration(len(l.buckets))*bucketWidth) / float64(time.Millisecond)
}

// Reset forgets every sample.
func (l *Latency) Reset() {
	l.mu.Lock()
	clear(l.buckets[:])
	l.n = 0
	l.mu.Unlock()
}

// Rate turns a growing counter into a per-second rate between two calls.
type Rate struct {
	last  uint64
	lastT time.Time
}

// Per returns the rate of v since the previous call (0 on the first call).
func (r *Rate) Per(v uint64, now time.Time) float64 {
	defer func() { r.last, r.lastT = v, now }()
	if r.lastT.IsZero() || !now.After(r.lastT) {
		return 0
	}
	return float64(v-r.last) / now.Sub(r.lastT).Seconds()
}

// CheckWritable reports, before a run, whether WriteJSON could write path at its
// end: it creates and removes path's temporary file, so a missing directory or one
// without write permission is an error at once, not after the whole run.
func CheckWritable(path string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	f.Close()
	return os.Remove(tmp)
}

// WriteJSON writes v, indented, to path (atomically: a reader never sees half a file).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("stats json: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	return nil
}

// Live calls line once every interval and writes what it returns to w, until ctx
// ends. It is the once-a-second status line both ends print to stderr.
func Live(ctx context.Context, w io.Writer, every time.Duration, line func(now time.Time) string) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fmt.Fprintln(w, line(now))
		}
	}
}
