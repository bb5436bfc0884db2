// Command hrvs-lab holds HRVS's laboratory: the benchmarks against GStreamer and ffmpeg, the
// impairment matrix, and the impairing relay. It is a separate binary so that the product,
// hrvs, never links the lab; `hrvs bench`, `hrvs bench-impair` and `hrvs relay` run it.
// Its commands share hrvs's shape (internal/cli): one table, usage errors exit 2 with a
// one-line reason, runtime failures 1.
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/internal/lab/bench"
	"github.com/hrvs/hrvs/internal/lab/impair"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/net/tile"
)

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr))
}

// program is hrvs-lab's command table, named as it was called: hrvs runs it as "hrvs", so
// its help and its errors name the command the user typed.
func program(name string) *cli.Program {
	return &cli.Program{Name: name, Intro: "HRVS's benchmarks and test tools (also reached as hrvs bench, hrvs bench-impair, hrvs relay)",
		Commands: []*cli.Command{benchCommand(), benchImpairCommand(), relayCommand()}}
}

// run is main without the exit, so tests can drive the command line.
func run(name string, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return program(name).Main(ctx, args, os.Stdin, stdout, stderr, log)
}

func benchCommand() *cli.Command {
	f := bench.NewFlags()
	var o bench.Options
	return &cli.Command{
		Name:      "bench",
		UsageLine: "bench [flags]",
		Short:     "hrvs vs GStreamer and ffmpeg RTP/JPEG over loopback; prints a markdown table",
		Long:      bench.Usage,
		Flags:     f.Register,
		Check: func(fs *flag.FlagSet) (err error) {
			o, err = f.Options(fs)
			return err
		},
		Run: func(ctx context.Context, env *cli.Env) error { return bench.Run(ctx, o, env.Stdout, env.Stderr) },
	}
}

func benchImpairCommand() *cli.Command {
	c := impair.DefaultConfig()
	return &cli.Command{
		Name:      "bench-impair",
		UsageLine: "bench-impair [flags]",
		Short:     "hrvs under loss, caps, jitter and blackouts (and GStreamer beside it)",
		Long:      impair.Usage(),
		Flags:     c.Flags,
		Check:     func(*flag.FlagSet) error { return c.Check() },
		Run: func(ctx context.Context, env *cli.Env) error {
			c.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
			c.NewDecoder = func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }
			c.Log = env.Log
			_, err := impair.Run(ctx, c, env.Stdout)
			return err
		},
	}
}

func relayCommand() *cli.Command {
	c := relay.DefaultConfig()
	return &cli.Command{
		Name:      "relay",
		UsageLine: "relay --to HOST:PORT [flags]",
		Short:     "a UDP+TCP relay that adds delay, jitter, loss, reordering, duplication and rate caps (for tests)",
		Long:      relay.Usage,
		Flags:     c.Flags,
		Check:     func(*flag.FlagSet) error { return c.Check() },
		Run: func(ctx context.Context, env *cli.Env) error {
			_, err := relay.Run(ctx, c, env.Log)
			return err
		},
	}
}
