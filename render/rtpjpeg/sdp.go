package rtpjpeg

import (
	"fmt"
	"net"
	"strings"
)

// SDP returns the session description (RFC 4566) a player opens to receive the
// RTP/JPEG stream sent to dst from origin: the c= line names the address the
// player listens on (with TTL 1 for an IPv4 multicast group, §5.7), the m= line its
// port and payload type 26, a=rtpmap JPEG at 90 kHz (RFC 3551 §6). Lines end in CRLF
// (§5). session is the o= line's session id, a number unique to this sender.
func SDP(dst *net.UDPAddr, origin net.IP, session uint64, name string) []byte {
	family := func(ip net.IP) string {
		if ip.To4() != nil {
			return "IP4"
		}
		return "IP6"
	}
	if origin == nil || origin.IsUnspecified() {
		origin = dst.IP
	}
	conn := dst.IP.String()
	if dst.IP.To4() != nil && dst.IP.IsMulticast() {
		conn += "/1"
	}
	// s= must not be empty (§5.3) and no field may hold a line break.
	name = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, name)
	if strings.TrimSpace(name) == "" {
		name = "-"
	}
	var b strings.Builder
	for _, line := range []string{
		"v=0",
		fmt.Sprintf("o=- %d 1 IN %s %s", session, family(origin), origin),
		"s=" + name,
		fmt.Sprintf("c=IN %s %s", family(dst.IP), conn),
		"t=0 0",
		fmt.Sprintf("m=video %d RTP/AVP %d", dst.Port, PayloadType),
		fmt.Sprintf("a=rtpmap:%d JPEG/%d", PayloadType, ClockRate),
	} {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}
