package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for hrvs itself: with HRVS_TEST_AS_MAIN=1 it runs
// its command line as hrvs would. The window must run on a process's main thread, and a
// receiver stopped with SIGSTOP must be a process of its own, so end-to-end tests start
// this binary as `hrvs recv`.
func TestMain(m *testing.M) {
	if os.Getenv("HRVS_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if builtHRVS.dir != "" {
		os.RemoveAll(builtHRVS.dir)
	}
	os.Exit(code)
}
