package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Multicast sockets (docs/PROTOCOL.md §10): a sender sends each datagram once to an
// IPv4 group and every receiver that joined it gets a copy. Only IPv4 groups are
// supported; the options are the RFC 1112 / RFC 3678 ones Linux implements (ip(7)).

// DefaultTTL keeps group datagrams on the local network: a router does not forward
// a datagram whose TTL would reach 0.
const DefaultTTL = 1

// ErrNotGroup is returned for an address that is not an IPv4 multicast group.
var ErrNotGroup = errors.New("not an IPv4 multicast group (224.0.0.0/4)")

// IsGroup reports whether hostport names an IPv4 multicast group (224.0.0.0/4). A
// name is not resolved: groups are given as numbers.
func IsGroup(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4() && a.IsMulticast()
}

// ParseGroup parses "A.B.C.D:PORT" as an IPv4 multicast group and a port (0 lets a
// receiver's kernel pick one; a sender needs the receivers' port).
func ParseGroup(hostport string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("multicast group %q: %w", hostport, err)
	}
	if !ap.Addr().Is4() || !ap.Addr().IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("multicast group %q: %w", hostport, ErrNotGroup)
	}
	return ap, nil
}

// Interface looks up a network interface by name; "" is no interface (the kernel
// picks one by its routes).
func Interface(name string) (*net.Interface, error) {
	if name == "" {
		return nil, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	if ifi.Flags&net.FlagMulticast == 0 && ifi.Flags&net.FlagLoopback == 0 {
		return nil, fmt.Errorf("interface %q does not do multicast", name)
	}
	return ifi, nil
}

func ifindex(ifi *net.Interface) int32 {
	if ifi == nil {
		return 0
	}
	return int32(ifi.Index)
}

// DialGroup opens a sending socket connected to group: datagrams leave through ifi
// (nil: the kernel's route for the group), with the given TTL (DefaultTTL when 0), and
// loop back to receivers on this machine. The socket is bound to an ephemeral port
// on every address, which a multicast sender also uses for its TCP control port.
func DialGroup(group netip.AddrPort, ifi *net.Interface, ttl int) (*net.UDPConn, error) {
	if group.Port() == 0 {
		return nil, fmt.Errorf("multicast group %s: port 0: give the port the receivers listen on", group)
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 || ttl > 255 {
		return nil, fmt.Errorf("multicast ttl %d: must be 1..255", ttl)
	}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return setOpts(c, func(fd int) error {
			if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: ifindex(ifi)}); err != nil {
				return fmt.Errorf("IP_MULTICAST_IF: %w", err)
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
				return fmt.Errorf("IP_MULTICAST_TTL: %w", err)
			}
			// A receiver on the sender's own machine (or its loopback) gets the group too.
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 1); err != nil {
				return fmt.Errorf("IP_MULTICAST_LOOP: %w", err)
			}
			return nil
		})
	}}
	c, err := d.DialContext(context.Background(), "udp4", group.String())
	if err != nil {
		return nil, fmt.Errorf("multicast socket to %s: %w", group, err)
	}
	return c.(*net.UDPConn), nil
}

// ListenGroup binds a socket to group's address and port and joins the group on ifi
// (nil: the interface of the kernel's route for the group). Several receivers on one
// machine may join the same group and port (SO_REUSEADDR): each gets its own copy.
// Binding to the group address, not to every address, keeps unicast datagrams to the
// same port out.
func ListenGroup(group netip.AddrPort, ifi *net.Interface) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return setOpts(c, func(fd int) error {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
				return fmt.Errorf("SO_REUSEADDR: %w", err)
			}
			mreq := unix.IPMreqn{Multiaddr: group.Addr().As4(), Ifindex: ifindex(ifi)}
			if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, &mreq); err != nil {
				return fmt.Errorf("join group %s: %w", group.Addr(), err)
			}
			// Only the groups this socket joined, not every group some socket of the
			// machine joined on that port.
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
				return fmt.Errorf("IP_MULTICAST_ALL: %w", err)
			}
			return nil
		})
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", group.String())
	if err != nil {
		return nil, fmt.Errorf("listen on multicast group %s: %w", group, err)
	}
	return pc.(*net.UDPConn), nil
}

func setOpts(c syscall.RawConn, f func(fd int) error) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = f(int(fd)) }); err != nil {
		return err
	}
	return serr
}
