package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/stats"
)

// demoDuration is demo's default --duration: long enough to see the picture settle.
const demoDuration = 10 * time.Second

func demoCommand() *cli.Command {
	sf, rf := newSendFlags(), newRecvFlags()
	sf.duration = demoDuration // demo's own default, shown by its --help
	return &cli.Command{
		Name:      "demo",
		UsageLine: "demo [flags]",
		Short:     "sender and receiver in one process over loopback",
		Long:      "Sends the test pattern (or --source) through a sender and a receiver in one process over loopback.",
		Flags: func(fs *flag.FlagSet) {
			sf.register(fs)
			rf.register(fs, true)
			// send's usage says what its zero default means; demo's default is not zero,
			// and the flag package prints it.
			fs.Lookup("duration").Usage = "stop after this long, like 10s or 2m"
		},
		Check: func(fs *flag.FlagSet) error {
			if err := sf.check(fs); err != nil {
				return err
			}
			if sf.key.file != "" || sf.key.pair { // send's flags bring them; demo has no use for them
				return cli.Usagef("demo runs both ends unkeyed over loopback: --key and --pair are for send and recv")
			}
			rf.duration, rf.frames, rf.statsJSON = sf.duration, sf.frames, sf.statsJSON
			return rf.check()
		},
		Run: func(ctx context.Context, env *cli.Env) error { return runDemo(ctx, env, sf, rf) },
	}
}

func runDemo(ctx context.Context, env *cli.Env, sf *sendFlags, rf *recvFlags) error {
	if prog, err := windowHandover(rf.sink); err != nil || prog != "" {
		if err != nil {
			return err
		}
		return becomeWindowProgram(prog)
	}
	rx, err := receiver.New(rf.config("127.0.0.1:0", env.Log))
	if err != nil {
		return fmt.Errorf("starting the receiver: %w", err)
	}
	src, err := sf.open(ctx, env.Log)
	if err != nil {
		rx.Close()
		return err
	}
	defer src.Close()
	tx, err := sender.New(sf.config(rx.Addr(), env.Log))
	if err != nil {
		rx.Close()
		return fmt.Errorf("starting the sender: %w", err)
	}
	sinks, err := rf.outputs(rx, env.Log, "")
	if err != nil {
		rx.Close()
		return err
	}
	// The sender stops first and the receiver when the sender is done, so the last
	// frames are acknowledged and neither end sees the other vanish.
	sctx, scancel := withDuration(ctx, rf.duration)
	defer scancel()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	var wg sync.WaitGroup
	sendErr := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		sendErr <- tx.Run(sctx, src, sf.frames)
		rcancel()
	}()
	go func() { defer wg.Done(); stats.Live(sctx, env.Stderr, time.Second, sendLine(tx, src)) }()
	err = receive(rctx, rcancel, rx, sinks, rf.frames, env.Stderr, env.Log)
	scancel()
	wg.Wait()
	err = errors.Join(err, <-sendErr)
	s := rx.Stats()
	fmt.Fprintf(env.Stdout, "demo: %d frames (%d complete, %d partial) at %.1f fps, %.1f Mbit/s, latency p50 %.1f ms p99 %.1f ms\n",
		s.FramesReceived, s.FramesComplete, s.FramesPartial, s.FPS, s.Mbps, s.LatencyP50, s.LatencyP99)
	if rf.statsJSON != "" {
		if jerr := stats.WriteJSON(rf.statsJSON, s); jerr != nil {
			err = errors.Join(err, jerr)
		}
	}
	return err
}
