//go:build race

package fastjpeg

// raceEnabled is true under the race detector (see sweepStep).
const raceEnabled = true
