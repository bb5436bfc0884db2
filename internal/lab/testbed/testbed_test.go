package testbed_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/lab/testbed"
	"github.com/hrvs/hrvs/internal/testrig"
)

// Every datagram in these tests goes from one namespace of a bed to the other: sockets are
// opened with testbed.Bed.ListenUDP / testbed.Bed.DialUDP or by a child process started with testbed.Bed.Command.

// childEnv selects a helper mode when the test binary is re-executed inside a namespace.
const childEnv = "HRVS_TESTBED_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "blast" {
		os.Exit(blast(os.Args[len(os.Args)-3:]))
	}
	os.Exit(m.Run())
}

// blast sends 1200-byte datagrams to ADDR at BITS per second for DURATION, then exits.
// It refuses any address outside 10.231.0.0/16, the beds' range.
func blast(args []string) int {
	to, err := netip.ParseAddrPort(args[0])
	if err != nil || !netip.PrefixFrom(testbed.AddrBase, 16).Contains(to.Addr()) {
		fmt.Fprintln(os.Stderr, "blast: refusing destination", args[0])
		return 2
	}
	bits, _ := strconv.ParseFloat(args[1], 64)
	dur, _ := time.ParseDuration(args[2])
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		fmt.Fprintln(os.Stderr, "blast:", err)
		return 1
	}
	buf := make([]byte, 1200)
	gap := time.Duration(float64(len(buf)*8) / bits * float64(time.Second))
	t0 := time.Now()
	sent := 0
	for time.Since(t0) < dur {
		for time.Duration(sent)*gap < time.Since(t0) {
			binary.BigEndian.PutUint64(buf, uint64(sent))
			c.Write(buf) // a full tbf queue drops silently; errors are not the point here
			sent++
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println(sent)
	return 0
}

// received counts datagrams on c until none has come for quiet.
type received struct {
	n, bytes    int
	times       []time.Duration // arrival times since start
	sizes       []int
	first, last time.Time
}

func receive(t *testing.T, c *net.UDPConn, quiet time.Duration, done <-chan struct{}) received {
	t.Helper()
	var r received
	buf := make([]byte, 65536)
	start := time.Now()
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		if err != nil {
			select {
			case <-done:
				return r
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() && r.n == 0 {
				continue // the sender has not started yet
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			t.Fatal(err)
		}
		now := time.Now()
		if r.n == 0 {
			r.first = now
		}
		r.last = now
		r.n++
		r.bytes += n
		r.times = append(r.times, now.Sub(start))
		r.sizes = append(r.sizes, n)
	}
}

// sendPaced writes n datagrams of size bytes from c, pausing now and then so socket buffers
// do not overflow: losses must come from the rules under test only.
func sendPaced(t *testing.T, c *net.UDPConn, n, size int) {
	t.Helper()
	buf := make([]byte, size)
	for i := range n {
		binary.BigEndian.PutUint64(buf, uint64(i))
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(500 * time.Microsecond)
		}
	}
}

// pair opens a receiving socket in the receiver namespace and a sending one in the sender
// namespace aimed at it.
func pair(t *testing.T, b *testbed.Bed) (rx, tx *net.UDPConn) {
	t.Helper()
	rx, err := b.ListenUDP(testbed.Receiver, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close() })
	rx.SetReadBuffer(8 << 20)
	tx, err = b.DialUDP(testbed.Sender, rx.LocalAddr().(*net.UDPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Close() })
	return rx, tx
}

// count sends n datagrams of size bytes through the bed and returns how many arrived.
func count(t *testing.T, b *testbed.Bed, n, size int) int {
	t.Helper()
	rx, tx := pair(t, b)
	done := make(chan struct{})
	res := make(chan received, 1)
	go func() { res <- receive(t, rx, 100*time.Millisecond, done) }()
	sendPaced(t, tx, n, size)
	time.Sleep(150 * time.Millisecond)
	close(done)
	return (<-res).n
}

func nsList(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	return string(out)
}

