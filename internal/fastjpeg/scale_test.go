package fastjpeg

import (
	"os"

	"github.com/hrvs/hrvs/internal/testrig"
)

// sweepStep is how far apart the samples of an exhaustive sweep (every fast
// quantization table, every tile grid of a camera frame) are taken: 1, all of
// them, in a plain build. The race detector slows these single-goroutine
// tests some ten times over and can find nothing in them (the package starts no
// goroutine and uses no unsafe), and qemu-user slows them as much, so under
// -race and with HRVS_TEST_SCALE=small (build.sh's arm64 step) they take a
// sample of each sweep instead; build.sh runs the package without -race on
// amd64 with the whole sweeps.
func sweepStep(step int) int {
	if testrig.Race || os.Getenv("HRVS_TEST_SCALE") == "small" {
		return step
	}
	return 1
}

// sample returns every step-th item of items (sweepStep), always with the first
// and the last, in order.
func sample[T any](items []T, step int) []T {
	return every(items, sweepStep(step))
}

// raceSample is sample for the race detector only: every step-th item of items,
// with the first and the last, under -race, and all of them otherwise, qemu-user
// included, where the arm64 kernels these sweeps check are a different
// implementation from the ones the plain amd64 build checks whole.
func raceSample[T any](items []T, step int) []T {
	if !testrig.Race {
		return items
	}
	return every(items, step)
}

// every returns every step-th item of items, with the first and the last, in
// order; all of them for a step of 1 or less.
func every[T any](items []T, step int) []T {
	if step <= 1 || len(items) <= 2 {
		return items
	}
	var out []T
	for i := 0; i < len(items)-1; i += step {
		out = append(out, items[i])
	}
	return append(out, items[len(items)-1])
}
