package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/internal/lab/testbed"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/discover"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// syncBuffer is a bytes.Buffer a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSendToANameOrAuto(t *testing.T) {
	rx := func(name, addr string) discover.Entry {
		return discover.Entry{Instance: name, Addr: netip.MustParseAddrPort(addr), Info: discover.Info{Role: discover.RoleReceiver, Version: 3}}
	}
	studio, lab := rx("studio", "10.0.0.2:5000"), rx("lab", "10.0.0.3:6000")
	cases := []struct {
		name  string
		to    string
		heard []discover.Entry
		want  string // the address resolved, "" for an error
		usage bool   // the error is a usage error (exit 2)
		says  string
	}{
		{"an address is kept without asking the LAN", "192.0.2.1:5000", nil, "192.0.2.1:5000", false, ""},
		{"auto with no receiver fails", "auto", nil, "", false, "no receiver answered"},
		{"auto with one receiver picks it", "auto", []discover.Entry{studio}, "10.0.0.2:5000", false, ""},
		{"auto with two receivers lists them and exits 2", "auto", []discover.Entry{lab, studio}, "", true, "2 receivers answered: lab (10.0.0.3:6000), studio (10.0.0.2:5000); name one with --to NAME"},
		{"a name picks its receiver among several", "lab", []discover.Entry{lab, studio}, "10.0.0.3:6000", false, ""},
		{"a name no receiver has fails", "garage", []discover.Entry{studio}, "", false, `"garage" (heard: studio (10.0.0.2:5000))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			asked := false
			browse := func(context.Context) ([]discover.Entry, error) { asked = true; return c.heard, nil }
			got, err := resolveTo(context.Background(), c.to, browse, slog.New(slog.DiscardHandler))
			if isName(c.to) != asked {
				t.Errorf("asked the LAN: %v, for --to %s", asked, c.to)
			}
			if c.want != "" {
				if err != nil || got != c.want {
					t.Fatalf("resolveTo(%s) = %q, %v; want %s", c.to, got, err, c.want)
				}
				return
			}
			var ue *cli.UsageError
			if err == nil || errors.As(err, &ue) != c.usage || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("resolveTo(%s) error %v; want usage error %v saying %q", c.to, err, c.usage, c.says)
			}
		})
	}
}

func TestRecvListenANameOrAuto(t *testing.T) {
	tx := func(name, group string) discover.Entry {
		e := discover.Entry{Instance: name, Addr: netip.MustParseAddrPort("10.0.0.9:40000"), Info: discover.Info{Role: discover.RoleSender, Version: 3}}
		if group != "" {
			e.Info.Group = netip.MustParseAddrPort(group)
		}
		return e
	}
	camera, stage, desk := tx("camera", "239.1.2.3:5000"), tx("stage", "239.1.2.4:6000"), tx("desk", "")
	cases := []struct {
		name  string
		heard []discover.Entry
		ask   string
		want  string // the group joined, "" for a usage error
		says  string
	}{
		{"auto with one multicast sender joins its group", []discover.Entry{desk, camera}, "auto", "239.1.2.3:5000", ""},
		{"a name joins that sender's group among several", []discover.Entry{camera, stage}, "stage", "239.1.2.4:6000", ""},
		{"auto with two multicast senders lists them and exits 2", []discover.Entry{camera, stage}, "auto", "",
			"--listen auto: 2 multicast senders answered: camera (group 239.1.2.3:5000), stage (group 239.1.2.4:6000); name one with --listen NAME"},
		{"auto with none exits 2", nil, "auto", "", "--listen auto: no multicast sender answered"},
		{"a unicast sender's name exits 2 saying why", []discover.Entry{desk}, "desk", "",
			`--listen desk: sender "desk": it sends to one receiver, not to a multicast group; only the receiver it sends to gets its stream`},
		{"an unknown name exits 2 listing the senders heard", []discover.Entry{camera}, "garage", "",
			`--listen garage: no sender of that name answered: "garage" (heard: camera (group 239.1.2.3:5000))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			browse := func(context.Context) ([]discover.Entry, error) { return c.heard, nil }
			got, err := resolveListen(context.Background(), c.ask, browse, slog.New(slog.DiscardHandler))
			if c.want != "" {
				if err != nil || got.Info.Group.String() != c.want {
					t.Fatalf("resolveListen(%s) = %v, %v; want the group %s", c.ask, got, err, c.want)
				}
				return
			}
			var ue *cli.UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.says) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("resolveListen(%s) error %v; want one line, a usage error saying %q", c.ask, err, c.says)
			}
		})
	}
}

