package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/net/discover"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// maxListWait bounds list's --wait.
const maxListWait = time.Minute

func listCommand() *cli.Command {
	wait := discover.DefaultWait
	role := "all"
	return &cli.Command{
		Name:      "list",
		UsageLine: "list [--wait 1s] [--role recv|send|all]",
		Short:     "list the receivers and senders announced on the LAN (mDNS)",
		Long: "Asks the LAN with multicast DNS for HRVS receivers (service " + discover.Service + ") and senders\n" +
			"(" + discover.SenderService + ") and prints one line for each, receivers first: name, role, address,\n" +
			"protocol version, size (a receiver's largest accepted, a sender's frames), key fingerprint,\n" +
			"and for a sender its frame rate and multicast group (\"-\" when it sends to one receiver).\n" +
			"Send to a receiver with hrvs send --to NAME; join a multicast sender with hrvs recv --listen NAME;\n" +
			"either takes auto when there is only one.",
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&wait, "wait", wait, "how long to listen for answers, above 0 and at most "+maxListWait.String())
			fs.StringVar(&role, "role", role, "list only receivers (recv), only senders (send), or all")
		},
		Check: func(*flag.FlagSet) error {
			if wait <= 0 || wait > maxListWait {
				return cli.Usagef("--wait %v: want above 0 and at most %v", wait, maxListWait)
			}
			if _, err := listRoles(role); err != nil {
				return err
			}
			return nil
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			roles, _ := listRoles(role)
			found, err := discover.Browse(ctx, discover.BrowseConfig{Wait: wait, Roles: roles, Log: env.Log})
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

// listRoles turns list's --role into the roles to ask for (nil: all).
func listRoles(role string) ([]discover.Role, error) {
	switch role {
	case "all":
		return nil, nil
	case string(discover.RoleReceiver), string(discover.RoleSender):
		return []discover.Role{discover.Role(role)}, nil
	}
	return nil, cli.Usagef("--role %q: want recv, send or all", role)
}

// printEntries writes one line per announced instance under a header. The first six
// columns are those of the list before senders were announced, in the same places, so
// what read them still does; a sender's FPS and GROUP follow.
func printEntries(w io.Writer, found []discover.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tADDRESS\tPROTOCOL\tSIZE\tKEY\tFPS\tGROUP")
	for _, e := range found {
		addr, size, key, fps, group := e.Addr.String(), "-", "none", "-", "-"
		if e.Info.MaxW > 0 {
			size = fmt.Sprintf("%dx%d", e.Info.MaxW, e.Info.MaxH)
		}
		if e.Info.Key != "" {
			key = e.Info.Key
		}
		if e.Info.Role == discover.RoleSender {
			if e.Info.W > 0 {
				size = fmt.Sprintf("%dx%d", e.Info.W, e.Info.H)
			}
			if e.Info.FPS > 0 {
				fps = strconv.FormatFloat(e.Info.FPS, 'f', -1, 64)
			}
			if e.Info.Multicast() {
				group = e.Info.Group.String()
			} else {
				addr = e.Addr.Addr().String() // a sender to one receiver listens on no port
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", e.Instance, e.Info.Role, addr, e.Info.Version, size, key, fps, group)
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

// browseLAN is resolveTo's and resolveListen's browse for the real LAN: it asks for
// instances of role, on iface (nil: the kernel's default multicast interface).
func browseLAN(role discover.Role, iface *net.Interface, log *slog.Logger) func(context.Context) ([]discover.Entry, error) {
	return func(ctx context.Context) ([]discover.Entry, error) {
		return discover.Browse(ctx, discover.BrowseConfig{Roles: []discover.Role{role}, Iface: iface, Log: log})
	}
}

// checkListen checks recv's --listen: HOST:PORT, GROUP:PORT, auto, or the name a
// multicast sender announces.
func checkListen(listen string) error {
	if listen == discover.Auto {
		return nil
	}
	if !isName(listen) {
		return checkAddr("--listen", listen, true)
	}
	if err := discover.CheckName(listen); err != nil {
		return cli.Usagef("--listen %q: want HOST:PORT, a multicast GROUP:PORT, auto or a multicast sender's name (%v)", listen, err)
	}
	return nil
}

// resolveListen finds the multicast sender recv's --listen names (a name or auto) with
// browse (discover.Browse for senders on the LAN); its Info.Group is the address to
// join. Every way the lookup can fail is a usage error (exit 2) on one line: nothing of
// that name, a sender to one receiver (it has no group to join), none or several for
// auto.
func resolveListen(ctx context.Context, listen string, browse func(context.Context) ([]discover.Entry, error), log *slog.Logger) (discover.Entry, error) {
	found, err := browse(ctx)
	if err != nil {
		return discover.Entry{}, fmt.Errorf("--listen %s: %w", listen, err)
	}
	e, err := discover.PickGroup(found, listen)
	var several *discover.SeveralError
	switch {
	case errors.As(err, &several):
		return discover.Entry{}, cli.Usagef("--listen auto: %v; name one with --listen NAME", err)
	case errors.Is(err, discover.ErrUnicast):
		return discover.Entry{}, cli.Usagef("--listen %s: sender %v; only the receiver it sends to gets its stream", listen, err)
	case err != nil:
		return discover.Entry{}, cli.Usagef("--listen %s: %v on the LAN within %v (hrvs list --role send shows what answers)", listen, err, discover.DefaultWait)
	}
	if e.Info.Version != wire.Version {
		log.Warn("the sender speaks another protocol version", "sender", e.Instance, "its", e.Info.Version, "ours", wire.Version)
	}
	log.Info("found the multicast sender", "name", e.Instance, "group", e.Info.Group.String(), "from", e.Addr.Addr().String(),
		"size", fmt.Sprintf("%dx%d", e.Info.W, e.Info.H), "fps", e.Info.FPS, "key", e.Info.Key)
	return e, nil
}

// checkSenderKey warns when the sender found by name keys its stream otherwise than
// key (nil: none) would open it: the receiver would drop every datagram.
func checkSenderKey(e discover.Entry, key *seal.Key, log *slog.Logger) {
	switch fp := fingerprint(key); {
	case e.Info.Key != "" && fp == "":
		log.Warn("the sender's stream is keyed and this receiver has no key: give --key", "sender", e.Instance, "key", e.Info.Key)
	case e.Info.Key != fp:
		log.Warn("the sender's key is not this receiver's", "sender", e.Instance, "its", e.Info.Key, "ours", fp)
	}
}

// fingerprint is key's fingerprint, "" for none.
func fingerprint(key *seal.Key) string {
	if key == nil {
		return ""
	}
	return key.Fingerprint()
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
	return announce(name, port, info, ifi, ips, log)
}

// announce announces info as name on ifi until the returned func is called; when it
// cannot, the log says why and the command runs on unannounced.
func announce(name string, port int, info discover.Info, ifi *net.Interface, ips []net.IP, log *slog.Logger) func() {
	a, err := discover.Announce(discover.AnnounceConfig{Instance: name, Port: port, Info: info, Iface: ifi, IPs: ips, Log: log})
	if err != nil {
		log.Warn("not announced on the LAN", "err", err)
		return func() {}
	}
	log.Info("announced on the LAN", "name", name, "service", discover.ServiceOf(info.Role), "iface", ifi.Name, "addr", ips[0].String())
	return func() { a.Close() }
}

// announceSender announces a sender on the LAN as name: its frame size and rate, its
// key's fingerprint, and when it sends to a multicast group the group (the SRV port
// its control port, which its receivers dial); the receiver a sender sends to alone is
// not told. A sender whose datagrams go out over loopback is not announced, as nobody on
// the LAN could receive them. The returned func stops the announcement.
func announceSender(to, iface string, control net.Addr, w, h int, fps float64, key *seal.Key, name string, log *slog.Logger) func() {
	ifi, err := udp.Interface(iface)
	if err != nil {
		log.Warn("not announced on the LAN", "err", err)
		return func() {}
	}
	ifi, ips, err := discover.WhereSending(to, ifi)
	if err != nil {
		// Loopback is what a test or a demo on one machine does: not worth a warning.
		lvl := slog.LevelWarn
		if errors.Is(err, discover.ErrLoopback) {
			lvl = slog.LevelDebug
		}
		log.Log(context.Background(), lvl, "not announced on the LAN", "err", err)
		return func() {}
	}
	info := discover.Info{Role: discover.RoleSender, Version: wire.Version, W: w, H: h, FPS: fps, Key: fingerprint(key)}
	port := discover.UnicastPort
	if isGroupAddr(to) {
		info.Group = netip.MustParseAddrPort(to) // checked by groupFlags.check
		if a, ok := control.(*net.TCPAddr); ok {
			port = a.Port
		}
	}
	return announce(name, port, info, ifi, ips, log)
}
