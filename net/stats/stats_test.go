package stats

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLatencyPercentiles(t *testing.T) {
	var l Latency
	if l.Percentile(50) != 0 {
		t.Fatal("empty histogram must report 0")
	}
	for i := 1; i <= 100; i++ {
		l.Add(time.Duration(i) * time.Millisecond)
	}
	cases := []struct{ p, want float64 }{{50, 51}, {99, 100}, {0, 1}}
	for _, c := range cases {
		if got := l.Percentile(c.p); got < c.want-0.11 || got > c.want+0.11 {
			t.Fatalf("p%v = %v, want about %v", c.p, got, c.want)
		}
	}
	l.Add(time.Hour)
	if got := l.Percentile(100); got != 10000.1 {
		t.Fatalf("overflow bucket reports %v", got)
	}
	l.Add(-time.Second)
	if got := l.Percentile(0); got != 0.1 {
		t.Fatalf("negative sample lands in %v", got)
	}
}

func TestRate(t *testing.T) {
	var r Rate
	t0 := time.Unix(100, 0)
	if r.Per(10, t0) != 0 {
		t.Fatal("first call must be 0")
	}
	if got := r.Per(40, t0.Add(500*time.Millisecond)); got != 60 {
		t.Fatalf("rate %v, want 60", got)
	}
}

func TestWriteJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	if err := WriteJSON(p, map[string]int{"frames_received": 3}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil || m["frames_received"] != 3 {
		t.Fatal(string(b), err)
	}
	if err := WriteJSON(filepath.Join(p, "x", "y.json"), 1); err == nil {
		t.Fatal("writing under a file must fail")
	}
}
