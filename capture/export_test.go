package capture

import (
	"image"
	"testing"
)

// Hooks for the external tests in capture_test (the end-to-end streams), which
// cannot reach the package's unexported test helpers otherwise.

// ClipPath returns the path of a generated test clip (see clipSpecs).
func ClipPath(t testing.TB, name string) string { return testClip(t, name) }

// ReferenceFrames decodes every frame of path with ffmpeg itself, as pixFmt.
func ReferenceFrames(t *testing.T, path, pixFmt string, w, h int) []*image.YCbCr {
	r := newRefDecoder(t, path, pixFmt, w, h)
	var out []*image.YCbCr
	for f := r.next(t); f != nil; f = r.next(t) {
		out = append(out, f)
	}
	return out
}
