package main

import (
	"bytes"
	"flag"
	"net"
	"strings"
	"testing"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run("hrvs-lab", args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLabCommandLineMistakesExitTwoWithOneLine(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"an unknown command", []string{"fly"}, `unknown command "fly"`},
		{"a bench-impair with a bad rate", []string{"bench-impair", "--fps", "5000"}, "--fps 5000: want above 0 up to 240"},
		{"a bench-impair with a bad size", []string{"bench-impair", "--size", "1920"}, "not WIDTHxHEIGHT"},
		{"a bench with an unknown size", []string{"bench", "--sizes", "huge"}, "--sizes"},
		{"a bench with a stray argument", []string{"bench", "now"}, `unexpected argument "now"`},
		{"a relay without a destination", []string{"relay", "--listen", "127.0.0.1:0"}, "hrvs-lab relay: --to HOST:PORT is required"},
		{"a relay with a loss above one", []string{"relay", "--to", "127.0.0.1:9", "--loss", "150%"}, "outside 0..1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(c.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q does not say %q", stderr, c.want)
			}
			if c.args != nil && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("reason takes more than one line: %q", stderr)
			}
		})
	}
}

func TestARelayThatCannotListenExitsOne(t *testing.T) {
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, _, stderr := runCmd("relay", "--listen", taken.LocalAddr().String(), "--to", "127.0.0.1:9")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (stderr %q)", code, stderr)
	}
}

func TestEveryLabCommandExplainsItself(t *testing.T) {
	for _, c := range program("hrvs-lab").Commands {
		t.Run(c.Name+" --help names every flag", func(t *testing.T) {
			code, stdout, _ := runCmd(c.Name, "--help")
			if code != 0 || !strings.Contains(stdout, "usage: hrvs-lab "+c.UsageLine) {
				t.Fatalf("exit %d, %q", code, stdout)
			}
			program("hrvs-lab").FlagSet(c).VisitAll(func(f *flag.Flag) {
				if !strings.Contains(stdout, "-"+f.Name) {
					t.Errorf("--help lacks -%s", f.Name)
				}
			})
		})
	}
}

func TestEveryFlagSaysItsDefault(t *testing.T) {
	if u := program("hrvs-lab").Unexplained(); len(u) > 0 {
		t.Errorf("flags whose help gives no default: %v", u)
	}
}
