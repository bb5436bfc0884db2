package relay

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hrvs/hrvs/internal/units"
)

// ParseFlags reads the `hrvs relay` command line (without the subcommand name) into a Config.
// --help prints the usage to help and returns an error that wraps flag.ErrHelp, which the
// caller treats as success. A bad flag has its message and the usage printed to help too, and
// comes back as an error starting "relay: ". Flags may be written with one dash or two.
//
//	hrvs relay --listen 127.0.0.1:6000 --to 127.0.0.1:5000 --delay 20ms --jitter 10ms \
//	    --reorder 0.01 --loss 5% --dup 0 --seed 1 --rate 20mbit --blackout 10s+2s
func ParseFlags(args []string, help io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(help)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: hrvs relay --to HOST:PORT [flags]

Forwards UDP datagrams (and TCP connections on the same port) from --listen to --to,
impairing the datagrams on the way: loss, delay, jitter, reordering, duplication, a rate
cap and blackouts. Every random choice comes from --seed, so runs repeat. Replies from
--to go back to the client that sent last. TCP bytes get --delay and wait out blackouts.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:6000", "UDP (and TCP) `address` to listen on")
	fs.StringVar(&c.Forward, "to", "", "`address` to forward to (required)")
	fs.StringVar(&c.TCPForward, "tcp-to", "", "forward TCP to this `address` instead of --to")
	fs.BoolVar(&c.NoTCP, "no-tcp", false, "relay UDP only")
	fs.DurationVar(&c.Delay, "delay", 0, "base one-way `duration`")
	fs.DurationVar(&c.Jitter, "jitter", 0, "the delay wanders within ± this `duration` (order is kept)")
	fs.DurationVar(&c.JitterPeriod, "jitter-period", 0, "`duration` between the jitter's random targets (default 4*jitter)")
	fs.Func("loss", "`probability` a datagram is lost: 0.05 or 5%", probFlag(&c.Loss))
	fs.IntVar(&c.MTU, "mtu", 0, "apply --loss to each IPv4 fragment of a link with this `MTU` (0: per datagram)")
	fs.Func("reorder", "`probability` a datagram is held back so later ones overtake it", probFlag(&c.Reorder))
	fs.DurationVar(&c.ReorderDelay, "reorder-delay", 0, "extra `duration` a reordered datagram is held (default 10ms)")
	fs.Func("dup", "`probability` a datagram is sent twice", probFlag(&c.Duplicate))
	fs.Int64Var(&c.Seed, "seed", 1, "random `seed`")
	fs.Func("rate", "cap the forward direction: a `rate` like 20mbit, 500kbit, 1gbit (tc units; kbps = kilobytes/s; 0 = none)", func(s string) error {
		v, err := units.ParseBitrate(s)
		c.RateBits = v
		return err
	})
	fs.Func("rate-burst", "token bucket `size` for --rate, like 32kb (default 10ms at the rate, at least 16kb)", func(s string) error {
		v, err := parseSize(s)
		c.RateBurst = v
		return err
	})
	fs.DurationVar(&c.RateLatency, "rate-latency", DefaultRateLatency, "longest `duration` a datagram may wait behind the rate cap before it is dropped")
	fs.IntVar(&c.QueueLimit, "queue", DefaultQueueLimit, "most `datagrams` waiting in the delay line")
	fs.Func("blackout", "drop everything for a `span` START+LENGTH after the relay starts, like 10s+2s (repeatable)", func(s string) error {
		w, err := parseWindow(s)
		if err == nil {
			c.Blackouts = append(c.Blackouts, w)
		}
		return err
	})
	fs.DurationVar(&c.LogEvery, "log-every", 0, "log the counters at this `interval` (0: only at the end)")

	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("relay: %w", err) // wraps flag.ErrHelp for --help
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("relay: unexpected argument %q", fs.Arg(0))
	}
	if c.Forward == "" {
		return Config{}, errors.New("relay: --to is required")
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func probFlag(p *float64) func(string) error {
	return func(s string) error {
		v, err := ParseProbability(s)
		*p = v
		return err
	}
}

// ParseProbability reads "0.05" or "5%" as 0.05; anything outside 0..1 is an error.
func ParseProbability(s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSpace(strings.TrimSuffix(t, "%")), 100
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a probability (like 0.05 or 5%%)", s)
	}
	v /= scale
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q is outside 0..1 (0%%..100%%)", s)
	}
	return v, nil
}

// parseSize reads a byte count with an optional binary suffix: 1500, 32kb, 32k, 1mb.
func parseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.Atoi(t)
	if err != nil || v < 0 || v > math.MaxInt32/mult {
		return 0, fmt.Errorf("%q is not a size (like 32kb)", s)
	}
	return v * mult, nil
}

// parseWindow reads START+LENGTH, both Go durations: "10s+2s" is [10s, 12s).
func parseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(s, "+")
	start, err1 := time.ParseDuration(strings.TrimSpace(a))
	length, err2 := time.ParseDuration(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || start < 0 || length <= 0 {
		return Window{}, fmt.Errorf("%q is not START+LENGTH (like 10s+2s)", s)
	}
	return Window{Start: start, End: start + length}, nil
}
