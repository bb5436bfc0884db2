package testrig

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// Stacks returns the stacks of the goroutines running code whose stack text contains
// any of marks (a package path with its dot, "hrvs/net/sender.", or a method,
// "relay.(*Relay)"), leaving out test goroutines.
func Stacks(marks ...string) string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "_test.") {
			continue
		}
		for _, m := range marks {
			if strings.Contains(g, m) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}

// NoLeaks fails t if, once its other cleanups have run (those registered after this
// call run before it), a goroutine matching marks (see Stacks) is still running after
// Patience: every goroutine has an owner that stops it.
func NoLeaks(t testing.TB, marks ...string) {
	t.Helper()
	t.Cleanup(func() {
		if err := Wait(Patience, func() error {
			if s := Stacks(marks...); s != "" {
				return errors.New(s)
			}
			return nil
		}); err != nil {
			t.Errorf("goroutines still running after the test stopped what it started:\n%v", err)
		}
	})
}
