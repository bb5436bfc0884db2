// Package discover announces HRVS receivers and senders on the LAN and finds them, with
// multicast DNS (RFC 6762) service discovery (DNS-SD, RFC 6763), receivers under the
// service type _hrvs._udp and senders under _hrvs-send._udp, so a sender can be pointed
// at a receiver's name and a receiver at a multicast sender's. It uses
// github.com/hashicorp/mdns for the wire work and IPv4 only.
package discover

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/mdns"
)

// Service is the DNS-SD service type HRVS receivers announce (RFC 6763 §7: the
// protocol's name and _udp, as the video travels over UDP).
const Service = "_hrvs._udp"

// SenderService is the DNS-SD service type HRVS senders announce. Senders have a type
// of their own, not only a role in the TXT record, because an instance name is unique
// within a service type (RFC 6763 §4.1) and both commands default to the host's name:
// a host that receives one stream and sends another announces "studio" under each type
// without the two records colliding (hashicorp/mdns does not probe for conflicts,
// RFC 6762 §9, so a collision would mix their SRV and TXT records). It also leaves the
// receivers' records exactly as older hrvs list and send --to read them.
const SenderService = "_hrvs-send._udp"

// UnicastPort is the SRV port a sender to one receiver announces: it listens for
// nothing, but an SRV record must name a port, so it names the discard port (RFC 863).
// A multicast sender announces its control port (docs/PROTOCOL.md §10.2).
const UnicastPort = 9

// ServiceOf is the service type an instance of role announces under.
func ServiceOf(r Role) string {
	if r == RoleSender {
		return SenderService
	}
	return Service
}

// domain is where multicast DNS names live (RFC 6762 §3).
const domain = "local."

// DefaultWait is how long Browse listens for answers unless told otherwise.
const DefaultWait = time.Second

// maxInstance is the longest instance name: one DNS label (RFC 1035 §2.3.4).
const maxInstance = 63

var (
	// ErrNone is wrapped by Pick when no receiver answered.
	ErrNone = errors.New("no receiver answered")
	// ErrNotFound is wrapped by Pick when no receiver has the name asked for.
	ErrNotFound = errors.New("no receiver of that name answered")
	// ErrNoGroup is wrapped by PickGroup when no multicast sender answered.
	ErrNoGroup = errors.New("no multicast sender answered")
	// ErrNoSender is wrapped by PickGroup when no sender has the name asked for.
	ErrNoSender = errors.New("no sender of that name answered")
	// ErrUnicast is wrapped by PickGroup when the sender named sends to one receiver,
	// so there is no group to join.
	ErrUnicast = errors.New("it sends to one receiver, not to a multicast group")
	// ErrBadName is wrapped by CheckName for a name that cannot be announced.
	ErrBadName = errors.New("bad instance name")
	// ErrLoopback is wrapped by Where and WhereSending for a loopback address or
	// interface, out of the LAN's reach.
	ErrLoopback = errors.New("loopback, out of the LAN's reach")
)

// SeveralError is Pick's and PickGroup's error when "auto" finds more than one
// instance to choose from: the user must name one.
type SeveralError struct {
	What    string // "receivers" or "multicast senders"
	Entries []Entry
}

func (e *SeveralError) Error() string {
	return fmt.Sprintf("%d %s answered: %s", len(e.Entries), e.What, names(e.Entries))
}

// names lists entries as Entry.String does, comma-separated.
func names(entries []Entry) string {
	s := make([]string, len(entries))
	for i, en := range entries {
		s[i] = en.String()
	}
	return strings.Join(s, ", ")
}

// Entry is one announced instance.
type Entry struct {
	Instance string // the instance name, like "studio"
	Host     string // the target host name of its SRV record, like "studio.local."
	// Addr is its IPv4 address and SRV port: a receiver's stream port, a multicast
	// sender's control port, UnicastPort for a sender to one receiver.
	Addr netip.AddrPort
	TXT  []string // its TXT record as received
	Info Info     // the TXT record decoded; Info.Role agrees with the service type
}

// String names e and where it is: a receiver's address, a multicast sender's group, a
// sender to one receiver's host address.
func (e Entry) String() string {
	switch {
	case e.Info.Role != RoleSender:
		return e.Instance + " (" + e.Addr.String() + ")"
	case e.Info.Multicast():
		return e.Instance + " (group " + e.Info.Group.String() + ")"
	}
	return e.Instance + " (unicast, from " + e.Addr.Addr().String() + ")"
}

