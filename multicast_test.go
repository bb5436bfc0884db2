package main

import (
	"strings"
	"testing"
)

func TestMulticastFlagMistakesExitTwoWithOneLine(t *testing.T) {
	// --duration first, so a mistake wrongly accepted ends with exit 0 instead of hanging.
	send := func(to string, a ...string) []string {
		return append([]string{"send", "--duration", "2s", "--to", to}, a...)
	}
	recv := func(listen string, a ...string) []string {
		return append([]string{"recv", "--duration", "2s", "--sink", "null", "--listen", listen}, a...)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"an IPv6 group is refused: only IPv4 groups", send("[ff02::1]:5000"), "--to [ff02::1]:5000: only IPv4 multicast groups"},
		{"recv on an IPv6 group is refused too", recv("[ff02::1]:5000"), "--listen [ff02::1]:5000: only IPv4 multicast groups"},
		{"--multicast with a unicast address", send("127.0.0.1:9", "--multicast"), "--multicast: --to 127.0.0.1:9 is not an IPv4 multicast group"},
		{"send on an interface that does not exist", send("239.1.2.3:5000", "--iface", "nosuch0"), "--iface nosuch0: no such network interface"},
		{"recv on an interface that does not exist", recv("239.1.2.3:5000", "--iface", "nosuch0"), "--iface nosuch0: no such network interface"},
		{"a TTL of 0", send("239.1.2.3:5000", "--ttl", "0"), "--ttl 0: want 1..255"},
		{"a TTL above 255", send("239.1.2.3:5000", "--ttl", "256"), "--ttl 256: want 1..255"},
		{"a negative group floor", send("239.1.2.3:5000", "--group-floor", "-1"), "--group-floor -1: want 0.."},
		{"--iface without a group, sending", send("127.0.0.1:9", "--iface", "lo"), "--iface: only for a multicast group, and --to 127.0.0.1:9 is not one"},
		{"--ttl without a group", send("127.0.0.1:9", "--ttl", "2"), "--ttl: only for a multicast group"},
		{"--iface without a group, receiving", recv("127.0.0.1:0", "--iface", "lo"), "--iface: only for a multicast group, and --listen 127.0.0.1:0 is not one"},
		{"a group without a port", send("239.1.2.3"), "want HOST:PORT"},
		{"a group with port 0", send("239.1.2.3:0"), "port must be a number 1..65535"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(c.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q does not say %q", stderr, c.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("reason takes more than one line: %q", stderr)
			}
		})
	}
}
