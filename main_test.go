package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
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
	// Every send and recv case carries --duration 2s first, so a mistake that is wrongly
	// accepted ends the test with exit 0 instead of hanging it.
	send := func(a ...string) []string {
		return append([]string{"send", "--duration", "2s", "--to", "127.0.0.1:9"}, a...)
	}
	recv := func(a ...string) []string {
		return append([]string{"recv", "--duration", "2s", "--listen", "127.0.0.1:0"}, a...)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"an unknown command", []string{"fly"}, `unknown command "fly"`},
		{"send without --to", []string{"send"}, "--to HOST:PORT is required"},
		{"send to an address without a port", []string{"send", "--to", "127.0.0.1"}, "want HOST:PORT"},
		{"send to port 0", []string{"send", "--duration", "2s", "--to", "127.0.0.1:0"}, `--to "127.0.0.1:0": port must be a number 1..65535`},
		{"an unknown flag", send("--colour", "red"), "flag provided but not defined: -colour"},
		{"a malformed size", send("--size", "big"), "not WIDTHxHEIGHT"},
		{"a size no side of the wire holds", send("--size", "100000x10"), "not WIDTHxHEIGHT"},
		{"a size larger than a receiver accepts", send("--size", "7696x4320"), "--size 7696x4320: want 16x16 up to 7680x4320, the largest frame a receiver accepts"},
		{"a size smaller than a pattern", send("--size", "8x8"), "--size 8x8: want 16x16"},
		{"a stats file in a missing directory, sender", send("--stats-json", "/nonexistent-dir/s.json"), "--stats-json: cannot write /nonexistent-dir/s.json"},
		{"a stats file in a missing directory, receiver", recv("--stats-json", "/nonexistent-dir/s.json"), "--stats-json: cannot write /nonexistent-dir/s.json"},
		{"quality 0", send("--quality", "0"), "--quality 0: want 1..100"},
		{"quality above 100", send("--quality", "101"), "--quality 101: want 1..100"},
		{"a minimum quality above 100", send("--min-quality", "101"), "--min-quality 101: want 1..75 (--quality)"},
		{"a minimum quality above the quality", send("--quality", "50", "--min-quality", "60"), "--min-quality 60: want 1..50"},
		{"a minimum quality of 0", send("--min-quality", "0"), "--min-quality 0: want 1..75"},
		{"an mtu too large for UDP", send("--mtu", "70000"), "--mtu 70000: want 256..65507"},
		{"a tile off the MCU grid", send("--tile", "100x100"), "multiples of 16"},
		{"a tile larger than the wire holds", send("--tile", "4080x2048"), "--tile 4080x2048: want both sides multiples of 16, up to 4080x2032"},
		{"negative fps", send("--fps", "-1"), "want 0..1000 frames per second"},
		{"a pacing rate that is not a number", send("--rate", "NaN"), "--rate NaN: want a positive Mbit/s"},
		{"a missing file", send("--source", "/nonexistent.y4m"), "file not found"},
		{"a bad camera format", send("--source", "/dev/video0", "--format", "rgb"), "--source /dev/video0"},
		{"an unknown source", send("--source", "nowhere"), "--source nowhere"},
		{"an unknown encoder", send("--encoder", "gpu"), "--encoder"},
		{"a malformed bitrate cap", send("--max-bitrate", "fast"), "-max-bitrate"},
		{"a bitrate cap of NaN", send("--max-bitrate", "NaN"), `"NaN" is not a rate`},
		{"a bitrate cap of Inf", send("--max-bitrate", "Inf"), `"Inf" is not a rate`},
		{"a vanishing bitrate cap", send("--max-bitrate", "1e-300"), "below 8kbit"},
		{"a bitrate cap below the sender's least", send("--max-bitrate", "50kbit"), "--max-bitrate 50kbit: want at least 100kbit"},
		{"more parity than the code holds", send("--fec", "101"), "--fec 101: want -1 (off), 0 (adaptive) or 1..100"},
		{"a change threshold of 0", send("--change-threshold", "0"), "--change-threshold 0: want -1 (every tile) or 1..255"},
		{"a refresh too short", send("--refresh", "10ms"), "--refresh 10ms: want at least 100ms"},
		{"no send sockets", send("--send-sockets", "0"), "--send-sockets 0: want 1..64"},
		{"a negative frame bound", send("--frames", "-1"), "--frames -1: must not be negative"},
		{"recv without --listen", []string{"recv"}, "--listen HOST:PORT is required"},
		{"recv with a port out of range", []string{"recv", "--listen", ":70000"}, "port must be"},
		{"recv with no sockets", recv("--sockets", "0"), "--sockets 0: want 1..64"},
		{"recv with too many sockets", recv("--sockets", "65"), "--sockets 65: want 1..64"},
		{"a receiver limit above the protocol's", recv("--max-size", "7696x4320"), "--max-size 7696x4320: want at most 7680x4320"},
		{"a receiver limit below any frame", recv("--max-size", "8x8"), "--max-size 8x8: want 16x16 up to 7680x4320"},
		{"a deadline of 0", recv("--deadline", "0s"), "--deadline 0s: must be positive"},
		{"an unknown sink", recv("--sink", "printer"), `unknown sink "printer"`},
		{"an unknown decoder", recv("--decoder", "gpu"), "--decoder"},
		{"a stray argument", []string{"demo", "extra"}, `unexpected argument "extra"`},
		{"demo with quality 0", []string{"demo", "--duration", "2s", "--quality", "0"}, "--quality 0"},
		{"version with an argument", []string{"version", "now"}, `unexpected argument "now"`},
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