func TestListShowsBothRolesInOneTable(t *testing.T) {
	found := []discover.Entry{
		{Instance: "studio", Addr: netip.MustParseAddrPort("10.0.0.2:5000"),
			Info: discover.Info{Role: discover.RoleReceiver, Version: 3, MaxW: 7680, MaxH: 4320, Key: "ab12"}},
		{Instance: "camera", Addr: netip.MustParseAddrPort("10.0.0.3:41000"),
			Info: discover.Info{Role: discover.RoleSender, Version: 3, W: 3840, H: 2160, FPS: 29.97, Group: netip.MustParseAddrPort("239.1.2.3:5000")}},
		{Instance: "desk", Addr: netip.MustParseAddrPort("10.0.0.4:9"),
			Info: discover.Info{Role: discover.RoleSender, Version: 3, Key: "cd34"}},
	}
	var out bytes.Buffer
	if err := printEntries(&out, found); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"NAME", "ROLE", "ADDRESS", "PROTOCOL", "SIZE", "KEY", "FPS", "GROUP"},
		{"studio", "recv", "10.0.0.2:5000", "3", "7680x4320", "ab12", "-", "-"},
		{"camera", "send", "10.0.0.3:41000", "3", "3840x2160", "none", "29.97", "239.1.2.3:5000"},
		{"desk", "send", "10.0.0.4", "3", "-", "cd34", "-", "-"},
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		t.Run("line "+strconv.Itoa(i)+" holds "+w[0]+"'s columns in the old places", func(t *testing.T) {
			if got := strings.Fields(lines[i]); !slices.Equal(got, w) {
				t.Errorf("line %q, want the columns %q", lines[i], w)
			}
			if i > 0 && strings.Index(lines[i], w[2]) != strings.Index(lines[0], "ADDRESS") {
				t.Errorf("the address of %q is not under the ADDRESS header:\n%s", lines[i], out.String())
			}
		})
	}
}

func TestASenderOverLoopbackIsNotAnnounced(t *testing.T) {
	var log syncBuffer
	stop := announceSender("127.0.0.1:5000", "", nil, 640, 480, 30, nil, "desk",
		slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	stop()
	if out := log.String(); !strings.Contains(out, "not announced on the LAN") || !strings.Contains(out, "loopback") || strings.Contains(out, "level=WARN") {
		t.Fatalf("the log says %q; want a debug line: not announced, loopback", out)
	}
}

func TestDiscoveryFlagMistakesExitTwo(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a receiver name with a dot", []string{"recv", "--duration", "2s", "--listen", "127.0.0.1:0", "--name", "a.b"}, `--name: bad instance name "a.b"`},
		{"a send target that is neither an address nor a name", []string{"send", "--duration", "2s", "--to", "my screen"}, `--to "my screen": want HOST:PORT, auto or a receiver's name`},
		{"list waiting for nothing", []string{"list", "--wait", "0s"}, "--wait 0s: want above 0"},
		{"list waiting too long", []string{"list", "--wait", "2m"}, "--wait 2m0s: want above 0 and at most 1m0s"},
		{"list of a role that is neither", []string{"list", "--role", "relay"}, `--role "relay": want recv, send or all`},
		{"a sender name with a space", []string{"send", "--duration", "2s", "--to", "127.0.0.1:9", "--name", "my camera"}, `--name: bad instance name "my camera"`},
		{"a listen address that is neither an address nor a name", []string{"recv", "--duration", "2s", "--listen", "my camera"},
			`--listen "my camera": want HOST:PORT, a multicast GROUP:PORT, auto or a multicast sender's name`},
		{"joining a sender by name on an interface that does not exist", []string{"recv", "--duration", "2s", "--listen", "camera", "--iface", "nosuch0"},
			"--iface nosuch0: no such network interface"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q: want 2 and %q", code, stderr, c.want)
			}
		})
	}
}

