// Package testbed builds a two-host network inside Linux network namespaces for tests and
// benchmarks: a sender and a receiver namespace joined by a veth pair, with random loss
// (nftables) and a bandwidth cap (tc tbf) that can be switched on. It needs root, iproute2
// and nftables; delay, jitter, reordering and duplication come from internal/lab/relay instead,
// because the kernel here has no tc netem.
//
// Traffic only ever flows between the two namespaces a Bed created, never to the host's
// network: use Bed.Do, Bed.ListenUDP, Bed.DialUDP or Bed.Command to open sockets inside them.
package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Side is one end of a bed.
type Side int

const (
	Sender   Side = iota // namespace "<name>-tx": where the sender runs; the rate cap sits on its egress
	Receiver             // namespace "<name>-rx": where the receiver runs; loss happens on its ingress
)

func (s Side) String() string {
	if s == Sender {
		return "sender"
	}
	return "receiver"
}

// suffix is the namespace suffix and dev the veth name inside each namespace.
var (
	suffix = [2]string{"tx", "rx"}
	devs   = [2]string{"veth-tx", "veth-rx"}
)

// netnsDir is where `ip netns add` keeps its named namespaces.
const netnsDir = "/run/netns"

// addrBase is the private /16 the beds' /30 links are carved from.
var addrBase = netip.MustParseAddr("10.231.0.0")

// nftTable is the nftables table SetLoss and SetPacketLoss own in the receiver namespace.
const nftTable = "hrvs_impair"

// Defaults for SetRate; see SetRateLimit.
const (
	DefaultRateLatency = 50 * time.Millisecond
	minRateBurst       = 16 << 10
)

// ErrUnavailable is wrapped by every error that means "this machine cannot run a bed": not
// root, a tool missing, or not Linux.
var ErrUnavailable = errors.New("testbed: network namespaces unavailable")

// Bed is a sender and a receiver namespace joined by a veth pair. Close removes both.
type Bed struct {
	base   string // "hrvs-<name>-<pid>-<n>"
	ns     [2]string
	addr   [2]netip.Addr
	prefix netip.Prefix
	tools  tools

	mu         sync.Mutex
	loss       int // percent of UDP datagrams dropped on the receiver's input
	packetLoss int // percent of UDP packets (fragments too) dropped before reassembly
	rateSet    bool
	cmds       []*exec.Cmd
	closed     bool
}

type tools struct{ ip, nft, tc string }

var seq atomic.Int64

// failAfter makes New fail after that many setup steps; tests use it to check cleanup.
var failAfter int

// Check reports why beds cannot be made here (wrapping ErrUnavailable), or nil.
func Check() error {
	_, err := findTools(os.Geteuid(), exec.LookPath)
	return err
}

func findTools(euid int, look func(string) (string, error)) (tools, error) {
	var problems []string
	if !onLinux {
		problems = append(problems, "needs Linux")
	}
	if euid != 0 {
		problems = append(problems, fmt.Sprintf("needs root (running as uid %d)", euid))
	}
	find := func(name, pkg string) string {
		if p, err := look(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/sbin"} { // PATH may lack the sbin directories
			p := filepath.Join(dir, name)
			if _, err := look(p); err == nil {
				return p
			}
		}
		problems = append(problems, fmt.Sprintf("%q not found (apt-get install %s)", name, pkg))
		return ""
	}
	t := tools{ip: find("ip", "iproute2"), nft: find("nft", "nftables"), tc: find("tc", "iproute2")}
	if len(problems) > 0 {
		return tools{}, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(problems, "; "))
	}
	return t, nil
}

