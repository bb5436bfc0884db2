// Command hrvs sends live high-resolution video from one Linux machine to another on
// a LAN over UDP: `hrvs send` next to a camera or a file, `hrvs recv` next to a screen.
// Package main wires a capture.Source to a sender, and a receiver to a render.Sink, from
// command-line flags; this file is the entry point and the command table, each command
// is in the file of its name.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/net/wire"
)

// version is set at build time by build.sh (-ldflags -X main.version=...).
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// program is hrvs's command table.
func program() *cli.Program {
	return &cli.Program{Name: "hrvs", Intro: "live high-resolution video over UDP on a LAN", Commands: []*cli.Command{
		sendCommand(), recvCommand(), demoCommand(), devicesCommand(), keygenCommand(),
		labCommand("bench", "bench [flags]", "hrvs vs GStreamer and ffmpeg RTP/JPEG over loopback; prints a markdown table (hrvs-lab)"),
		labCommand("bench-impair", "bench-impair [flags]", "hrvs under loss, caps, jitter and blackouts, and GStreamer beside it (hrvs-lab)"),
		labCommand("relay", "relay --to HOST:PORT [flags]", "a UDP+TCP relay that adds delay, jitter, loss, reordering and rate caps (hrvs-lab)"),
		versionCommand(),
	}}
}

// run is main without the exit, so tests can drive the command line.
func run(args []string, stdout, stderr io.Writer) int {
	return runIO(args, os.Stdin, stdout, stderr)
}

// runIO is run with the standard input given too (pairing asks the user to confirm).
func runIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stderr = &lockedWriter{w: stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) > 0 && args[0] == "--version" {
		args = append([]string{"version"}, args[1:]...)
	}
	return program().Main(ctx, args, stdin, stdout, stderr, log)
}

// lockedWriter serialises writes from the live lines and the log, so each lands whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:      "devices",
		UsageLine: "devices",
		Short:     "list V4L2 cameras with their formats, sizes and rates",
		Long:      "Lists V4L2 cameras with their pixel formats, frame sizes and frame rates.",
		Run:       func(_ context.Context, env *cli.Env) error { return capture.ListDevices(env.Stdout) },
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		UsageLine: "version",
		Short:     "print the version",
		Long:      "Prints the version, the wire protocol's version, the Go release and the platform.",
		Flags:     func(*flag.FlagSet) {},
		Run: func(_ context.Context, env *cli.Env) error {
			_, err := fmt.Fprintf(env.Stdout, "hrvs %s (protocol %d, %s, %s/%s)\n", version, wire.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
