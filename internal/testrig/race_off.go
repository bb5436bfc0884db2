//go:build !race

package testrig

// Race is false without the race detector (see race_on.go).
const Race = false