// TestListFindsAReceiverInAnotherNamespace runs hrvs recv --name studio in one network
// namespace and hrvs list, and send's resolution of --to studio and --to auto, in the
// other: mDNS only ever travels over the test's own veth pair.
func TestListFindsAReceiverInAnotherNamespace(t *testing.T) {
	b := testrig.Netns(t, "")
	for _, s := range []testbed.Side{testbed.Sender, testbed.Receiver} {
		// A LAN host reaches 224.0.0.251 through its default route; here the veth is the LAN.
		if out, err := b.Command(s, "ip", "route", "add", "224.0.0.0/4", "dev", b.Device(s)).CombinedOutput(); err != nil {
			t.Fatalf("adding a multicast route in the %v namespace: %v: %s", s, err, out)
		}
	}
	keyFile := filepath.Join(t.TempDir(), "k")
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.WriteKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	listen := netip.AddrPortFrom(b.ReceiverAddr(), 5000).String()
	ctx, cancel := context.WithCancel(context.Background())
	var rxLog syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- b.Do(testbed.Receiver, func() error {
			log := slog.New(slog.NewTextHandler(&rxLog, nil))
			code := program().Main(ctx, []string{"recv", "--listen", listen, "--name", "studio", "--sink", "null", "--key", keyFile},
				nil, &rxLog, &rxLog, log)
			if code != 0 {
				return fmt.Errorf("recv exit %d", code)
			}
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%v: %s", err, rxLog.String())
		}
	}()

	want := strings.Join([]string{"studio", "recv", listen, strconv.Itoa(wire.Version), "7680x4320", key.Fingerprint(), "-", "-"}, " ")
	shows := func(out string) bool {
		for _, line := range strings.Split(out, "\n") {
			if strings.Join(strings.Fields(line), " ") == want {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var stdout, stderr bytes.Buffer
		var code int
		b.Do(testbed.Sender, func() error {
			code = program().Main(context.Background(), []string{"list", "--wait", "1s"}, nil, &stdout, &stderr, slog.New(slog.DiscardHandler))
			return nil
		})
		if code != 0 {
			t.Fatalf("list: exit %d: %s", code, stderr.String())
		}
		if shows(stdout.String()) {
			if !strings.HasPrefix(stdout.String(), "NAME") {
				t.Errorf("list printed no header:\n%s", stdout.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list never showed %q:\n%s%s\nrecv's log:\n%s", want, stdout.String(), stderr.String(), rxLog.String())
		}
	}
	for _, to := range []string{"studio", "auto"} {
		t.Run("send --to "+to+" resolves to the receiver", func(t *testing.T) {
			var got string
			var err error
			b.Do(testbed.Sender, func() error {
				log := slog.New(slog.DiscardHandler)
				got, err = resolveTo(context.Background(), to, browseLAN(discover.RoleReceiver, nil, log), log)
				return nil
			})
			if err != nil || got != listen {
				t.Fatalf("--to %s resolved to %q, %v; want %s", to, got, err, listen)
			}
		})
	}
	if !strings.Contains(rxLog.String(), "announced on the LAN") {
		t.Errorf("recv did not log its announcement:\n%s", rxLog.String())
	}
}

// builtHRVS is the hrvs that buildHRVS builds once for the test binary's tests
// (linking it takes seconds); TestMain removes its directory.
var builtHRVS struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildHRVS builds this module's hrvs into a temporary directory, for tests that run it
// inside network namespaces (a sender in a test's own process would dial its control
// link from the host's namespace). The tests share one build, which they only run.
func buildHRVS(t *testing.T) string {
	t.Helper()
	builtHRVS.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if builtHRVS.dir, builtHRVS.err = os.MkdirTemp("", "hrvs-test-bin-"); builtHRVS.err != nil {
			return
		}
		bin := filepath.Join(builtHRVS.dir, "hrvs")
		if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
			builtHRVS.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		builtHRVS.bin = bin
	})
	if builtHRVS.err != nil {
		t.Fatal(builtHRVS.err)
	}
	return builtHRVS.bin
}

// TestSendToAutoStreamsToTheAnnouncedReceiver runs the real binaries: hrvs recv announcing
// in one namespace, hrvs send --to auto in the other, and checks the frames arrived.
func TestSendToAutoStreamsToTheAnnouncedReceiver(t *testing.T) {
	b := testrig.Netns(t, "")
	for _, s := range []testbed.Side{testbed.Sender, testbed.Receiver} {
		if out, err := b.Command(s, "ip", "route", "add", "224.0.0.0/4", "dev", b.Device(s)).CombinedOutput(); err != nil {
			t.Fatalf("adding a multicast route in the %v namespace: %v: %s", s, err, out)
		}
	}
	bin := buildHRVS(t)
	dir := t.TempDir()
	stats := filepath.Join(dir, "recv.json")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	listen := netip.AddrPortFrom(b.ReceiverAddr(), 5000).String()
	rx := b.CommandContext(ctx, testbed.Receiver, bin, "recv", "--listen", listen, "--name", "studio", "--sink", "null",
		"--frames", "20", "--stats-json", stats)
	var rxLog, txLog syncBuffer
	rx.Stdout, rx.Stderr = &rxLog, &rxLog
	if err := rx.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog := time.Now().Add(30 * time.Second)
	for !strings.Contains(rxLog.String(), "announced on the LAN") {
		if time.Now().After(waitLog) {
			t.Fatalf("recv never announced itself:\n%s", rxLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tx := b.CommandContext(ctx, testbed.Sender, bin, "send", "--to", "auto", "--size", "320x192", "--fps", "30", "--duration", "60s")
	tx.Stdout, tx.Stderr = &txLog, &txLog
	if err := tx.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tx.Process.Kill(); tx.Wait() }()
	if err := rx.Wait(); err != nil {
		t.Fatalf("recv: %v\n%s\nsend:\n%s", err, rxLog.String(), txLog.String())
	}
	if !strings.Contains(txLog.String(), "found the receiver") || !strings.Contains(txLog.String(), "name=studio addr="+listen) {
		t.Errorf("send did not say which receiver auto chose:\n%s", txLog.String())
	}
	raw, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Frames uint64 `json:"frames_received"`
	}
	if err := json.Unmarshal(raw, &st); err != nil || st.Frames < 20 {
		t.Fatalf("recv's stats %s (%v): want 20 frames received", raw, err)
	}
}

// TestRecvJoinsAMulticastSenderFoundByName runs the real binaries between two network
// namespaces: a keyed multicast hrvs send --name camera and a unicast hrvs send --name desk
// in one; in the other, hrvs list shows both with their TXT, hrvs recv --listen camera
// joins camera's group and shows its frames, and --listen desk or an unknown name exit
// 2 on one line. mDNS and the group travel over the test's own veth pair only.
func TestRecvJoinsAMulticastSenderFoundByName(t *testing.T) {
	b := testrig.Netns(t, "")
	for _, s := range []testbed.Side{testbed.Sender, testbed.Receiver} {
		// A LAN host reaches the groups through its default route; here the veth is the LAN.
		if out, err := b.Command(s, "ip", "route", "add", "224.0.0.0/4", "dev", b.Device(s)).CombinedOutput(); err != nil {
			t.Fatalf("adding a multicast route in the %v namespace: %v: %s", s, err, out)
		}
	}
	bin := buildHRVS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const group = "239.77.9.1:5700"
	start := func(log *syncBuffer, args ...string) {
		t.Helper()
		tx := b.CommandContext(ctx, testbed.Sender, bin, args...)
		tx.Stdout, tx.Stderr = log, log
		if err := tx.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Process.Kill(); tx.Wait() })
		testrig.Eventually(t, testrig.Patience, func() error {
			if !strings.Contains(log.String(), "announced on the LAN") {
				return fmt.Errorf("%s never announced itself:\n%s", args, log.String())
			}
			return nil
		})
	}
	keyFile := filepath.Join(t.TempDir(), "k")
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.WriteKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	var camLog, deskLog syncBuffer
	start(&camLog, "send", "--to", group, "--name", "camera", "--size", "320x192", "--fps", "25", "--key", keyFile, "--duration", "150s")
	unicast := netip.AddrPortFrom(b.ReceiverAddr(), 5800).String()
	start(&deskLog, "send", "--to", unicast, "--name", "desk", "--size", "640x384", "--fps", "30", "--duration", "150s")

	wantRows := map[string]string{
		"camera": strings.Join([]string{"camera", "send", b.SenderAddr().String() + ":", strconv.Itoa(wire.Version), "320x192", key.Fingerprint(), "25", group}, " "),
		"desk":   strings.Join([]string{"desk", "send", b.SenderAddr().String(), strconv.Itoa(wire.Version), "640x384", "none", "30", "-"}, " "),
	}
	t.Run("list in the other namespace shows both senders with their TXT", func(t *testing.T) {
		var last string
		testrig.Eventually(t, 2*testrig.Patience, func() error {
			out, err := b.CommandContext(ctx, testbed.Receiver, bin, "list", "--role", "send", "--wait", "1s").Output()
			if err != nil {
				return fmt.Errorf("list: %v", err)
			}
			last = string(out)
			rows := map[string]string{}
			for _, line := range strings.Split(last, "\n") {
				f := strings.Fields(line)
				if len(f) == 8 && f[1] == "send" {
					if f[0] == "camera" { // the control port is the sender's to choose
						f[2] = f[2][:strings.LastIndex(f[2], ":")+1]
					}
					rows[f[0]] = strings.Join(f, " ")
				}
			}
			for name, want := range wantRows {
				if rows[name] != want {
					return fmt.Errorf("list shows %s as %q, want %q:\n%s", name, rows[name], want, last)
				}
			}
			if strings.Contains(last, unicast) {
				return fmt.Errorf("list tells where desk sends:\n%s", last)
			}
			return nil
		})
	})
	joins := func(t *testing.T, listen string) {
		stats := filepath.Join(t.TempDir(), "recv.json")
		rx := b.CommandContext(ctx, testbed.Receiver, bin, "recv", "--listen", listen, "--key", keyFile, "--sink", "null", "--frames", "20", "--stats-json", stats)
		var rxLog syncBuffer
		rx.Stdout, rx.Stderr = &rxLog, &rxLog
		if err := rx.Run(); err != nil {
			t.Fatalf("recv: %v\n%s\nsend:\n%s", err, rxLog.String(), camLog.String())
		}
		if !strings.Contains(rxLog.String(), `found the multicast sender" name=camera group=`+group) {
			t.Errorf("recv did not say which sender it joined:\n%s", rxLog.String())
		}
		if strings.Contains(rxLog.String(), "key is not this receiver's") {
			t.Errorf("recv found the sender's key fingerprint unlike its own:\n%s", rxLog.String())
		}
		raw, err := os.ReadFile(stats)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Frames uint64 `json:"frames_received"`
		}
		if err := json.Unmarshal(raw, &st); err != nil || st.Frames < 20 {
			t.Fatalf("recv's stats %s (%v): want 20 frames received", raw, err)
		}
	}
	// auto: desk sends to one receiver, so camera is the only group there is.
	for _, listen := range []string{"camera", "auto"} {
		t.Run("recv --listen "+listen+" joins camera's group and shows its frames", func(t *testing.T) { joins(t, listen) })
	}
	for _, c := range []struct{ name, listen, says string }{
		{"a unicast sender's name exits 2 on one line", "desk", `--listen desk: sender "desk": it sends to one receiver`},
		{"an unknown name exits 2 on one line", "garage", `--listen garage: no sender of that name answered: "garage" (heard: camera (group ` + group + `), desk (unicast, from ` + b.SenderAddr().String() + `))`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rx := b.CommandContext(ctx, testbed.Receiver, bin, "recv", "--listen", c.listen, "--sink", "null", "--duration", "20s")
			var stderr bytes.Buffer
			rx.Stderr = &stderr
			err := rx.Run()
			var ee *exec.ExitError
			msg := strings.TrimSpace(stderr.String())
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(msg, c.says) || strings.Contains(msg, "\n") {
				t.Fatalf("recv --listen %s: %v, stderr %q; want exit 2 saying %q", c.listen, err, msg, c.says)
			}
		})
	}
}
