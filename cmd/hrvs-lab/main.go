// Command hrvs-lab holds HRVS's laboratory: the benchmarks against GStreamer and ffmpeg, the
// impairment matrix, and the impairing relay. It is a separate binary so that the product,
// hrvs, never links the lab; `hrvs bench`, `hrvs bench-impair` and `hrvs relay` run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hrvs/hrvs/internal/lab/bench"
	"github.com/hrvs/hrvs/internal/lab/impair"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/net/tile"
)

const usage = `hrvs-lab: HRVS's benchmarks and test tools (also reached as hrvs bench, hrvs bench-impair, hrvs relay)

usage:
  hrvs-lab bench [flags]                hrvs vs GStreamer and ffmpeg RTP/JPEG over loopback; prints a markdown table
  hrvs-lab bench-impair [flags]         hrvs under loss, caps, jitter and blackouts (and GStreamer beside it)
  hrvs-lab relay --listen A --to B [flags]
                                        a UDP+TCP relay that adds delay, jitter, loss,
                                        reordering, duplication and rate caps (for tests)

Run 'hrvs-lab COMMAND --help' for a command's flags.
`

// errUsage marks a command-line mistake: exit status 2, one line of reason.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can drive the command line.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch cmd := args[0]; cmd {
	case "relay":
		err = cmdRelay(ctx, args[1:], stdout, log)
	case "bench-impair":
		err = cmdBenchImpair(ctx, args[1:], stdout, log)
	case "bench":
		err = bench.Main(ctx, args[1:], stdout, stderr)
		if errors.Is(err, bench.ErrUsage) {
			err = errUsage{strings.TrimPrefix(err.Error(), "bench: ")}
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = errUsage{fmt.Sprintf("unknown command %q (want bench, bench-impair or relay)", cmd)}
	}
	var ue errUsage
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "hrvs %s: %s\n", args[0], ue.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "hrvs %s: %v\n", args[0], err)
		return 1
	}
}

func cmdRelay(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := relay.ParseFlags(args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{strings.TrimPrefix(err.Error(), "relay: ")}
	}
	_, err = relay.Run(ctx, cfg, log)
	return err
}

func cmdBenchImpair(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := impair.ParseFlags(args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{strings.TrimPrefix(err.Error(), "bench-impair: ")}
	}
	cfg.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
	cfg.NewDecoder = func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }
	cfg.Log = log
	_, err = impair.Run(ctx, cfg, stdout)
	return err
}
