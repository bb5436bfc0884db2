package relay

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsReadsTheDocumentedCommandLine(t *testing.T) {
	args := strings.Fields("--listen 127.0.0.1:6000 --to 127.0.0.1:5000 --delay 20ms --jitter 10ms " +
		"--reorder 0.01 --loss 5% --dup 0 --seed 1 --rate 20mbit --blackout 10s+2s --blackout 30s+500ms")
	c, err := ParseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "127.0.0.1:6000", Forward: "127.0.0.1:5000", Delay: 20 * time.Millisecond,
		Jitter: 10 * time.Millisecond, Reorder: 0.01, Loss: 0.05, Seed: 1, RateBits: 20_000_000,
		RateLatency: DefaultRateLatency, QueueLimit: DefaultQueueLimit,
		Blackouts: []Window{{10 * time.Second, 12 * time.Second}, {30 * time.Second, 30*time.Second + 500*time.Millisecond}},
	}
	if c.Listen != want.Listen || c.Forward != want.Forward || c.Delay != want.Delay || c.Jitter != want.Jitter ||
		c.Reorder != want.Reorder || c.Loss != want.Loss || c.Seed != want.Seed || c.RateBits != want.RateBits ||
		c.RateLatency != want.RateLatency || c.QueueLimit != want.QueueLimit || len(c.Blackouts) != 2 ||
		c.Blackouts[0] != want.Blackouts[0] || c.Blackouts[1] != want.Blackouts[1] {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseFlagsRejectsBadValuesClearly(t *testing.T) {
	for _, tc := range []struct{ args, mention string }{
		{"", "--to is required"},
		{"--to 127.0.0.1:5000 --loss 1.5", "outside 0..1"},
		{"--to 127.0.0.1:5000 --loss 150%", "outside 0..1"},
		{"--to 127.0.0.1:5000 --loss lots", "not a probability"},
		{"--to 127.0.0.1:5000 --reorder -0.1", "outside 0..1"},
		{"--to 127.0.0.1:5000 --dup NaN", "not a probability"},
		{"--to 127.0.0.1:5000 --delay 20", "invalid value"},
		{"--to 127.0.0.1:5000 --jitter -1ms", "negative jitter"},
		{"--to 127.0.0.1:5000 --rate fast", "not a rate"},
		{"--to 127.0.0.1:5000 --rate 20mbitz", "not a rate"},
		{"--to 127.0.0.1:5000 --rate 100bit", "below 8kbit"},
		{"--to 127.0.0.1:5000 --rate-burst 3 apples", "unexpected argument"},
		{"--to 127.0.0.1:5000 --blackout 10s", "START+LENGTH"},
		{"--to 127.0.0.1:5000 --blackout 10s+0s", "START+LENGTH"},
		{"--to 127.0.0.1:5000 --mtu 20", "minimum of 68"},
		{"--to 127.0.0.1:5000 --frobnicate", "not defined"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			_, err := ParseFlags(strings.Fields(tc.args), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %v, want one mentioning %q", err, tc.mention)
			}
		})
	}
}

func TestParseFlagsHelpPrintsUsage(t *testing.T) {
	var out strings.Builder
	_, err := ParseFlags([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"Usage: hrvs relay", "-listen", "-to", "-delay", "-jitter", "-reorder", "-loss", "-dup", "-seed", "-rate", "-blackout"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("usage lacks %q:\n%s", f, out.String())
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"1500": 1500, "32kb": 32 << 10, "32k": 32 << 10, "1mb": 1 << 20, "64b": 64} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func FuzzParseProbability(f *testing.F) {
	for _, s := range []string{"0", "0.05", "5%", "100%", "1", "-1", "NaN", "inf", "1e-3", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseProbability(s)
		if err == nil && !(v >= 0 && v <= 1) {
			t.Errorf("ParseProbability(%q) = %v", s, v)
		}
	})
}
