package receiver

import (
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// A multicast receiver (docs/PROTOCOL.md §10) joins a group with one socket (every
// socket bound to a group's port gets its own copy of each datagram, so a pool would
// only duplicate them) and dials its sender's control port: the TCP port of the
// number its datagrams come from, on their source address.

// joinGroup binds a socket to the group and joins it on cfg.Iface; the control
// server dials instead of listening.
func joinGroup(cfg Config) ([]*net.UDPConn, *control.Server, error) {
	group, err := udp.ParseGroup(cfg.Listen)
	if err != nil {
		return nil, nil, err
	}
	ifi, err := udp.Interface(cfg.Iface)
	if err != nil {
		return nil, nil, err
	}
	c, err := udp.ListenGroup(group, ifi)
	if err != nil {
		return nil, nil, err
	}
	cfg.Log.Info("multicast: joined group", "group", group.Addr(), "port", c.LocalAddr().(*net.UDPAddr).Port, "iface", cfg.Iface)
	return []*net.UDPConn{c}, control.NewDialing(cfg.Log), nil
}

// groupState is where a multicast receiver's sender is: the source of the latest
// datagram that looked like ours.
type groupState struct {
	on     bool
	addr   string // the group and the port bound
	source atomic.Pointer[netip.AddrPort]
	left   atomic.Bool // the sender's latest notice said it left this receiver behind
}

// LeftBehind reports whether a multicast sender said it no longer waits for this
// receiver (docs/PROTOCOL.md §10.3); false for a receiver of one sender.
func (r *Receiver) LeftBehind() bool { return r.group.left.Load() }

// noteSource keeps from as the sender's address when d starts like a datagram of
// ours (a stray datagram to the group's port is not dialled). Readers call it for
// every datagram; it writes only when the source changes.
func (r *Receiver) noteSource(d []byte, from netip.AddrPort) {
	if !r.group.on {
		return
	}
	if p := r.group.source.Load(); p != nil && *p == from {
		return
	}
	if _, _, ok := wire.Peek(d); !ok {
		return
	}
	src := from // a copy, so only this path allocates: storing &from would move the parameter to the heap on every call
	r.group.source.Store(&src)
}

// sender is the control address to dial: the datagrams' source address and port.
func (g *groupState) sender() (string, bool) {
	p := g.source.Load()
	if p == nil {
		return "", false
	}
	return netip.AddrPortFrom(p.Addr().Unmap(), p.Port()).String(), true
}
