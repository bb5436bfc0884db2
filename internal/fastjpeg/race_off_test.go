//go:build !race

package fastjpeg

// raceEnabled is false without the race detector (see sweepStep).
const raceEnabled = false
