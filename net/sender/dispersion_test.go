package sender

import (
	"testing"
	"time"
)

// onDispersion tells a path that stretches a frame from a receiver that takes long
// to release it.
func TestDispersionTellsThePathFromTheReceiver(t *testing.T) {
	cases := []struct {
		name      string
		bytes     int64 // on the wire
		arrive    int64 // µs the receiver reports
		path      int64 // µs the next frame's arrival allows the path
		lossless  bool
		recvRate  float64
		queueMs   float64
		wantSlow  bool
		wantBelow float64 // the target must end below this (0: unchanged at 20 Mbit/s)
	}{
		{name: "a frame stretched by the path cuts the rate to what crossed it", bytes: 100_000,
			arrive: 200_000, path: 200_000, lossless: true, wantBelow: 4e6},
		{name: "a frame too small to measure changes nothing", bytes: 20_000,
			arrive: 200_000, path: 200_000, lossless: true},
		{name: "a release later than the next frame's arrival is the receiver's", bytes: 100_000,
			arrive: 200_000, path: 30_000, lossless: true, wantSlow: true},
		{name: "a lossless frame claiming under half the receive rate is the receiver's", bytes: 100_000,
			arrive: 200_000, path: 200_000, lossless: true, recvRate: 18e6, wantSlow: true},
		{name: "a lossy frame claiming under half the receive rate still cuts", bytes: 100_000,
			arrive: 200_000, path: 200_000, lossless: false, recvRate: 18e6, wantBelow: 4e6},
		{name: "a growing queue makes a low claim believable", bytes: 100_000,
			arrive: 200_000, path: 200_000, lossless: true, recvRate: 18e6, queueMs: 20, wantBelow: 4e6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newRateControl(0, 75, 20)
			rc.recvRate, rc.queueMs = c.recvRate, c.queueMs
			now := time.Unix(1000, 0)
			slow := rc.onDispersion(now, c.bytes, 10_000, c.arrive, c.path, c.lossless)
			if slow != c.wantSlow {
				t.Fatalf("receiver slow %v, want %v", slow, c.wantSlow)
			}
			switch {
			case c.wantBelow == 0 && rc.target != startBits:
				t.Fatalf("target moved to %.1f Mbit/s", rc.target/1e6)
			case c.wantBelow > 0 && rc.target >= c.wantBelow:
				t.Fatalf("target %.1f Mbit/s, want under %.1f", rc.target/1e6, c.wantBelow/1e6)
			}
		})
	}
}
