//go:build race

package receiver_test

// The race detector slows encoding tenfold; timing-sensitive tests scale with this.
const raceEnabled = true
