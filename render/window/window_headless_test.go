//go:build !(cgo && window)

package window

import (
	"errors"
	"testing"

	"github.com/hrvs/hrvs/render/internal/testpic"
)

func TestHeadlessBuildHasNoWindow(t *testing.T) {
	if Available() {
		t.Fatal("Available() = true in a build without the window")
	}
	if _, err := New(Options{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("New = %v, want ErrUnavailable", err)
	}
}

// TestDisplayTestsRan fails when CI asked for the display tests but this binary was
// built without them, so a missing -tags window cannot pass silently.
func TestDisplayTestsRan(t *testing.T) {
	if testpic.Strict() {
		t.Fatal("HRVS_DISPLAY_TESTS=1 but the window tests are not in this build: run go test -tags window under xvfb-run, with cgo")
	}
	t.Skip("the window tests need -tags window, cgo and a display (xvfb-run); HRVS_DISPLAY_TESTS=1 makes this a failure")
}
