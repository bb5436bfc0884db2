package main

import (
	"os"
	"path/filepath"
	"testing"
)

// --cpuprofile writes a profile pprof reads (it starts with gzip's magic bytes)
// for send and recv, and a file that cannot be made is a failure, not a usage error.
func TestCPUProfileFlagWritesAProfile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"recv writes a profile of its run", []string{"recv", "--duration", "1s", "--sink", "null", "--listen", "127.0.0.1:0"}},
		{"send writes a profile of its run", []string{"send", "--duration", "1s", "--size", "320x192", "--to", "127.0.0.1:9"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.args[0]+".pprof")
			code, _, stderr := runCmd(append(c.args, "--cpuprofile", path)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			b, err := os.ReadFile(path)
			if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
				t.Fatalf("profile %d bytes (%v), want a gzipped pprof profile", len(b), err)
			}
		})
	}
	t.Run("a profile that cannot be written exits 1", func(t *testing.T) {
		code, _, stderr := runCmd("recv", "--duration", "1s", "--sink", "null", "--listen", "127.0.0.1:0", "--cpuprofile", filepath.Join(dir, "no", "such", "dir"))
		if code != 1 {
			t.Fatalf("exit %d, want 1: %s", code, stderr)
		}
	})
}
