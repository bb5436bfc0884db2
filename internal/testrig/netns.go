package testrig

import (
	"context"
	"os"
	"testing"

	"github.com/hrvs/hrvs/internal/lab/testbed"
)

// RequireNetns skips t when HRVS_NO_NETNS=1 and otherwise fails it, saying why, when beds cannot
// be made here. Tests never skip silently: CI runs as root with the tools installed.
func RequireNetns(t testing.TB) {
	t.Helper()
	if os.Getenv("HRVS_NO_NETNS") == "1" {
		t.Skip("HRVS_NO_NETNS=1: skipping a test that needs network namespaces")
	}
	if err := testbed.Check(); err != nil {
		t.Fatalf("%v\n(this test needs root with iproute2 and nftables; set HRVS_NO_NETNS=1 to skip it)", err)
	}
}

// Netns makes a bed named after the test (or name) and closes it in t.Cleanup, after
// RequireNetns.
func Netns(t testing.TB, name string) *testbed.Bed {
	t.Helper()
	RequireNetns(t)
	if name == "" {
		name = t.Name()
	}
	b, err := testbed.New(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing the testbed: %v", err)
		}
	})
	return b
}
