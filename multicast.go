package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/udp"
)

// groupFlags are the multicast flags of send and recv (docs/PROTOCOL.md §10): a
// multicast address in --to or --listen makes the stream multicast; these choose the
// interface and, sending, how far the datagrams go.
type groupFlags struct {
	iface     string
	ttl       int
	floor     float64 // send only: Mbit/s
	multicast bool    // send only: insist that --to is a group
}

func (g *groupFlags) register(fs *flag.FlagSet, send bool) {
	g.ttl, g.floor = udp.DefaultTTL, 4
	fs.StringVar(&g.iface, "iface", "", "with a multicast group: the network `interface` to "+map[bool]string{true: "send on", false: "join it on"}[send]+", like eth0\n(default: the one the routes choose)")
	if !send {
		return
	}
	fs.IntVar(&g.ttl, "ttl", g.ttl, "with a multicast group: how many router hops the datagrams may cross, 1..255 (1: this LAN only)")
	fs.BoolVar(&g.multicast, "multicast", false, "insist that --to is a multicast group, like 239.1.2.3:5000 (a group address alone already sends to the group)")
	fs.Float64Var(&g.floor, "group-floor", g.floor, "with a multicast group: the rate in `Mbit/s` below which the group stops following one receiver\nfar behind the others (it is told so and left behind)")
}

// check validates the flags against the address (--to or --listen, named flagName):
// a group must be IPv4 and the interface must exist; the multicast-only flags need a
// group.
func (g *groupFlags) check(fs *flag.FlagSet, flagName, addr string) error {
	ap, perr := netip.ParseAddrPort(addr)
	isGroup := udp.IsGroup(addr)
	switch {
	case perr == nil && ap.Addr().IsMulticast() && !isGroup:
		return cli.Usagef("%s %s: only IPv4 multicast groups (224.0.0.0/4) are supported, like 239.1.2.3:5000", flagName, addr)
	case g.multicast && !isGroup:
		return cli.Usagef("--multicast: %s %s is not an IPv4 multicast group (224.0.0.0/4), like 239.1.2.3:5000", flagName, addr)
	case !isGroup:
		for _, name := range []string{"iface", "ttl", "group-floor"} {
			if cli.Given(fs, name) {
				return cli.Usagef("--%s: only for a multicast group, and %s %s is not one", name, flagName, addr)
			}
		}
		return nil
	case g.ttl < 1 || g.ttl > 255:
		return cli.Usagef("--ttl %d: want 1..255", g.ttl)
	case !(g.floor >= 0 && g.floor <= maxRateMbps):
		return cli.Usagef("--group-floor %v: want 0..%g Mbit/s", g.floor, maxRateMbps)
	}
	if _, err := udp.Interface(g.iface); err != nil {
		if _, lerr := net.InterfaceByName(g.iface); lerr != nil {
			return cli.Usagef("--iface %s: no such network interface (ip link lists them)", g.iface)
		}
		return cli.Usagef("--iface %s: %v", g.iface, err)
	}
	return nil
}

// isGroupAddr reports whether addr names a multicast group (the stream is multicast).
func isGroupAddr(addr string) bool { return udp.IsGroup(addr) }

// groupNote is what recv logs about a group instead of announcing itself: a sender
// sends to the group, not to one receiver.
func groupNote(listen, iface string) string {
	return fmt.Sprintf("multicast: joined %s (iface %q); not announced on the LAN, since senders send to the group", listen, iface)
}

// groupLine is the live line's word on a multicast group's receivers.
func groupLine(s sender.Stats) string {
	linked, left := 0, 0
	for _, r := range s.Receivers {
		if r.Connected {
			linked++
			if r.LeftBehind {
				left++
			}
		}
	}
	return fmt.Sprintf("%d receivers linked (%d left behind), slowest rtt %.1f ms", linked, left, s.RTTMs)
}