// CheckName reports whether name can be announced: one DNS label of letters, digits, '-'
// and '_' (the hostname rules of RFC 1123 §2.1, plus '_'), so it needs no escaping in any
// tool that prints it.
func CheckName(name string) error {
	if name == "" || len(name) > maxInstance {
		return fmt.Errorf("%w %q: want 1..%d characters", ErrBadName, name, maxInstance)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%w %q: use letters, digits, '-' and '_'", ErrBadName, name)
		}
	}
	return nil
}

// DefaultName is this host's name as an instance name: its first label, with any
// character CheckName refuses replaced by '-'; "hrvs" if the host has no name.
func DefaultName() string {
	h, err := os.Hostname()
	if err != nil {
		return "hrvs"
	}
	h, _, _ = strings.Cut(h, ".")
	b := []byte(h)
	for i, c := range b {
		if CheckName(string(c)) != nil {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "hrvs"
	}
	return string(b[:min(len(b), maxInstance)])
}

// AnnounceConfig says what to announce and where.
type AnnounceConfig struct {
	Instance string // CheckName's rules
	Port     int    // the port the instance listens on, 1..65535
	Info     Info
	// Iface is the interface to answer on; nil for the kernel's default multicast
	// interface.
	Iface *net.Interface
	// IPs are the IPv4 addresses announced for the host (at least one).
	IPs []net.IP
	Log *slog.Logger // may be nil
}

// Announcer answers mDNS queries for one instance until Close.
//
// A receiver announces under Service, a sender (Info.Role RoleSender) under
// SenderService.
type Announcer struct {
	srv *mdns.Server
}

// Announce starts answering queries for cfg's instance: PTR, SRV, TXT and A records
// (RFC 6763 §4-6), each answer sent to the querier.
func Announce(cfg AnnounceConfig) (*Announcer, error) {
	if err := CheckName(cfg.Instance); err != nil {
		return nil, err
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("discover: port %d out of 1..65535", cfg.Port)
	}
	if len(cfg.IPs) == 0 {
		return nil, errors.New("discover: no address to announce")
	}
	if cfg.Info.Role != RoleReceiver && cfg.Info.Role != RoleSender {
		return nil, fmt.Errorf("discover: role %q: want %s or %s", cfg.Info.Role, RoleReceiver, RoleSender)
	}
	host := cfg.Instance + "." + domain
	zone, err := mdns.NewMDNSService(cfg.Instance, ServiceOf(cfg.Info.Role), domain, host, cfg.Port, cfg.IPs, cfg.Info.TXT())
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Iface: cfg.Iface, Logger: logLogger(cfg.Log)})
	if err != nil {
		return nil, fmt.Errorf("discover: answering on port 5353: %w", err)
	}
	return &Announcer{srv: srv}, nil
}

// Close stops answering.
func (a *Announcer) Close() error { return a.srv.Shutdown() }

// BrowseConfig says where and how long to look.
type BrowseConfig struct {
	Wait  time.Duration  // how long to listen for answers in all; 0 means DefaultWait
	Iface *net.Interface // nil for the kernel's default multicast interface
	Roles []Role         // the roles to look for; nil for both
	Log   *slog.Logger   // may be nil
}

