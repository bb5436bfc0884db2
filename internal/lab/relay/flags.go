package relay

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hrvs/hrvs/internal/units"
)

// Usage is what `hrvs relay --help` says above the flags.
const Usage = `Forwards UDP datagrams (and TCP connections on the same port) from --listen to --to,
impairing the datagrams on the way: loss, delay, jitter, reordering, duplication, a rate
cap and blackouts. Every random choice comes from --seed, so runs repeat. Replies from
--to go back to the client that sent last. TCP bytes get --delay and wait out blackouts.`

// Flags declares the `hrvs relay` command line on fs, writing into c; the values c holds
// (DefaultConfig's, usually) are the defaults. Check validates the result.
//
//	hrvs relay --listen 127.0.0.1:6000 --to 127.0.0.1:5000 --delay 20ms --jitter 10ms \
//	    --reorder 0.01 --loss 5% --dup 0 --seed 1 --rate 20mbit --blackout 10s+2s
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "UDP (and TCP) `address` to listen on, HOST:PORT")
	fs.StringVar(&c.Forward, "to", c.Forward, "`address` to forward to, HOST:PORT (required)")
	fs.StringVar(&c.TCPForward, "tcp-to", c.TCPForward, "forward TCP to this `address` instead of --to (default: --to)")
	fs.BoolVar(&c.NoTCP, "no-tcp", c.NoTCP, "relay UDP only (default: UDP and TCP)")
	fs.DurationVar(&c.Delay, "delay", c.Delay, "base one-way `duration`, like 20ms (default 0)")
	fs.DurationVar(&c.Jitter, "jitter", c.Jitter, "the delay wanders within ± this `duration` (order is kept) (default 0)")
	fs.DurationVar(&c.JitterPeriod, "jitter-period", c.JitterPeriod, "`duration` between the jitter's random targets (default 0: 4 x --jitter)")
	fs.Var((*units.Probability)(&c.Loss), "loss", "`probability` a datagram is lost: 0.05 or 5% (default 0)")
	fs.IntVar(&c.MTU, "mtu", c.MTU, "apply --loss to each IPv4 fragment of a link with this MTU in `bytes`, at least 68 (default 0: per datagram)")
	fs.Var((*units.Probability)(&c.Reorder), "reorder", "`probability` a datagram is held back so later ones overtake it: 0.01 or 1% (default 0)")
	fs.DurationVar(&c.ReorderDelay, "reorder-delay", c.ReorderDelay, "extra `duration` a reordered datagram is held (default 0: 10ms)")
	fs.Var((*units.Probability)(&c.Duplicate), "dup", "`probability` a datagram is sent twice (default 0)")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "random `seed`")
	fs.Var((*units.Bitrate)(&c.RateBits), "rate", "cap the forward direction: a `rate` like 20mbit, 500kbit, 1gbit (tc units; kbps = kilobytes/s) (default 0: none)")
	fs.Var((*units.Bytes)(&c.RateBurst), "rate-burst", "token bucket `size` for --rate, like 32kb (default 0: 10ms at the rate, at least 16kb)")
	fs.DurationVar(&c.RateLatency, "rate-latency", c.RateLatency, "longest `duration` a datagram may wait behind the rate cap before it is dropped")
	fs.IntVar(&c.QueueLimit, "queue", c.QueueLimit, "most `datagrams` waiting in the delay line")
	fs.Func("blackout", "drop everything for a `span` START+LENGTH after the relay starts, like 10s+2s (repeatable) (default: none)", func(s string) error {
		w, err := parseWindow(s)
		if err == nil {
			c.Blackouts = append(c.Blackouts, w)
		}
		return err
	})
	fs.DurationVar(&c.LogEvery, "log-every", c.LogEvery, "log the counters at this `interval` (default 0: only at the end)")
}

// Check validates a configuration read by Flags: Validate, with the command line's names.
func (c *Config) Check() error {
	if c.Forward == "" {
		return errors.New("--to HOST:PORT is required")
	}
	if err := c.Validate(); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "relay: "))
	}
	return nil
}

// DefaultConfig is the relay's command-line defaults: listening on 127.0.0.1:6000, seed 1.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:6000", Seed: 1, RateLatency: DefaultRateLatency, QueueLimit: DefaultQueueLimit}
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
