package discover

import (
	"errors"
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
		{"a sender says no size", Info{Role: RoleSender, Version: 3}, []string{"v=3", "role=send"}},
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
