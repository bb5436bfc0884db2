package rtpjpeg

import (
	"net"
	"strings"
	"testing"
)

func TestSDP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dst    *net.UDPAddr
		origin net.IP
		title  string
		want   []string
	}{
		{"a loopback stream", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5004}, net.IPv4(127, 0, 0, 1), "HRVS",
			[]string{"v=0", "o=- 42 1 IN IP4 127.0.0.1", "s=HRVS", "c=IN IP4 127.0.0.1", "t=0 0", "m=video 5004 RTP/AVP 26", "a=rtpmap:26 JPEG/90000"}},
		{"a multicast group gets TTL 1", &net.UDPAddr{IP: net.IPv4(239, 1, 2, 3), Port: 6000}, net.IPv4(10, 0, 0, 2), "HRVS",
			[]string{"v=0", "o=- 42 1 IN IP4 10.0.0.2", "s=HRVS", "c=IN IP4 239.1.2.3/1", "t=0 0", "m=video 6000 RTP/AVP 26", "a=rtpmap:26 JPEG/90000"}},
		{"an IPv6 player with an empty name", &net.UDPAddr{IP: net.ParseIP("::1"), Port: 7000}, nil, "\r\n",
			[]string{"v=0", "o=- 42 1 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0", "m=video 7000 RTP/AVP 26", "a=rtpmap:26 JPEG/90000"}},
	} {
		t.Run(tc.name+" is described line by line as RFC 4566 orders them", func(t *testing.T) {
			got := string(SDP(tc.dst, tc.origin, 42, tc.title))
			want := strings.Join(tc.want, "\r\n") + "\r\n"
			if got != want {
				t.Fatalf("got\n%q\nwant\n%q", got, want)
			}
		})
	}
}
