package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrvs/hrvs/net/wire"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandLineMistakesExitTwoWithOneLine(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"an unknown command", []string{"fly"}, `unknown command "fly"`},
		{"send without --to", []string{"send"}, "--to HOST:PORT is required"},
		{"send to an address without a port", []string{"send", "--to", "localhost"}, "want HOST:PORT"},
		{"an unknown flag", []string{"send", "--to", "127.0.0.1:9", "--colour", "red"}, "flag provided but not defined: -colour"},
		{"a malformed size", []string{"send", "--to", "127.0.0.1:9", "--size", "big"}, "want WIDTHxHEIGHT"},
		{"a pattern too large", []string{"send", "--to", "127.0.0.1:9", "--size", "100000x10"}, "each side must be"},
		{"quality above 100", []string{"send", "--to", "127.0.0.1:9", "--quality", "101"}, "quality 101"},
		{"an mtu too large for UDP", []string{"send", "--to", "127.0.0.1:9", "--mtu", "70000"}, "mtu 70000"},
		{"a tile off the MCU grid", []string{"send", "--to", "127.0.0.1:9", "--tile", "100x100"}, "multiples of 16"},
		{"negative fps", []string{"send", "--to", "127.0.0.1:9", "--fps", "-1"}, "flag -fps: want 0..1000"},
		{"a missing file", []string{"send", "--to", "127.0.0.1:9", "--source", "/nonexistent.y4m"}, "file not found"},
		{"a bad camera format", []string{"send", "--to", "127.0.0.1:9", "--source", "/dev/video0", "--format", "rgb"}, "--source /dev/video0"},
		{"an unknown source", []string{"send", "--to", "127.0.0.1:9", "--source", "nowhere"}, "--source nowhere"},
		{"recv without --listen", []string{"recv"}, "--listen HOST:PORT is required"},
		{"recv with a port out of range", []string{"recv", "--listen", ":70000"}, "port must be"},
		{"an unknown sink", []string{"recv", "--listen", "127.0.0.1:0", "--sink", "printer"}, `unknown sink "printer"`},
		{"an unknown encoder", []string{"send", "--to", "127.0.0.1:9", "--encoder", "gpu"}, "--encoder"},
		{"an unknown decoder", []string{"recv", "--listen", "127.0.0.1:0", "--decoder", "gpu"}, "--decoder"},
		{"a malformed bitrate cap", []string{"send", "--to", "127.0.0.1:9", "--max-bitrate", "fast"}, "-max-bitrate"},
		{"an FEC group too large", []string{"send", "--to", "127.0.0.1:9", "--fec", "40"}, "--fec"},
		{"a stray argument", []string{"demo", "extra"}, `unexpected argument "extra"`},
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

func TestEveryCommandExplainsItself(t *testing.T) {
	for _, cmd := range []string{"send", "recv", "demo"} {
		code, stdout, _ := runCmd(cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "hrvs "+cmd) || !strings.Contains(stdout, "-listen") && !strings.Contains(stdout, "-duration") {
			t.Fatalf("%s --help: exit %d, %q", cmd, code, stdout)
		}
	}
	if code, stdout, _ := runCmd("version"); code != 0 || !strings.HasPrefix(stdout, "hrvs ") || !strings.Contains(stdout, fmt.Sprintf("protocol %d", wire.Version)) {
		t.Fatalf("version: %d %q", code, stdout)
	}
}

func TestDemoStreamsAndWritesStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.json")
	code, stdout, stderr := runCmd("demo", "--sink", "null", "--size", "320x192", "--fps", "20", "--duration", "2s", "--stats-json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "demo:") || !strings.Contains(stderr, "recv:") || !strings.Contains(stderr, "send:") {
		t.Fatalf("missing summary or live lines:\nstdout %s\nstderr %s", stdout, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"frames_received", "frames_complete", "frames_partial", "tiles_received", "tiles_missing",
		"datagrams_received", "datagrams_invalid", "bytes_received", "fps", "latency_ms_p50", "latency_ms_p99"} {
		if _, ok := s[k]; !ok {
			t.Errorf("stats JSON lacks %s", k)
		}
	}
	if n := s["frames_received"].(float64); n < 20 {
		t.Fatalf("demo delivered %v frames in 2 s at 20 fps", n)
	}
}

func TestLabCommandsSayWhereTheLabIs(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, _, stderr := runCmd("bench", "--quick")
	if code != 1 || !strings.Contains(stderr, "hrvs-lab") {
		t.Fatalf("exit %d, stderr %q: want exit 1 naming the lab binary", code, stderr)
	}
}
