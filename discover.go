package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/net/discover"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// maxListWait bounds list's --wait.
const maxListWait = time.Minute

func listCommand() *cli.Command {
	wait := discover.DefaultWait
	return &cli.Command{
		Name:      "list",
		UsageLine: "list [--wait 1s]",
		Short:     "list the receivers announced on the LAN (mDNS)",
		Long: "Asks the LAN with multicast DNS for HRVS receivers (service " + discover.Service + ") and prints\n" +
			"each one's name, address, protocol version, size limit and key fingerprint.\n" +
			"Send to one with hrvs send --to NAME, or --to auto when there is only one.",
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&wait, "wait", wait, "how long to listen for answers, above 0 and at most "+maxListWait.String())
		},
		Check: func(*flag.FlagSet) error {
			if wait <= 0 || wait > maxListWait {
				return cli.Usagef("--wait %v: want above 0 and at most %v", wait, maxListWait)
			}
			return nil
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			found, err := discover.Browse(ctx, discover.BrowseConfig{Wait: wait, Log: env.Log})
			if err != nil {
				return err
			}
			if len(found) == 0 {
				fmt.Fprintf(env.Stderr, "no HRVS instance answered within %v\n", wait)
				return nil
			}
			return printEntries(env.Stdout, found)
		},
	}
}

// printEntries writes one line per announced instance under a header.
func printEntries(w io.Writer, found []discover.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tADDRESS\tPROTOCOL\tMAX SIZE\tKEY")
	for _, e := range found {
		size, key := "-", "none"
		if e.Info.MaxW > 0 {
			size = fmt.Sprintf("%dx%d", e.Info.MaxW, e.Info.MaxH)
		}
		if e.Info.Key != "" {
			key = e.Info.Key
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.Instance, e.Info.Role, e.Addr, e.Info.Version, size, key)
	}
	return tw.Flush()
}

// isName reports whether send's --to names an announced receiver (or auto) rather than
// giving HOST:PORT.
func isName(to string) bool { return to != "" && !strings.Contains(to, ":") }

// checkTo checks send's --to: HOST:PORT, auto, or a name a receiver can announce.
func checkTo(to string) error {
	if to == discover.Auto {
		return nil
	}
	if !isName(to) {
		return checkAddr("--to", to, false)
	}
	if err := discover.CheckName(to); err != nil {
		return cli.Usagef("--to %q: want HOST:PORT, auto or a receiver's name (%v)", to, err)
	}
	return nil
}

// resolveTo turns send's --to into HOST:PORT: an address is kept, a name or auto is
// looked up with browse (discover.Browse on the LAN). Several receivers for auto is a
// usage error that lists them; none, or none of that name, is a failure.
func resolveTo(ctx context.Context, to string, browse func(context.Context) ([]discover.Entry, error), log *slog.Logger) (string, error) {
	if !isName(to) {
		return to, nil
	}
	found, err := browse(ctx)
	if err != nil {
		return "", fmt.Errorf("--to %s: %w", to, err)
	}
	e, err := discover.Pick(found, to)
	var several *discover.SeveralError
	switch {
	case errors.As(err, &several):
		return "", cli.Usagef("--to auto: %v; name one with --to NAME", err)
	case err != nil:
		return "", fmt.Errorf("--to %s: %w on the LAN within %v (hrvs list shows what answers)", to, err, discover.DefaultWait)
	}
	if e.Info.Version != wire.Version {
		log.Warn("the receiver speaks another protocol version", "receiver", e.Instance, "its", e.Info.Version, "ours", wire.Version)
	}
	log.Info("found the receiver", "name", e.Instance, "addr", e.Addr.String(), "key", e.Info.Key)
	return e.Addr.String(), nil
}

// browseLAN is resolveTo's browse for the real LAN.
func browseLAN(log *slog.Logger) func(context.Context) ([]discover.Entry, error) {
	return func(ctx context.Context) ([]discover.Entry, error) {
		return discover.Browse(ctx, discover.BrowseConfig{Log: log})
	}
}

// announceReceiver announces rx on the LAN as name, on the interface its address is on,
// unless it listens on loopback, where nobody on the LAN could reach it. A receiver that
// cannot be announced still runs: the log says why. The returned func stops the
// announcement.
func announceReceiver(rx *receiver.Receiver, name string, maxW, maxH int, key *seal.Key, log *slog.Logger) func() {
	host, portStr, _ := net.SplitHostPort(rx.Addr())
	port, _ := strconv.Atoi(portStr)
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		log.Debug("not announced on the LAN: listening on loopback", "listen", rx.Addr())
		return func() {}
	}
	ifi, ips, err := discover.Where(host)
	if err != nil {
		log.Warn("not announced on the LAN", "err", err)
		return func() {}
	}
	info := discover.Info{Role: discover.RoleReceiver, Version: wire.Version, MaxW: maxW, MaxH: maxH}
	if key != nil {
		info.Key = key.Fingerprint()
	}
	a, err := discover.Announce(discover.AnnounceConfig{Instance: name, Port: port, Info: info, Iface: ifi, IPs: ips, Log: log})
	if err != nil {
		log.Warn("not announced on the LAN", "err", err)
		return func() {}
	}
	log.Info("announced on the LAN", "name", name, "service", discover.Service, "iface", ifi.Name, "addr", ips[0].String())
	return func() { a.Close() }
}
