package receiver

import (
	"context"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

func TestLatencyHistogram(t *testing.T) {
	ms := func(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }
	cases := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    float64 // ms
		tol     float64 // relative
	}{
		{"no samples report zero", nil, 50, 0, 0},
		{"below 25.6 ms a bucket is 0.1 ms wide", []time.Duration{ms(1), ms(2.05), ms(3), ms(4)}, 50, 3.1, 1e-9},
		{"the median of 1..100 ms", ramp(100, time.Millisecond), 50, 51, 0.008},
		{"the 99th percentile of 1..100 ms", ramp(100, time.Millisecond), 99, 100, 0.008},
		{"a long latency is within 0.8%", []time.Duration{ms(1234.5)}, 50, 1234.5, 0.008},
		{"a latency past 10 s counts as 10 s", []time.Duration{time.Hour}, 50, 10000, 0.008},
		{"a negative latency counts as zero", []time.Duration{-time.Second}, 50, 0.1, 1e-9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h latencyHist
			for _, d := range c.samples {
				h.add(d)
			}
			var n latencyCounts
			h.load(&n)
			got := n.percentile(c.p)
			if math.Abs(got-c.want) > c.tol*c.want+1e-9 || got < c.want-1e-9 {
				t.Fatalf("p%v = %v ms, want %v (at most %.1f%% over)", c.p, got, c.want, 100*c.tol)
			}
		})
	}
	t.Run("every bucket's upper edge is above its values and below the next bucket's", func(t *testing.T) {
		for v := int64(0); v <= histMax; v++ {
			i := histIndex(v)
			if i < 0 || i >= histBuckets || histUpper(i) <= v || (i > 0 && histUpper(i-1) > v) {
				t.Fatalf("%d units land in bucket %d of %d, edges %d..%d", v, i, histBuckets, histUpper(max(i-1, 0)), histUpper(i))
			}
		}
	})
}

func ramp(n int, step time.Duration) []time.Duration {
	var d []time.Duration
	for i := 1; i <= n; i++ {
		d = append(d, time.Duration(i)*step)
	}
	return d
}

// TestLiveLatencyIsSinceTheLastCall: the live line's median covers only the frames
// released since it last asked.
func TestLiveLatencyIsSinceTheLastCall(t *testing.T) {
	r := &Receiver{asm: newAssembler(assemblerConfig{})}
	for range 10 {
		r.asm.c.latency.add(time.Second)
	}
	if got := r.LiveLatency(); got < 1000 || got > 1010 {
		t.Fatalf("first median %v ms, want 1000", got)
	}
	for range 3 {
		r.asm.c.latency.add(5 * time.Millisecond)
	}
	if got := r.LiveLatency(); got != 5.1 {
		t.Fatalf("median since the last call %v ms, want 5.1", got)
	}
	if got := r.LiveLatency(); got != 0 {
		t.Fatalf("median with nothing new %v ms, want 0", got)
	}
}

// logRecords is a slog.Handler that keeps every record, for a test to read.
type logRecords struct {
	mu sync.Mutex
	r  []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }

func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.r = append(l.r, r.Clone())
	return nil
}

// saying returns the records whose message contains s.
func (l *logRecords) saying(s string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.r {
		if strings.Contains(r.Message, s) {
			out = append(out, r)
		}
	}
	return out
}

// TestARefusedStreamIsExplainedOnce: a stream whose every datagram is refused (a
// frame size over this receiver's limits, a format it cannot decode, another
// protocol version) is dropped and counted, and the log says why once, at warn.
func TestARefusedStreamIsExplainedOnce(t *testing.T) {
	good := wire.Header{Stream: 1, Frame: 1, Width: 256, Height: 128, FrameTiles: 1, TileW: 256, TileH: 128,
		Fragments: 1, PayloadSize: 10, Quality: 75}
	cases := []struct {
		name   string
		mangle func(h *wire.Header, b []byte)
		says   string
	}{
		{"a frame larger than the receiver's limits", func(h *wire.Header, b []byte) {
			h.Width, h.Height = 7696, 4320 // within 8K DCI, past 8K UHD
			h.MarshalTo(b)
		}, "larger than this receiver accepts"},
		{"a codec the receiver does not know", func(h *wire.Header, b []byte) {
			h.Format = 3 << 4 // codecs 0, 1 and 2 are known
			h.MarshalTo(b)
		}, "format this receiver cannot decode"},
		{"another protocol version", func(h *wire.Header, b []byte) {
			h.MarshalTo(b)
			b[2] = wire.Version + 1
		}, "another protocol version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs logRecords
			r, send := runReceiver(t, Config{Log: slog.New(&logs)})
			h := good
			d := make([]byte, wire.HeaderSize+10)
			c.mangle(&h, d)
			const n = 20
			for range n {
				send(d)
			}
			deadline := time.Now().Add(10 * time.Second)
			for r.Stats().DatagramsInvalid < n && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := r.Stats().DatagramsInvalid; got != n {
				t.Fatalf("%d datagrams counted invalid, want %d", got, n)
			}
			said := logs.saying(c.says)
			if len(said) != 1 || said[0].Level != slog.LevelWarn {
				t.Fatalf("want one warning saying %q, got %d records: %v", c.says, len(said), said)
			}
		})
	}
}

// runReceiver runs a receiver on loopback until the test ends, and returns it with
// a function that sends it one datagram.
func runReceiver(t *testing.T, cfg Config) (*Receiver, func([]byte)) {
	t.Helper()
	cfg.Listen, cfg.Sockets = "127.0.0.1:0", 1
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	conn, err := net.Dial("udp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("receiver: %v", err)
		}
	})
	return r, func(b []byte) {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkStats is what one /stats.json request costs: the snapshot of the counters
// and of a latency histogram holding 1000 frames of 15-35 ms. It takes no lock the
// assembler uses, whatever it costs.
func BenchmarkStats(b *testing.B) {
	r, err := New(Config{Listen: "127.0.0.1:0", Sockets: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for i := range 1000 {
		r.asm.c.latency.add(time.Duration(15+i%20) * time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Stats()
	}
}