func TestASourceLargerThanAReceiverAcceptsIsRefused(t *testing.T) {
	// One black frame (a sparse file: the frame's bytes are a hole of zeros), so the
	// file opens and its size is refused before anything is sent.
	path := filepath.Join(t.TempDir(), "big.y4m")
	head := "YUV4MPEG2 W7696 H4320 F30:1 Ip A1:1 C420jpeg\nFRAME\n"
	if err := os.WriteFile(path, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(len(head))+7696*4320*3/2); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd("send", "--duration", "2s", "--to", "127.0.0.1:9", "--source", path)
	want := "its 7696x4320 frames are larger than 7680x4320, the largest a receiver accepts"
	if code != 2 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stderr %q: want 2 and %q", code, stderr, want)
	}
}

func TestAFailureThatIsNotTheUsersExitsOne(t *testing.T) {
	// A port another program holds: the receiver cannot open its socket.
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.LocalAddr().String()
	code, _, stderr := runCmd("recv", "--duration", "2s", "--sink", "null", "--listen", addr)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (stderr %q)", code, stderr)
	}
	if want := "hrvs recv: --listen " + addr + ": "; !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("stderr %q: want one line starting %q", stderr, want)
	}
}

func TestEveryCommandExplainsItself(t *testing.T) {
	for _, c := range program().Commands {
		if c.RawArgs {
			continue // the lab binary's commands: cmd/hrvs-lab tests their help
		}
		t.Run(c.Name+" --help names every flag", func(t *testing.T) {
			code, stdout, _ := runCmd(c.Name, "--help")
			if code != 0 || !strings.Contains(stdout, "usage: hrvs "+c.UsageLine) {
				t.Fatalf("exit %d, %q", code, stdout)
			}
			program().FlagSet(c).VisitAll(func(f *flag.Flag) {
				if !strings.Contains(stdout, "-"+f.Name) {
					t.Errorf("--help lacks -%s", f.Name)
				}
			})
		})
	}
	if code, stdout, _ := runCmd("help"); code != 0 || !strings.Contains(stdout, "hrvs send --to HOST:PORT") {
		t.Fatalf("help: %d %q", code, stdout)
	}
	if code, stdout, _ := runCmd("version"); code != 0 || !strings.HasPrefix(stdout, "hrvs ") || !strings.Contains(stdout, fmt.Sprintf("protocol %d", wire.Version)) {
		t.Fatalf("version: %d %q", code, stdout)
	}
}

func TestDemoKeepsItsOwnDurationDefault(t *testing.T) {
	code, stdout, _ := runCmd("demo", "--help")
	if code != 0 || !strings.Contains(stdout, "(default 10s)") {
		t.Fatalf("demo --help: exit %d, want its 10s duration default shown:\n%s", code, stdout)
	}
	if strings.Contains(stdout, "run until interrupted") {
		t.Fatalf("demo --help gives --duration two defaults, send's 0 and its own 10s:\n%s", stdout)
	}
	if code, stdout, _ := runCmd("send", "--help"); code != 0 || strings.Contains(stdout, "(default 10s)") {
		t.Fatalf("send --help shows demo's duration default:\n%s", stdout)
	}
}

// demo runs both ends unkeyed in one process: --key and --pair (which send's flags
// bring) are refused rather than silently ignored.
func TestDemoRefusesKeyAndPair(t *testing.T) {
	for _, args := range [][]string{{"--pair"}, {"--key", "stream.key"}} {
		code, _, stderr := runCmd(append([]string{"demo", "--sink", "null", "--duration", "1s"}, args...)...)
		if code != 2 || !strings.Contains(stderr, args[0]) {
			t.Fatalf("demo %v: exit %d, want 2 and a line naming %s:\n%s", args, code, args[0], stderr)
		}
	}
}

// The receiver ends with a line of its own, as the sender does, so the last live
// line (up to a second old) is not the only account of the run.
func TestTheReceiversLastLineAccountsForTheRun(t *testing.T) {
	code, _, stderr := runCmd("recv", "--listen", "127.0.0.1:0", "--sink", "null", "--announce=false", "--duration", "1s")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != 0 || !strings.HasPrefix(last, "recv: done after ") || !strings.Contains(last, "0 frames (0 complete, 0 partial)") {
		t.Fatalf("exit %d, last line %q: want recv: done after ... 0 frames (0 complete, 0 partial)", code, last)
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

func TestEveryFlagSaysItsDefault(t *testing.T) {
	if u := program().Unexplained(); len(u) > 0 {
		t.Errorf("flags whose help gives no default: %v", u)
	}
}

func TestTheBoundsTheErrorsNameAreAccepted(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"the largest tile", []string{"--tile", "4080x2032"}},
		{"the most parity", []string{"--fec", "100"}},
		{"a minimum quality equal to the quality", []string{"--quality", "60", "--min-quality", "60"}},
		{"the lowest bit rate cap", []string{"--max-bitrate", "100kbit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"demo", "--sink", "null", "--size", "320x192", "--frames", "3", "--duration", "60s"}, tc.args...)
			code, stdout, stderr := runCmd(args...)
			if code != 0 || !strings.Contains(stdout, "demo: ") || strings.Contains(stdout, "demo: 0 frames") {
				t.Fatalf("exit %d, stdout %q, stderr %q: want frames delivered", code, stdout, stderr)
			}
		})
	}
}
