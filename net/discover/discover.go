// Package discover announces HRVS receivers on the LAN and finds them, with multicast
// DNS (RFC 6762) service discovery (DNS-SD, RFC 6763) under the service type _hrvs._udp,
// so a sender can be pointed at a name instead of an address. It uses
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

// Service is the DNS-SD service type HRVS instances announce (RFC 6763 §7: the
// protocol's name and _udp, as the video travels over UDP).
const Service = "_hrvs._udp"

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
	// ErrBadName is wrapped by CheckName for a name that cannot be announced.
	ErrBadName = errors.New("bad instance name")
)

// SeveralError is Pick's error when "auto" finds more than one receiver: the user must
// name one.
type SeveralError struct{ Entries []Entry }

func (e *SeveralError) Error() string {
	names := make([]string, len(e.Entries))
	for i, en := range e.Entries {
		names[i] = en.String()
	}
	return fmt.Sprintf("%d receivers answered: %s", len(e.Entries), strings.Join(names, ", "))
}

// Entry is one announced instance.
type Entry struct {
	Instance string         // the instance name, like "studio"
	Host     string         // the target host name of its SRV record, like "studio.local."
	Addr     netip.AddrPort // its IPv4 address and port
	TXT      []string       // its TXT record as received
	Info     Info           // the TXT record decoded
}

func (e Entry) String() string { return e.Instance + " (" + e.Addr.String() + ")" }

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
	host := cfg.Instance + "." + domain
	zone, err := mdns.NewMDNSService(cfg.Instance, Service, domain, host, cfg.Port, cfg.IPs, cfg.Info.TXT())
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
	Wait  time.Duration  // how long to listen for answers; 0 means DefaultWait
	Iface *net.Interface // nil for the kernel's default multicast interface
	Log   *slog.Logger   // may be nil
}

// Browse asks the LAN for every _hrvs._udp instance and returns those whose answers
// were complete (an address, a port and an HRVS TXT record) within cfg.Wait, sorted by
// name, each once. Answers whose TXT record is not an HRVS one are logged and left out.
func Browse(ctx context.Context, cfg BrowseConfig) ([]Entry, error) {
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The client sends each complete entry once, without blocking: room for all.
	found := make(chan *mdns.ServiceEntry, 256)
	err := mdns.QueryContext(ctx, &mdns.QueryParam{
		Service: Service, Domain: "local", Timeout: cfg.Wait, Interface: cfg.Iface,
		Entries: found, DisableIPv6: true, Logger: logLogger(cfg.Log),
	})
	if err != nil {
		return nil, fmt.Errorf("discover: asking for %s: %w", Service, err)
	}
	close(found)
	suffix := "." + Service + "." + domain
	var out []Entry
	for se := range found {
		name, ok := strings.CutSuffix(se.Name, suffix)
		ip, ipok := netip.AddrFromSlice(se.AddrV4.To4())
		if !ok || !ipok || se.Port < 1 || se.Port > 65535 {
			log.Debug("discover: an answer that is not an HRVS instance's", "name", se.Name, "addr", se.AddrV4, "port", se.Port)
			continue
		}
		info, err := ParseTXT(se.InfoFields)
		if err != nil {
			log.Warn("discover: an instance with a TXT record we cannot read", "name", name, "err", err)
			continue
		}
		if slices.ContainsFunc(out, func(e Entry) bool { return e.Instance == name }) {
			continue
		}
		out = append(out, Entry{Instance: name, Host: se.Host, Addr: netip.AddrPortFrom(ip, uint16(se.Port)),
			TXT: slices.Clone(se.InfoFields), Info: info})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Instance, b.Instance) })
	return out, nil
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
		names := make([]string, len(rx))
		for i, e := range rx {
			names[i] = e.String()
		}
		return Entry{}, fmt.Errorf("%w: %q (heard: %s)", ErrNotFound, name, strings.Join(names, ", "))
	}
	switch len(rx) {
	case 0:
		return Entry{}, ErrNone
	case 1:
		return rx[0], nil
	}
	return Entry{}, &SeveralError{Entries: rx}
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
		return nil, nil, fmt.Errorf("discover: %s is loopback, out of the LAN's reach", ip)
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

// logLogger turns the mDNS module's log lines into debug records of log.
func logLogger(log *slog.Logger) *stdlog.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return slog.NewLogLogger(log.Handler(), slog.LevelDebug)
}
