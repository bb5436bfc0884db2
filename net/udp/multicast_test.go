package udp

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestParseGroup(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"an administratively scoped group parses", "239.1.2.3:5000", true},
		{"a unicast address is refused", "10.0.0.1:5000", false},
		{"an IPv6 group is refused", "[ff02::1]:5000", false},
		{"port 0 parses, for a receiver to pick one", "239.1.2.3:0", true},
		{"a name is refused", "group.local:5000", false},
		{"no port is refused", "239.1.2.3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGroup(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseGroup(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if IsGroup(tc.in) != tc.ok {
				t.Fatalf("IsGroup(%q) = %v", tc.in, IsGroup(tc.in))
			}
		})
	}
}

func TestInterfaceThatDoesNotExistIsAnError(t *testing.T) {
	if _, err := Interface("nosuch0"); err == nil {
		t.Fatal("no error for a missing interface")
	}
	if ifi, err := Interface(""); ifi != nil || err != nil {
		t.Fatalf(`Interface("") = %v, %v; want nil, nil`, ifi, err)
	}
}

// Two receivers on one machine joined to one group and port each get every datagram
// the sender sent once, over the loopback interface.
func TestGroupOnLoopbackReachesEveryMember(t *testing.T) {
	lo := loopback(t)
	probe, err := ListenGroup(netip.MustParseAddrPort("239.77.0.1:0"), lo)
	if err != nil {
		t.Fatal(err)
	}
	group := netip.AddrPortFrom(netip.MustParseAddr("239.77.0.1"), uint16(probe.LocalAddr().(*net.UDPAddr).Port))
	second, err := ListenGroup(group, lo)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	defer second.Close()
	out, err := DialGroup(group, lo, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	msg := []byte("one copy for all")
	for _, in := range []*net.UDPConn{probe, second} {
		in.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	// Multicast on loopback loses nothing, but a first datagram may race the join on a
	// busy machine: send until each member has one.
	got := make([]bool, 2)
	deadline := time.Now().Add(10 * time.Second)
	for i, in := range []*net.UDPConn{probe, second} {
		buf := make([]byte, 64)
		for !got[i] && time.Now().Before(deadline) {
			if _, err := out.Write(msg); err != nil {
				t.Fatal(err)
			}
			in.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, from, err := in.ReadFromUDPAddrPort(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], msg) {
				t.Fatalf("member %d got %q", i, buf[:n])
			}
			if want := out.LocalAddr().(*net.UDPAddr).AddrPort().Port(); from.Port() != want {
				t.Fatalf("source port %d, want the sender's %d", from.Port(), want)
			}
			got[i] = true
		}
		if !got[i] {
			t.Fatalf("member %d got nothing", i)
		}
	}
}

func TestDialGroupRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		ttl   int
	}{
		{"a TTL above 255 is an error", "239.77.0.1:5000", 256},
		{"a negative TTL is an error", "239.77.0.1:5000", -1},
		{"port 0 is an error: the receivers' port is needed", "239.77.0.1:0", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := DialGroup(netip.MustParseAddrPort(tc.group), nil, tc.ttl); err == nil {
				c.Close()
				t.Fatal("accepted")
			}
		})
	}
}

func loopback(t *testing.T) *net.Interface {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 {
			return &ifs[i]
		}
	}
	t.Fatal("no loopback interface")
	return nil
}