// New creates the namespaces "hrvs-<name>-<pid>-<n>-tx" and "...-rx" (name cleaned to letters,
// digits and '_'; pid and a counter keep parallel runs apart), a veth pair between them with a
// private /30 in 10.231.0.0/16, and brings every link up, loopback included. On any failure it
// removes whatever it had made. It first removes beds left behind by processes that died.
func New(ctx context.Context, name string) (*Bed, error) {
	t, err := findTools(os.Geteuid(), exec.LookPath)
	if err != nil {
		return nil, err
	}
	Sweep()
	n := seq.Add(1)
	pid := os.Getpid()
	b := &Bed{base: fmt.Sprintf("hrvs-%s-%d-%d", cleanName(name), pid, n), tools: t}
	for s := range 2 {
		b.ns[s] = b.base + "-" + suffix[s]
	}
	// 16384 /30s in the /16; namespaces are isolated, so a clash between beds would be harmless.
	block := uint32((pid*64 + int(n)) % 16384)
	base4 := addrBase.As4()
	first := uint32(base4[0])<<24 | uint32(base4[1])<<16 | block<<2
	for s := range 2 {
		v := first + 1 + uint32(s)
		b.addr[s] = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	b.prefix = netip.PrefixFrom(b.addr[0], 30).Masked()

	steps := []func() error{
		func() error { return b.ip(ctx, "netns", "add", b.ns[Sender]) },
		func() error { return b.ip(ctx, "netns", "add", b.ns[Receiver]) },
		func() error {
			// gso_max_segs 1: a UDP GSO run leaves the veth as separate datagrams, as it
			// leaves a real NIC, so the loss the impairment applies per packet falls on
			// single datagrams, not on a whole run at once.
			return b.ip(ctx, "link", "add", "name", devs[Sender], "netns", b.ns[Sender], "gso_max_segs", "1", "type", "veth",
				"peer", "name", devs[Receiver], "netns", b.ns[Receiver], "gso_max_segs", "1")
		},
	}
	for s := range 2 {
		steps = append(steps, func() error {
			script := fmt.Sprintf("addr add %s/30 dev %s\nlink set %s up\nlink set lo up\n", b.addr[s], devs[s], devs[s])
			return b.runIn(ctx, strings.NewReader(script), b.tools.ip, "-n", b.ns[s], "-batch", "-")
		})
	}
	for i, step := range steps {
		err := step()
		if err == nil && failAfter > 0 && i+1 >= failAfter {
			err = fmt.Errorf("testbed: injected failure after step %d", i+1)
		}
		if err != nil {
			if cerr := b.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return nil, err
		}
	}
	return b, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_]+`)

func cleanName(name string) string {
	s := unsafeChars.ReplaceAllString(name, "_")
	if len(s) > 40 {
		s = s[:40]
	}
	if s == "" {
		s = "bed"
	}
	return s
}

// Namespace is the name of one side's namespace, for `ip netns exec`.
func (b *Bed) Namespace(s Side) string { return b.ns[s] }

// Device is the veth interface's name inside one side's namespace.
func (b *Bed) Device(s Side) string { return devs[s] }

// Addr is one side's IPv4 address on the veth link.
func (b *Bed) Addr(s Side) netip.Addr { return b.addr[s] }

// SenderAddr is the sender namespace's address.
func (b *Bed) SenderAddr() netip.Addr { return b.addr[Sender] }

// ReceiverAddr is the receiver namespace's address.
func (b *Bed) ReceiverAddr() netip.Addr { return b.addr[Receiver] }

// Prefix is the /30 the two addresses share.
func (b *Bed) Prefix() netip.Prefix { return b.prefix }

// SetLoss drops pct percent (0..100) of the UDP datagrams arriving at the receiver over the
// veth, at random: `numgen random mod 100 < pct drop` on the input hook, after IP reassembly,
// so a fragmented datagram is lost whole with probability pct. 0 removes the rule.
// Nothing on the sender side notices; its writes succeed.
func (b *Bed) SetLoss(pct int) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("testbed: loss %d%% is outside 0..100", pct)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loss = pct
	return b.applyNFT()
}

// SetPacketLoss drops pct percent of the UDP IP packets arriving at the receiver over the veth
// before reassembly, so each fragment of a large datagram is at risk on its own, as on a real
// link (a 60 KB datagram in 41 fragments at 1% survives with 0.99^41 = 66%). Lost fragments
// also hold reassembly memory for up to 30 s (net.ipv4.ipfrag_time), as on a real host. It is
// a prerouting chain at priority -450, ahead of defragmentation (-400). 0 removes the rule.
func (b *Bed) SetPacketLoss(pct int) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("testbed: packet loss %d%% is outside 0..100", pct)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.packetLoss = pct
	return b.applyNFT()
}

// applyNFT replaces the bed's nftables table atomically with one holding the current rules.
func (b *Bed) applyNFT() error {
	if b.closed {
		return errors.New("testbed: bed is closed")
	}
	var script strings.Builder
	// Adding then deleting makes the delete succeed whether or not the table existed; nft
	// applies the whole script as one transaction.
	fmt.Fprintf(&script, "add table inet %s\ndelete table inet %s\n", nftTable, nftTable)
	if b.loss > 0 || b.packetLoss > 0 {
		fmt.Fprintf(&script, "table inet %s {\n", nftTable)
		if b.loss > 0 {
			fmt.Fprintf(&script, "  chain input {\n    type filter hook input priority 0; policy accept;\n"+
				"    iifname %q meta l4proto udp numgen random mod 100 < %d drop\n  }\n", devs[Receiver], b.loss)
		}
		if b.packetLoss > 0 {
			fmt.Fprintf(&script, "  chain pre {\n    type filter hook prerouting priority -450; policy accept;\n"+
				"    iifname %q meta l4proto udp numgen random mod 100 < %d drop\n  }\n", devs[Receiver], b.packetLoss)
		}
		script.WriteString("}\n")
	}
	return b.runIn(context.Background(), strings.NewReader(script.String()),
		b.tools.ip, "netns", "exec", b.ns[Receiver], b.tools.nft, "-f", "-")
}

// SetRate caps the sender's egress at bitsPerSec with a tc tbf qdisc, using a burst of 10 ms at
// the rate (at least 16 KiB, so a burst always holds a full-size frame plus change) and a
// queue of DefaultRateLatency (50 ms); packets beyond that queue are dropped by the kernel.
// tbf counts whole Ethernet frames: a 1200-byte UDP payload costs 1242 bytes. 0 removes the cap.
func (b *Bed) SetRate(bitsPerSec int64) error {
	return b.SetRateLimit(bitsPerSec, 0, 0)
}

// SetRateLimit is SetRate with the token bucket size in bytes and the queue's length in time
// given explicitly (0 for the defaults).
func (b *Bed) SetRateLimit(bitsPerSec int64, burst int, latency time.Duration) error {
	if bitsPerSec < 0 || burst < 0 || latency < 0 {
		return errors.New("testbed: negative rate, burst or latency")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("testbed: bed is closed")
	}
	ctx := context.Background()
	if bitsPerSec == 0 {
		if !b.rateSet {
			return nil
		}
		b.rateSet = false
		return b.run(ctx, b.tools.tc, "-n", b.ns[Sender], "qdisc", "del", "dev", devs[Sender], "root")
	}
	if burst == 0 {
		burst = max(int(bitsPerSec/8/100), minRateBurst)
	}
	if latency == 0 {
		latency = DefaultRateLatency
	}
	err := b.run(ctx, b.tools.tc, "-n", b.ns[Sender], "qdisc", "replace", "dev", devs[Sender], "root", "tbf",
		"rate", strconv.FormatInt(bitsPerSec, 10)+"bit", "burst", strconv.Itoa(burst),
		"latency", strconv.FormatInt(latency.Microseconds(), 10)+"us")
	if err == nil {
		b.rateSet = true
	}
	return err
}

// Command returns a command that runs name inside one side's namespace (`ip netns exec`).
// Close kills the ones still running.
func (b *Bed) Command(s Side, name string, args ...string) *exec.Cmd {
	return b.CommandContext(context.Background(), s, name, args...)
}

// CommandContext is Command with a context that kills the command when done.
func (b *Bed) CommandContext(ctx context.Context, s Side, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.tools.ip, append([]string{"netns", "exec", b.ns[s], name}, args...)...)
	b.mu.Lock()
	b.cmds = append(b.cmds, cmd)
	b.mu.Unlock()
	return cmd
}

// ListenUDP opens a UDP socket inside one side's namespace on that side's address.
func (b *Bed) ListenUDP(s Side, port int) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := b.Do(s, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.addr[s], uint16(port))))
		return err
	})
	return c, err
}

// DialUDP opens a UDP socket inside one side's namespace connected to the other side's
// address at port. It never reaches outside the bed.
func (b *Bed) DialUDP(s Side, port int) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := b.Do(s, func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.addr[1-s], uint16(port))))
		return err
	})
	return c, err
}

// DialTCP connects from inside one side's namespace to addr (an address in that namespace,
// such as its loopback, or the other side's). Its signature fits relay.Config.DialTCP.
func (b *Bed) DialTCP(ctx context.Context, s Side, addr string) (net.Conn, error) {
	var c net.Conn
	err := b.Do(s, func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// Close kills commands from Command that are still running and deletes both namespaces,
// which removes the veth pair, the nftables table and the qdisc with them. It removes
// whatever exists after a partial setup and is safe to call more than once.
func (b *Bed) Close() error {
	b.mu.Lock()
	b.closed = true
	cmds := b.cmds
	b.cmds = nil
	b.mu.Unlock()
	for _, c := range cmds {
		if c.Process != nil && c.ProcessState == nil {
			c.Process.Kill() // an already finished process just reports so
		}
	}
	var errs []error
	for s := range 2 {
		if err := deleteNS(b.tools.ip, b.ns[s]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func deleteNS(ip, name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	out, err := exec.Command(ip, "netns", "del", name).CombinedOutput()
	if err != nil {
		if _, serr := os.Stat(filepath.Join(netnsDir, name)); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("testbed: ip netns del %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

var leftover = regexp.MustCompile(`^hrvs-.+-(\d+)-\d+-(tx|rx)$`)

// Sweep deletes beds whose creating process no longer exists (a test killed before its
// cleanup ran). New calls it; it only touches names this package makes.
func Sweep() {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	ip, err := findTools(0, exec.LookPath)
	if err != nil {
		return
	}
	for _, e := range ents {
		m := leftover.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid <= 0 || pidAlive(pid) {
			continue
		}
		deleteNS(ip.ip, e.Name())
	}
}

func (b *Bed) ip(ctx context.Context, args ...string) error {
	return b.run(ctx, b.tools.ip, args...)
}

func (b *Bed) run(ctx context.Context, prog string, args ...string) error {
	return b.runIn(ctx, nil, prog, args...)
}

func (b *Bed) runIn(ctx context.Context, stdin *strings.Reader, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("testbed: %s %s: %w: %s", filepath.Base(prog), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