// Browse asks the LAN for every instance of cfg.Roles (receivers under Service, senders
// under SenderService, each asked for its share of cfg.Wait in turn) and returns those
// whose answers were complete (an address, a port and an HRVS TXT record of the role
// its service type says) within cfg.Wait, receivers first, each sorted by name and listed once.
// Answers whose TXT record is not an HRVS one are logged and left out.
func Browse(ctx context.Context, cfg BrowseConfig) ([]Entry, error) {
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Roles == nil {
		cfg.Roles = []Role{RoleReceiver, RoleSender}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Each client sends each complete entry once, without blocking: room for all. One
	// channel for both: a client also passes on answers to the other's question, which
	// it hears on the multicast group, so where an entry came from says nothing. The
	// questions are asked in turn, not at once, so that the sockets are opened on this
	// goroutine's thread: a caller in another network namespace (setns, as the tests
	// do) asks there.
	found := make(chan *mdns.ServiceEntry, 256*len(cfg.Roles))
	for _, r := range cfg.Roles {
		err := mdns.QueryContext(ctx, &mdns.QueryParam{
			Service: ServiceOf(r), Domain: "local", Timeout: cfg.Wait / time.Duration(len(cfg.Roles)), Interface: cfg.Iface,
			Entries: found, DisableIPv6: true, Logger: logLogger(cfg.Log),
		})
		if err != nil {
			return nil, fmt.Errorf("discover: asking for %s: %w", ServiceOf(r), err)
		}
	}
	close(found)
	var out []Entry
	for se := range found {
		e, ok := entryOf(se, cfg.Roles, log)
		if !ok || slices.ContainsFunc(out, func(o Entry) bool { return o.Instance == e.Instance && o.Info.Role == e.Info.Role }) {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Info.Role != b.Info.Role {
			return strings.Compare(string(a.Info.Role), string(b.Info.Role)) // recv before send
		}
		return strings.Compare(a.Instance, b.Instance)
	})
	return out, nil
}

// entryOf reads one answer: an instance of a service type of roles, with an IPv4
// address, a port, and a TXT record of the role the type says.
func entryOf(se *mdns.ServiceEntry, roles []Role, log *slog.Logger) (Entry, bool) {
	for _, r := range roles {
		name, ok := strings.CutSuffix(se.Name, "."+ServiceOf(r)+"."+domain)
		if !ok {
			continue
		}
		ip, ipok := netip.AddrFromSlice(se.AddrV4.To4())
		if !ipok || se.Port < 1 || se.Port > 65535 {
			log.Debug("discover: an answer without an IPv4 address or a port", "name", se.Name, "addr", se.AddrV4, "port", se.Port)
			return Entry{}, false
		}
		info, err := ParseTXT(se.InfoFields)
		if err != nil {
			log.Warn("discover: an instance with a TXT record we cannot read", "name", name, "err", err)
			return Entry{}, false
		}
		if info.Role != r {
			log.Warn("discover: an instance whose TXT role is not its service type's", "name", se.Name, "role", info.Role)
			return Entry{}, false
		}
		return Entry{Instance: name, Host: se.Host, Addr: netip.AddrPortFrom(ip, uint16(se.Port)),
			TXT: slices.Clone(se.InfoFields), Info: info}, true
	}
	log.Debug("discover: an answer that is not an HRVS instance's", "name", se.Name)
	return Entry{}, false
}

// Auto is the name Pick takes to mean "the one receiver there is".
const Auto = "auto"

// Pick chooses the receiver name asks for among entries: by instance name (without
// regard to case), or, for Auto, the only receiver (a *SeveralError when there are more).
// Entries that are not receivers are never picked.
func Pick(entries []Entry, name string) (Entry, error) {
	var rx []Entry
	for _, e := range entries {
		if e.Info.Role == RoleReceiver {
			rx = append(rx, e)
		}
	}
	if name != Auto {
		for _, e := range rx {
			if strings.EqualFold(e.Instance, name) {
				return e, nil
			}
		}
		if len(rx) == 0 {
			return Entry{}, fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		return Entry{}, fmt.Errorf("%w: %q (heard: %s)", ErrNotFound, name, names(rx))
	}
	switch len(rx) {
	case 0:
		return Entry{}, ErrNone
	case 1:
		return rx[0], nil
	}
	return Entry{}, &SeveralError{What: "receivers", Entries: rx}
}

// PickGroup chooses the multicast sender name asks for among entries, for a receiver
// to join its group: by instance name (without regard to case), or, for Auto, the only
// multicast sender (a *SeveralError when there are more). A sender of that name that
// sends to one receiver is ErrUnicast; receivers are never picked.
func PickGroup(entries []Entry, name string) (Entry, error) {
	var tx, mc []Entry
	for _, e := range entries {
		if e.Info.Role == RoleSender {
			tx = append(tx, e)
			if e.Info.Multicast() {
				mc = append(mc, e)
			}
		}
	}
	if name != Auto {
		for _, e := range tx {
			if !strings.EqualFold(e.Instance, name) {
				continue
			}
			if !e.Info.Multicast() {
				return Entry{}, fmt.Errorf("%q: %w", e.Instance, ErrUnicast)
			}
			return e, nil
		}
		if len(tx) == 0 {
			return Entry{}, fmt.Errorf("%w: %q", ErrNoSender, name)
		}
		return Entry{}, fmt.Errorf("%w: %q (heard: %s)", ErrNoSender, name, names(tx))
	}
	switch len(mc) {
	case 0:
		if len(tx) > 0 {
			return Entry{}, fmt.Errorf("%w (heard only senders to one receiver: %s)", ErrNoGroup, names(tx))
		}
		return Entry{}, ErrNoGroup
	case 1:
		return mc[0], nil
	}
	return Entry{}, &SeveralError{What: "multicast senders", Entries: mc}
}

// Where finds where to announce a receiver listening on host (an IP address, or ""
// / 0.0.0.0 for every address): the interface that holds the address, or for every
// address the interface the kernel sends multicast DNS out of (found by connecting a UDP
// socket, which sends nothing). It returns the interface and its IPv4 addresses to
// announce; loopback is refused, as nobody on the LAN could reach it.
func Where(host string) (*net.Interface, []net.IP, error) {
	var ip net.IP
	if host != "" && host != "0.0.0.0" && host != "::" {
		ip = net.ParseIP(host)
		if ip == nil {
			return nil, nil, fmt.Errorf("discover: %q is not an IP address", host)
		}
	} else {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
		if err != nil {
			return nil, nil, fmt.Errorf("discover: no route for multicast DNS: %w", err)
		}
		ip = c.LocalAddr().(*net.UDPAddr).IP
		c.Close()
	}
	if ip.IsLoopback() {
		return nil, nil, fmt.Errorf("discover: %s is %w", ip, ErrLoopback)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("discover: %w", err)
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		var v4 []net.IP
		holds := false
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			holds = holds || n.IP.Equal(ip)
			if n.IP.To4() != nil {
				v4 = append(v4, n.IP.To4())
			}
		}
		if !holds {
			continue
		}
		if ifs[i].Flags&net.FlagMulticast == 0 || ifs[i].Flags&net.FlagUp == 0 {
			return nil, nil, fmt.Errorf("discover: %s is down or cannot multicast", ifs[i].Name)
		}
		if ip.To4() != nil && !(host == "" || host == "0.0.0.0" || host == "::") {
			v4 = []net.IP{ip.To4()} // announce the address listened on, not the others
		}
		if len(v4) == 0 {
			return nil, nil, fmt.Errorf("discover: %s has no IPv4 address", ifs[i].Name)
		}
		return &ifs[i], v4, nil
	}
	return nil, nil, fmt.Errorf("discover: no interface holds %s", ip)
}

// WhereSending finds where to announce a sender sending to to (HOST:PORT, or a
// multicast GROUP:PORT): the interface iface when one is given (a multicast sender's
// --iface), else the interface holding the address the kernel sends to from (found by
// connecting a UDP socket, which sends nothing). Loopback is refused, as for Where: a
// sender to this machine alone is nothing the LAN can watch.
func WhereSending(to string, iface *net.Interface) (*net.Interface, []net.IP, error) {
	if iface == nil {
		c, err := net.Dial("udp4", to)
		if err != nil {
			return nil, nil, fmt.Errorf("discover: no route to %s: %w", to, err)
		}
		ip := c.LocalAddr().(*net.UDPAddr).IP
		c.Close()
		return Where(ip.String())
	}
	if iface.Flags&net.FlagLoopback != 0 {
		return nil, nil, fmt.Errorf("discover: %s is %w", iface.Name, ErrLoopback)
	}
	if iface.Flags&net.FlagMulticast == 0 || iface.Flags&net.FlagUp == 0 {
		return nil, nil, fmt.Errorf("discover: %s is down or cannot multicast", iface.Name)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return nil, nil, fmt.Errorf("discover: %s: %w", iface.Name, err)
	}
	var v4 []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			v4 = append(v4, n.IP.To4())
		}
	}
	if len(v4) == 0 {
		return nil, nil, fmt.Errorf("discover: %s has no IPv4 address", iface.Name)
	}
	return iface, v4, nil
}

// logLogger turns the mDNS module's log lines into debug records of log.
func logLogger(log *slog.Logger) *stdlog.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return slog.NewLogLogger(log.Handler(), slog.LevelDebug)
}
