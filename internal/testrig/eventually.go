package testrig

import (
	"testing"
	"time"
)

// Patience is how long a test waits for something that should happen at once on an idle
// machine: generous, because the suite runs with the race detector on two busy cores,
// and free, because a test that passes stops waiting as soon as its condition holds.
const Patience = 30 * time.Second

// Eventually polls cond until it returns nil and fails t with cond's last error once
// within has passed. It polls often at first and then every 10 ms, so a condition that
// holds at once costs nothing, one that takes seconds costs no busy loop, and a test
// that waits for many small things in turn loses at most 10 ms on each.
func Eventually(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	if err := Wait(within, cond); err != nil {
		t.Fatalf("still not so after %v: %v", within, err)
	}
}

// Wait polls cond as Eventually does and returns nil once it holds, or its last error
// once within has passed; for a caller that reports the failure itself (a benchmark, a
// TestMain, a goroutine that must not call t.Fatal).
func Wait(within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
		pause = min(2*pause, 10*time.Millisecond)
	}
}
