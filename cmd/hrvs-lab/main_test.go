package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLabCommandLineMistakesExitTwoWithOneLine(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"an unknown command", []string{"fly"}, `unknown command "fly"`},
		{"a bench-impair with a bad rate", []string{"bench-impair", "--fps", "5000"}, "--fps"},
		{"a bench with an unknown size", []string{"bench", "--sizes", "huge"}, "--sizes"},
		{"a relay without a destination", []string{"relay", "--listen", "127.0.0.1:0"}, "--to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, errb.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Fatalf("stderr %q does not say %q", errb.String(), c.want)
			}
		})
	}
}

func TestRelayExplainsItself(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"relay", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-listen") {
		t.Fatalf("relay --help: exit %d, %q", code, out.String())
	}
}
