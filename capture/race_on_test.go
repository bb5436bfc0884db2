//go:build race

package capture_test

// raceDetector is set under -race, which slows the sender's JPEG encoding several
// times over: the end-to-end tests then expect fewer frames to make it.
const raceDetector = true
