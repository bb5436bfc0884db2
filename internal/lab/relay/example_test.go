package relay_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hrvs/hrvs/internal/lab/relay"
)

// How main.go wires `hrvs relay ...`: args are the words after "relay".
func Example() {
	args := []string{"--listen", "127.0.0.1:6000", "--to", "127.0.0.1:5000", "--delay", "20ms",
		"--jitter", "10ms", "--reorder", "0.01", "--loss", "0.05", "--seed", "1", "--rate", "20mbit"}
	cfg, err := relay.ParseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // exit 0: the usage has been printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := relay.Run(ctx, cfg, slog.Default()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
