//go:build race

package testrig

// Race is true when the tests run under the race detector, which slows the sender's JPEG
// encoding several times over: tests that stream in real time ask for fewer frames then.
const Race = true
