package discover_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/lab/testbed"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/discover"
)

// bed makes two namespaces joined by a veth pair, each with a route for multicast DNS
// over the veth (a LAN host has one through its default route), so mDNS never leaves
// the namespaces the test made.
func bed(t *testing.T) *testbed.Bed {
	t.Helper()
	b := testrig.Netns(t, "")
	for _, s := range []testbed.Side{testbed.Sender, testbed.Receiver} {
		if out, err := b.Command(s, "ip", "route", "add", "224.0.0.0/4", "dev", b.Device(s)).CombinedOutput(); err != nil {
			t.Fatalf("adding a multicast route in the %v namespace: %v: %s", s, err, out)
		}
	}
	return b
}

// announce announces a receiver inside the receiver namespace, on the interface
// discover.Where finds for host, until the test ends.
func announce(t *testing.T, b *testbed.Bed, host, name string, info discover.Info) {
	t.Helper()
	announceOn(t, b, host, name, 5000, info)
}

// announceOn is announce with the SRV port.
func announceOn(t *testing.T, b *testbed.Bed, host, name string, port int, info discover.Info) {
	t.Helper()
	var a *discover.Announcer
	err := b.Do(testbed.Receiver, func() error {
		ifi, ips, err := discover.Where(host)
		if err != nil {
			return err
		}
		if ifi.Name != b.Device(testbed.Receiver) {
			t.Errorf("Where(%q) chose %s, want %s", host, ifi.Name, b.Device(testbed.Receiver))
		}
		a, err = discover.Announce(discover.AnnounceConfig{Instance: name, Port: port, Info: info, Iface: ifi, IPs: ips})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
}

// browse looks from the sender namespace until want answers (each look waits a
// second for answers), for at most 30 s.
func browse(t *testing.T, b *testbed.Bed, want ...string) []discover.Entry {
	t.Helper()
	return browseRoles(t, b, nil, want...)
}

// browseRoles is browse for roles only (nil: both).
func browseRoles(t *testing.T, b *testbed.Bed, roles []discover.Role, want ...string) []discover.Entry {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var found []discover.Entry
		err := b.Do(testbed.Sender, func() (err error) {
			found, err = discover.Browse(context.Background(), discover.BrowseConfig{Roles: roles})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, len(found))
		for i, e := range found {
			names[i] = e.Instance
		}
		if slices.Equal(names, want) {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("found %v, want %v", names, want)
		}
	}
}

func TestAReceiverIsFoundFromAnotherNamespace(t *testing.T) {
	info := discover.Info{Role: discover.RoleReceiver, Version: 3, MaxW: 1920, MaxH: 1080, Key: "ab12-cd34-ef56"}
	cases := []struct {
		name string
		host func(b *testbed.Bed) string
	}{
		{"a receiver listening on its address announces that address", func(b *testbed.Bed) string { return b.ReceiverAddr().String() }},
		{"a receiver listening on every address announces the multicast interface's", func(*testbed.Bed) string { return "0.0.0.0" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bed(t)
			announce(t, b, c.host(b), "studio", info)
			found := browse(t, b, "studio")
			e := found[0]
			if want := netip.AddrPortFrom(b.ReceiverAddr(), 5000); e.Addr != want {
				t.Errorf("address %v, want %v", e.Addr, want)
			}
			if e.Info != info || !slices.Equal(e.TXT, info.TXT()) {
				t.Errorf("TXT %q decoded as %+v, want %q", e.TXT, e.Info, info.TXT())
			}
			if got, err := discover.Pick(found, discover.Auto); err != nil || got.Addr != e.Addr {
				t.Errorf("auto picks %v, %v", got, err)
			}
		})
	}
	t.Run("two receivers are both found, and auto refuses to choose", func(t *testing.T) {
		b := bed(t)
		announce(t, b, b.ReceiverAddr().String(), "studio", info)
		announce(t, b, b.ReceiverAddr().String(), "lab", discover.Info{Role: discover.RoleReceiver, Version: 3})
		found := browse(t, b, "lab", "studio")
		if _, err := discover.Pick(found, discover.Auto); err == nil {
			t.Fatal("auto picked one of two receivers")
		}
		if e, err := discover.Pick(found, "lab"); err != nil || e.Info.Key != "" {
			t.Fatalf("lab resolves to %+v, %v", e, err)
		}
	})
}

func TestASenderIsFoundFromAnotherNamespace(t *testing.T) {
	group := netip.MustParseAddrPort("239.7.7.7:5000")
	camera := discover.Info{Role: discover.RoleSender, Version: 3, W: 3840, H: 2160, FPS: 29.97, Key: "ab12-cd34", Group: group}
	desk := discover.Info{Role: discover.RoleSender, Version: 3, W: 1280, H: 720, FPS: 30}
	studio := discover.Info{Role: discover.RoleReceiver, Version: 3, MaxW: 1920, MaxH: 1080}
	b := bed(t)
	announceOn(t, b, b.ReceiverAddr().String(), "camera", 41000, camera)
	announceOn(t, b, b.ReceiverAddr().String(), "desk", discover.UnicastPort, desk)
	// The same name as the sender: a host that both receives and sends under its own name.
	announce(t, b, b.ReceiverAddr().String(), "camera", studio)

	t.Run("a receiver and senders are listed together, receivers first, with their TXT", func(t *testing.T) {
		found := browse(t, b, "camera", "camera", "desk")
		want := []struct {
			role discover.Role
			info discover.Info
			port uint16
		}{{discover.RoleReceiver, studio, 5000}, {discover.RoleSender, camera, 41000}, {discover.RoleSender, desk, discover.UnicastPort}}
		for i, w := range want {
			e := found[i]
			if e.Info.Role != w.role || e.Info != w.info || !slices.Equal(e.TXT, w.info.TXT()) {
				t.Errorf("%s: TXT %q decoded as %+v, want %q", e.Instance, e.TXT, e.Info, w.info.TXT())
			}
			if want := netip.AddrPortFrom(b.ReceiverAddr(), w.port); e.Addr != want {
				t.Errorf("%s: address %v, want %v", e.Instance, e.Addr, want)
			}
		}
		if e, err := discover.PickGroup(found, discover.Auto); err != nil || e.Info.Group != group {
			t.Errorf("auto joins %v, %v; want the group %v", e, err, group)
		}
		if _, err := discover.PickGroup(found, "desk"); !errors.Is(err, discover.ErrUnicast) {
			t.Errorf("desk, a unicast sender, gives %v", err)
		}
		if e, err := discover.Pick(found, discover.Auto); err != nil || e.Info != studio {
			t.Errorf("send --to auto picks %+v, %v; want the receiver", e, err)
		}
	})
	t.Run("asking for one role hears only that role", func(t *testing.T) {
		for _, r := range []discover.Role{discover.RoleReceiver, discover.RoleSender} {
			found := browseRoles(t, b, []discover.Role{r}, map[discover.Role][]string{
				discover.RoleReceiver: {"camera"}, discover.RoleSender: {"camera", "desk"}}[r]...)
			for _, e := range found {
				if e.Info.Role != r {
					t.Errorf("asking for %s heard %s, a %s", r, e.Instance, e.Info.Role)
				}
			}
		}
	})
}

func TestWhereRefusesLoopback(t *testing.T) {
	if _, _, err := discover.Where("127.0.0.1"); err == nil {
		t.Fatal("a receiver on loopback would be announced to the LAN")
	}
	if _, _, err := discover.Where("not-an-ip"); err == nil {
		t.Fatal("a host name was taken for an address")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, to string
		iface    *net.Interface
	}{
		{"a sender to this machine is not announced", "127.0.0.1:5000", nil},
		{"a multicast sender on the loopback interface is not announced", "239.1.2.3:5000", lo},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := discover.WhereSending(c.to, c.iface); !errors.Is(err, discover.ErrLoopback) {
				t.Fatalf("WhereSending(%s) = %v, want ErrLoopback", c.to, err)
			}
		})
	}
}
