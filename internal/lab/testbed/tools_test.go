package testbed

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestCheckSaysWhatIsMissing(t *testing.T) {
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	_, err := findTools(1000, none)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v does not wrap ErrUnavailable", err)
	}
	for _, want := range []string{"needs root", `"ip" not found (apt-get install iproute2)`, `"nft" not found (apt-get install nftables)`, `"tc"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	sbinOnly := func(p string) (string, error) {
		if strings.HasPrefix(p, "/usr/sbin/") {
			return p, nil
		}
		return "", exec.ErrNotFound
	}
	tl, err := findTools(0, sbinOnly)
	if err != nil || tl.ip != "/usr/sbin/ip" || tl.nft != "/usr/sbin/nft" {
		t.Errorf("with tools only in /usr/sbin: %+v, %v", tl, err)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"TestLoss/20%": "TestLoss_20_", "": "bed", "a-b c": "a_b_c",
		strings.Repeat("x", 60): strings.Repeat("x", 40),
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
