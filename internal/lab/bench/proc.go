package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// child is one process under test. Its CPU time comes from the kernel's accounting
// when it is reaped (wait4's rusage), so it counts every thread the process ran.
type child struct {
	name   string
	cmd    *exec.Cmd
	stderr limitedBuffer
	done   chan struct{} // closed when Wait returned
	err    error
}

// startChild starts argv; stdout and stdin stay as the caller set them on the
// returned command before start (see startChildWith).
func startChild(ctx context.Context, name string, argv []string, setup func(*exec.Cmd) error) (*child, error) {
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.cmd.Stderr = &c.stderr
	// An interrupt, not a kill, when the run's context ends: the peers then flush
	// and hrvs writes its --stats-json.
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(os.Interrupt) }
	c.cmd.WaitDelay = 5 * time.Second
	if setup != nil {
		if err := setup(c.cmd); err != nil {
			return nil, err
		}
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// stop interrupts the child, waits up to grace for it to exit, then kills it, and
// returns its CPU time.
func (c *child) stop(grace time.Duration) time.Duration {
	select {
	case <-c.done:
	default:
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.done:
		case <-time.After(grace):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	return c.cpu()
}

// wait waits for the child to exit by itself, up to limit, then stops it.
func (c *child) wait(limit time.Duration) (time.Duration, error) {
	select {
	case <-c.done:
	case <-time.After(limit):
		c.stop(2 * time.Second)
		return c.cpu(), fmt.Errorf("%s did not finish within %v", c.name, limit)
	}
	return c.cpu(), c.exitErr()
}

// exitErr is the child's failure with the start of its stderr, nil when it exited 0
// or because we interrupted it.
func (c *child) exitErr() error {
	if c.err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil
		}
	}
	return fmt.Errorf("%s: %w: %s", c.name, c.err, firstLine(c.stderr.String()))
}

func (c *child) cpu() time.Duration {
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

// freePort finds a port free for both UDP and TCP on loopback (hrvs uses both on one
// number). Another process may take it before we use it; the run then fails loudly.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("find a free port: none free for both UDP and TCP")
}

// udpCounter counts the UDP bytes and datagrams sent to one port, in the kernel,
// with an nftables counter on the output hook: the same measure for every system,
// costing the systems nothing. It needs root and the nft tool; without them the
// benchmark falls back to what each system reports about itself.
type udpCounter struct {
	table string
}

var nftCounterRE = regexp.MustCompile(`udp dport (\d+) counter packets (\d+) bytes (\d+)`)

func newUDPCounter(ctx context.Context) (*udpCounter, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("nft not found (apt-get install nftables)")
	}
	c := &udpCounter{table: fmt.Sprintf("hrvsbench_%d", os.Getpid())}
	if err := c.nft(ctx, "add table inet "+c.table); err != nil {
		return nil, err
	}
	if err := c.nft(ctx, "add chain inet "+c.table+" out { type filter hook output priority 0 ; policy accept ; }"); err != nil {
		c.close(ctx)
		return nil, err
	}
	return c, nil
}

func (c *udpCounter) nft(ctx context.Context, script string) error {
	out, err := exec.CommandContext(ctx, "nft", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft %s: %w: %s", script, err, firstLine(string(out)))
	}
	return nil
}

// watch starts counting datagrams to port.
func (c *udpCounter) watch(ctx context.Context, port int) error {
	if err := c.nft(ctx, "flush chain inet "+c.table+" out"); err != nil {
		return err
	}
	return c.nft(ctx, fmt.Sprintf("add rule inet %s out udp dport %d counter", c.table, port))
}

// read returns the UDP payload bytes (IP and UDP headers taken off) and datagrams
// sent to port since watch.
func (c *udpCounter) read(ctx context.Context, port int) (payload, datagrams int64, err error) {
	out, err := exec.CommandContext(ctx, "nft", "list chain inet "+c.table+" out").CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("nft list: %w: %s", err, firstLine(string(out)))
	}
	for _, m := range nftCounterRE.FindAllStringSubmatch(string(out), -1) {
		if p, _ := strconv.Atoi(m[1]); p != port {
			continue
		}
		pk, _ := strconv.ParseInt(m[2], 10, 64)
		by, _ := strconv.ParseInt(m[3], 10, 64)
		const ipUDPHeaders = 20 + 8
		return by - ipUDPHeaders*pk, pk, nil
	}
	return 0, 0, fmt.Errorf("nft: no counter for port %d", port)
}

func (c *udpCounter) close(ctx context.Context) {
	_ = c.nft(context.WithoutCancel(ctx), "delete table inet "+c.table)
}
