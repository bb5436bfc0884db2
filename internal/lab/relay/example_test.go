package relay_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hrvs/hrvs/internal/lab/relay"
)

// How a command wires `relay ...` (cmd/hrvs-lab does it through its command table):
// args are the words after "relay".
func Example() {
	args := []string{"--listen", "127.0.0.1:6000", "--to", "127.0.0.1:5000", "--delay", "20ms",
		"--jitter", "10ms", "--reorder", "0.01", "--loss", "0.05", "--seed", "1", "--rate", "20mbit"}
	cfg := relay.DefaultConfig()
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	cfg.Flags(fs)
	if err := fs.Parse(args); err != nil {
		os.Exit(2) // the flag package has said why, or printed the help
	}
	if err := cfg.Check(); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := relay.Run(ctx, cfg, slog.Default()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
