package relay

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// parse reads a relay command line as hrvs-lab does: Flags, then Check.
func parse(args []string) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return c, c.Check()
}

func TestFlagsReadTheDocumentedCommandLine(t *testing.T) {
	args := strings.Fields("--listen 127.0.0.1:6000 --to 127.0.0.1:5000 --delay 20ms --jitter 10ms " +
		"--reorder 0.01 --loss 5% --dup 0 --seed 1 --rate 20mbit --rate-burst 32kb --blackout 10s+2s --blackout 30s+500ms")
	c, err := parse(args)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "127.0.0.1:6000", Forward: "127.0.0.1:5000", Delay: 20 * time.Millisecond,
		Jitter: 10 * time.Millisecond, Reorder: 0.01, Loss: 0.05, Seed: 1, RateBits: 20_000_000, RateBurst: 32 << 10,
		RateLatency: DefaultRateLatency, QueueLimit: DefaultQueueLimit,
		Blackouts: []Window{{10 * time.Second, 12 * time.Second}, {30 * time.Second, 30*time.Second + 500*time.Millisecond}},
	}
	if c.Listen != want.Listen || c.Forward != want.Forward || c.Delay != want.Delay || c.Jitter != want.Jitter ||
		c.Reorder != want.Reorder || c.Loss != want.Loss || c.Seed != want.Seed || c.RateBits != want.RateBits ||
		c.RateBurst != want.RateBurst || c.RateLatency != want.RateLatency || c.QueueLimit != want.QueueLimit || len(c.Blackouts) != 2 ||
		c.Blackouts[0] != want.Blackouts[0] || c.Blackouts[1] != want.Blackouts[1] {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestFlagsRejectBadValuesClearly(t *testing.T) {
	for _, tc := range []struct{ args, mention string }{
		{"", "--to HOST:PORT is required"},
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
		{"--to 127.0.0.1:5000 --rate-burst lots", "not a size in bytes"},
		{"--to 127.0.0.1:5000 --blackout 10s", "START+LENGTH"},
		{"--to 127.0.0.1:5000 --blackout 10s+0s", "START+LENGTH"},
		{"--to 127.0.0.1:5000 --mtu 20", "minimum of 68"},
		{"--to 127.0.0.1:5000 --frobnicate", "not defined"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			_, err := parse(strings.Fields(tc.args))
			if err == nil || !strings.Contains(err.Error(), tc.mention) || strings.HasPrefix(err.Error(), "relay: ") {
				t.Errorf("error %v, want one mentioning %q without a prefix for main to strip", err, tc.mention)
			}
		})
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"10s+2s", "0s+1ms", "10s", "-1s+2s", "1s+-1s", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := parseWindow(s)
		if err == nil && (w.Start < 0 || w.End <= w.Start) {
			t.Errorf("parseWindow(%q) = %+v", s, w)
		}
	})
}