func TestBedJoinsTwoNamespacesBothWays(t *testing.T) {
	b := testrig.Netns(t, "")
	if !b.Prefix().Contains(b.SenderAddr()) || !b.Prefix().Contains(b.ReceiverAddr()) || b.SenderAddr() == b.ReceiverAddr() {
		t.Fatalf("addresses %v and %v not two hosts of %v", b.SenderAddr(), b.ReceiverAddr(), b.Prefix())
	}
	if !netip.MustParsePrefix("10.231.0.0/16").Contains(b.SenderAddr()) {
		t.Fatalf("address %v outside 10.231.0.0/16", b.SenderAddr())
	}
	list := nsList(t)
	for _, s := range []testbed.Side{testbed.Sender, testbed.Receiver} {
		if !strings.Contains(list, b.Namespace(s)) {
			t.Errorf("ip netns list lacks %s:\n%s", b.Namespace(s), list)
		}
		if !strings.Contains(b.Namespace(s), fmt.Sprint(os.Getpid())) {
			t.Errorf("namespace %s does not carry the pid", b.Namespace(s))
		}
	}
	rx, tx := pair(t, b)
	if got := count(t, b, 200, 1000); got != 200 {
		t.Errorf("%d of 200 datagrams arrived with no loss set", got)
	}
	// And back: the receiver answers the sender.
	tx.Write([]byte("hello"))
	buf := make([]byte, 100)
	rx.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := rx.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "hello" || from.Addr() != b.SenderAddr() {
		t.Fatalf("receiver got %q from %v, %v", buf[:n], from, err)
	}
	rx.WriteToUDPAddrPort([]byte("back"), from)
	tx.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := tx.Read(buf); err != nil || string(buf[:n]) != "back" {
		t.Fatalf("sender got %q, %v", buf[:n], err)
	}
}

func TestCommandRunsInsideTheNamespace(t *testing.T) {
	b := testrig.Netns(t, "")
	out, err := b.Command(testbed.Receiver, "ip", "-o", "-4", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), b.ReceiverAddr().String()) || strings.Contains(string(out), b.SenderAddr().String()+"/") {
		t.Errorf("receiver namespace shows:\n%s", out)
	}
	if !strings.Contains(string(out), "lo ") || !strings.Contains(string(out), "veth-rx") {
		t.Errorf("lo or veth-rx missing:\n%s", out)
	}
}

func TestLossDropsAboutThatShare(t *testing.T) {
	b := testrig.Netns(t, "")
	const n, pct = 2000, 20
	if err := b.SetLoss(pct); err != nil {
		t.Fatal(err)
	}
	got := count(t, b, n, 500)
	p := pct / 100.0
	sigma := math.Sqrt(n * p * (1 - p))
	t.Logf("%d of %d arrived with %d%% loss", got, n, pct)
	if d := math.Abs(float64(n-got) - n*p); d > 5*sigma {
		t.Errorf("lost %d of %d, want %.0f ± %.0f", n-got, n, n*p, 5*sigma)
	}

	t.Run("a fragmented datagram is lost whole once", func(t *testing.T) {
		// 4000 bytes are 3 fragments on the veth's 1500-byte MTU; the input hook sees the
		// reassembled datagram, so it still survives with 80%.
		got := count(t, b, 500, 4000)
		if math.Abs(float64(got)-400) > 5*math.Sqrt(500*0.16) {
			t.Errorf("%d of 500 fragmented datagrams arrived, want about 400", got)
		}
	})
	t.Run("loss 0 removes the rule", func(t *testing.T) {
		if err := b.SetLoss(0); err != nil {
			t.Fatal(err)
		}
		if got := count(t, b, 500, 500); got != 500 {
			t.Errorf("%d of 500 arrived after removing the loss", got)
		}
		out, _ := b.Command(testbed.Receiver, "nft", "list", "ruleset").CombinedOutput()
		if strings.Contains(string(out), "numgen") {
			t.Errorf("rules left after SetLoss(0):\n%s", out)
		}
	})
	t.Run("out of range is refused", func(t *testing.T) {
		if b.SetLoss(101) == nil || b.SetLoss(-1) == nil {
			t.Error("accepted a loss outside 0..100")
		}
	})
}

func TestPacketLossHitsEachFragment(t *testing.T) {
	b := testrig.Netns(t, "")
	if err := b.SetPacketLoss(10); err != nil {
		t.Fatal(err)
	}
	const n = 400
	got := count(t, b, n, 4000) // 3 fragments: 0.9^3 = 72.9% survive
	want := n * math.Pow(0.9, 3)
	sd := math.Sqrt(want * (1 - want/n))
	t.Logf("%d of %d arrived, want about %.0f", got, n, want)
	if math.Abs(float64(got)-want) > 5*sd {
		t.Errorf("%d of %d three-fragment datagrams arrived with 10%% packet loss, want %.0f ± %.0f", got, n, want, 5*sd)
	}
}

