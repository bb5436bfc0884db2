package discover

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestTXTRoundTrips(t *testing.T) {
	cases := []struct {
		name string
		info Info
		txt  []string
	}{
		{"an open receiver says its version, role and size limit", Info{Role: RoleReceiver, Version: 3, MaxW: 7680, MaxH: 4320},
			[]string{"v=3", "role=recv", "max=7680x4320"}},
		{"a keyed receiver adds its key's fingerprint", Info{Role: RoleReceiver, Version: 3, MaxW: 1920, MaxH: 1080, Key: "ab12-cd34"},
			[]string{"v=3", "role=recv", "max=1920x1080", "key=ab12-cd34"}},
		{"a sender that says nothing more has only the two required keys", Info{Role: RoleSender, Version: 3}, []string{"v=3", "role=send"}},
		{"a sender to one receiver says its frame size and rate, not where it sends", Info{Role: RoleSender, Version: 3, W: 1920, H: 1080, FPS: 30},
			[]string{"v=3", "role=send", "size=1920x1080", "fps=30"}},
		{"a keyed multicast sender adds its key and its group", Info{Role: RoleSender, Version: 3, Key: "ab12", W: 3840, H: 2160, FPS: 29.97,
			Group: netip.MustParseAddrPort("239.1.2.3:5000")}, []string{"v=3", "role=send", "key=ab12", "size=3840x2160", "fps=29.97", "group=239.1.2.3:5000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			txt := c.info.TXT()
			if !slices.Equal(txt, c.txt) {
				t.Fatalf("TXT %q, want %q", txt, c.txt)
			}
			got, err := ParseTXT(txt)
			if err != nil || got != c.info {
				t.Fatalf("ParseTXT(%q) = %+v, %v; want %+v", txt, got, err, c.info)
			}
		})
	}
}

func TestParseTXT(t *testing.T) {
	cases := []struct {
		name string
		txt  []string
		want Info
		err  string // "" for success
	}{
		{"keys are matched without regard to case", []string{"V=3", "ROLE=recv"}, Info{Role: RoleReceiver, Version: 3}, ""},
		{"unknown keys are ignored", []string{"v=4", "role=recv", "codec=jpeg", "flag"}, Info{Role: RoleReceiver, Version: 4}, ""},
		{"a repeated key keeps its first value", []string{"v=3", "role=recv", "v=9"}, Info{Role: RoleReceiver, Version: 3}, ""},
		{"a string with no key is ignored", []string{"=x", "v=3", "role=send"}, Info{Role: RoleSender, Version: 3}, ""},
		{"a record without a version is not an HRVS one", []string{"role=recv"}, Info{}, "no version"},
		{"a record without a role is not an HRVS one", []string{"v=3"}, Info{}, "no role"},
		{"an empty record is not an HRVS one", nil, Info{}, "no version"},
		{"a version that is not a number is refused", []string{"v=three", "role=recv"}, Info{}, `version "three"`},
		{"a version past a byte is refused", []string{"v=256", "role=recv"}, Info{}, `version "256"`},
		{"an unknown role is refused", []string{"v=3", "role=relay"}, Info{}, `role "relay"`},
		{"a size without an x is refused", []string{"v=3", "role=recv", "max=1920"}, Info{}, `size "1920"`},
		{"a zero size is refused", []string{"v=3", "role=recv", "max=0x1080"}, Info{}, `size "0x1080"`},
		{"a size past the wire's is refused", []string{"v=3", "role=recv", "max=70000x10"}, Info{}, `size "70000x10"`},
		{"a sender's frame rate is read to the thousandth", []string{"v=3", "role=send", "fps=59.94006"}, Info{Role: RoleSender, Version: 3, FPS: 59.94}, ""},
		{"a frame rate that is not a number is refused", []string{"v=3", "role=send", "fps=NaN"}, Info{}, `frame rate "NaN"`},
		{"a negative frame rate is refused", []string{"v=3", "role=send", "fps=-1"}, Info{}, `frame rate "-1"`},
		{"a frame rate past 1000 is refused", []string{"v=3", "role=send", "fps=1001"}, Info{}, `frame rate "1001"`},
		{"a sender's size is read as a receiver's limit is", []string{"v=3", "role=send", "size=640x0"}, Info{}, `size "640x0"`},
		{"a group that is not multicast is refused", []string{"v=3", "role=send", "group=10.0.0.1:5000"}, Info{}, `group "10.0.0.1:5000"`},
		{"an IPv6 group is refused", []string{"v=3", "role=send", "group=[ff02::1]:5000"}, Info{}, `group "[ff02::1]:5000"`},
		{"a group without a port is refused", []string{"v=3", "role=send", "group=239.1.2.3"}, Info{}, `group "239.1.2.3"`},
		{"a group on port 0 is refused", []string{"v=3", "role=send", "group=239.1.2.3:0"}, Info{}, `group "239.1.2.3:0"`},
		{"a string longer than a TXT string is refused", []string{"v=3", "role=recv", "key=" + strings.Repeat("a", 255)}, Info{}, "259 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTXT(c.txt)
			if c.err == "" {
				if err != nil || got != c.want {
					t.Fatalf("ParseTXT(%q) = %+v, %v; want %+v", c.txt, got, err, c.want)
				}
				return
			}
			if !errors.Is(err, ErrBadTXT) || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("ParseTXT(%q) error %v, want ErrBadTXT saying %q", c.txt, err, c.err)
			}
		})
	}
}

func FuzzParseTXT(f *testing.F) {
	f.Add("v=3\x00role=recv\x00max=7680x4320\x00key=ab")
	f.Add("V=1\x00ROLE=send")
	f.Add("max=x\x00=\x00v=-1")
	f.Add("v=3\x00role=send\x00size=1920x1080\x00fps=29.97\x00group=239.1.2.3:5000\x00key=ab")
	f.Add("v=3\x00role=send\x00fps=1e-320\x00group=239.001.2.3:05000")
	f.Fuzz(func(t *testing.T, joined string) {
		txt := strings.Split(joined, "\x00")
		info, err := ParseTXT(txt)
		if err != nil {
			if !errors.Is(err, ErrBadTXT) {
				t.Fatalf("error %v does not wrap ErrBadTXT", err)
			}
			return
		}
		// What parses re-encodes to a record that parses to the same.
		again, err := ParseTXT(info.TXT())
		if err != nil || again != info {
			t.Fatalf("%+v re-encoded as %q parses to %+v, %v", info, info.TXT(), again, err)
		}
	})
}

func TestCheckName(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"a host name is a name", "studio-2", true},
		{"an underscore is allowed", "lab_screen", true},
		{"an empty name is refused", "", false},
		{"a dot would split the DNS name", "a.b", false},
		{"a space is refused", "my screen", false},
		{"a name longer than a DNS label is refused", strings.Repeat("a", 64), false},
		{"a name of a whole label is allowed", strings.Repeat("a", 63), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckName(c.in); (err == nil) != c.ok {
				t.Fatalf("CheckName(%q) = %v, want ok %v", c.in, err, c.ok)
			}
		})
	}
	if err := CheckName(DefaultName()); err != nil {
		t.Errorf("this host's default name %q is refused: %v", DefaultName(), err)
	}
}