func TestRateCapsThroughput(t *testing.T) {
	b := testrig.Netns(t, "")
	const rate = 5_000_000
	if err := b.SetRate(rate); err != nil {
		t.Fatal(err)
	}
	out, err := b.Command(testbed.Sender, "tc", "qdisc", "show", "dev", b.Device(testbed.Sender)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "tbf") || !strings.Contains(string(out), "5Mbit") {
		t.Fatalf("qdisc: %s %v", out, err)
	}
	rx, err := b.ListenUDP(testbed.Receiver, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	rx.SetReadBuffer(8 << 20)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	to := netip.AddrPortFrom(b.ReceiverAddr(), uint16(rx.LocalAddr().(*net.UDPAddr).Port))
	// Offer twice the cap for a second from a child process in the sender namespace.
	child := b.Command(testbed.Sender, exe, "-test.run=^$", to.String(), "10000000", "1s")
	child.Env = append(os.Environ(), childEnv+"=blast")
	child.Stderr = os.Stderr
	var sentOut strings.Builder
	child.Stdout = &sentOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	res := make(chan received, 1)
	go func() { res <- receive(t, rx, 200*time.Millisecond, done) }()
	if err := child.Wait(); err != nil {
		t.Fatalf("sender child: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the queue drains
	close(done)
	r := <-res
	if r.n < 100 {
		t.Fatalf("only %d datagrams arrived", r.n)
	}
	// Leave out the first 50 datagrams (the token bucket's burst) and count whole Ethernet
	// frames, as tbf does: payload + 8 UDP + 20 IP + 14 Ethernet.
	const skip = 50
	wire := 0
	for _, sz := range r.sizes[skip+1:] {
		wire += sz + 42
	}
	span := r.times[len(r.times)-1] - r.times[skip]
	bps := float64(wire) * 8 / span.Seconds()
	t.Logf("sent %s datagrams, %d arrived; %.2f Mbit/s on the wire over %v", strings.TrimSpace(sentOut.String()), r.n, bps/1e6, span)
	if bps < rate*0.9 || bps > rate*1.1 {
		t.Errorf("throughput %.2f Mbit/s, want 5 ± 10%%", bps/1e6)
	}

	t.Run("rate 0 removes the cap", func(t *testing.T) {
		if err := b.SetRate(0); err != nil {
			t.Fatal(err)
		}
		out, _ := b.Command(testbed.Sender, "tc", "qdisc", "show", "dev", b.Device(testbed.Sender)).CombinedOutput()
		if strings.Contains(string(out), "tbf") {
			t.Errorf("tbf left after SetRate(0): %s", out)
		}
		if err := b.SetRate(0); err != nil {
			t.Errorf("removing the cap twice: %v", err)
		}
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	testrig.RequireNetns(t)
	b, err := testbed.New(context.Background(), "close")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() }) // in case a check below fails first
	b.SetLoss(5)
	b.SetRate(20_000_000)
	sleeper := b.Command(testbed.Receiver, "sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	sleeper.Wait()
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("a command left running held Close for %v", d)
	}
	list := nsList(t)
	for _, s := range []testbed.Side{testbed.Sender, testbed.Receiver} {
		if strings.Contains(list, b.Namespace(s)) {
			t.Errorf("%s still listed after Close:\n%s", b.Namespace(s), list)
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.SetLoss(5); err == nil {
		t.Error("SetLoss on a closed bed succeeded")
	}
}

func TestFailedSetupRemovesWhatItMade(t *testing.T) {
	testrig.RequireNetns(t)
	defer func() { testbed.SetFailAfter(0) }()
	prefix := fmt.Sprintf("hrvs-partial-%d-", os.Getpid())
	for step := 1; step <= 5; step++ {
		testbed.SetFailAfter(step)
		b, err := testbed.New(context.Background(), "partial")
		if err == nil {
			b.Close()
			t.Fatalf("step %d: testbed.New succeeded despite the injected failure", step)
		}
		if !strings.Contains(err.Error(), "injected") {
			t.Fatalf("step %d: %v", step, err)
		}
		ents, _ := os.ReadDir(testbed.NetnsDir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				t.Errorf("after a failure at step %d, %s is left", step, e.Name())
				testbed.DeleteNS("ip", e.Name())
			}
		}
	}
	// A cancelled context fails too, and cleans up just the same.
	testbed.SetFailAfter(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b, err := testbed.New(ctx, "partial"); err == nil {
		b.Close()
		t.Error("testbed.New with a cancelled context succeeded")
	}
	if strings.Contains(nsList(t), prefix) {
		t.Errorf("cancelled setup left namespaces:\n%s", nsList(t))
	}
}

func TestSweepRemovesBedsOfDeadProcesses(t *testing.T) {
	testrig.RequireNetns(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("hrvs-sweep-%d-1-rx", dead.Process.Pid)
	live := fmt.Sprintf("hrvs-sweep-%d-99-rx", os.Getpid())
	for _, n := range []string{name, live} {
		if out, err := exec.Command("ip", "netns", "add", n).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		t.Cleanup(func() { testbed.DeleteNS("ip", n) })
	}
	testbed.Sweep()
	if _, err := os.Stat(filepath.Join(testbed.NetnsDir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s of a dead process survived testbed.Sweep", name)
	}
	if _, err := os.Stat(filepath.Join(testbed.NetnsDir, live)); err != nil {
		t.Errorf("testbed.Sweep removed %s of a live process", live)
	}
}
