package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKeygenWritesAPrivateKeyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stream.key")
	code, stdout, stderr := runCmd("keygen", path)
	if code != 0 || !strings.Contains(stdout, "key ") {
		t.Fatalf("keygen: exit %d, %q %q", code, stdout, stderr)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, st.Mode().Perm())
	}
	if code, _, stderr := runCmd("keygen", path); code != 1 || !strings.Contains(stderr, "already exists: keygen never replaces a key") || strings.Contains(stderr, "seal:") {
		t.Fatalf("a second keygen over the file: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCmd("keygen"); code != 2 || !strings.Contains(stderr, "FILE is required") {
		t.Fatalf("keygen without a file: exit %d, %q", code, stderr)
	}
}

func TestKeyFlagMistakesExitTwo(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	runCmd("keygen", loose)
	os.Chmod(loose, 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a missing key file", []string{"send", "--to", "127.0.0.1:9", "--key", filepath.Join(dir, "none"), "--frames", "1"}, "--key"},
		{"a key file others may read", []string{"recv", "--listen", "127.0.0.1:0", "--key", loose, "--duration", "1s"}, "0600"},
		{"--key with --pair", []string{"send", "--to", "127.0.0.1:9", "--key", loose, "--pair"}, "give one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q: want 2 saying %q", code, stderr, c.want)
			}
		})
	}
}

// Pairing through the command line: both ends confirm the code on standard input, store
// the same key, and the stream then plays keyed.
func TestPairingOnTheCommandLine(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	statsPath := filepath.Join(t.TempDir(), "recv.json")
	var wg sync.WaitGroup
	var rcode int
	var rerr bytes.Buffer
	wg.Go(func() {
		rcode = runIO([]string{"recv", "--listen", addr, "--pair", "--sink", "null", "--frames", "20", "--duration", "60s", "--stats-json", statsPath},
			strings.NewReader("y\n"), &bytes.Buffer{}, &rerr)
	})
	var scode int
	var serr bytes.Buffer
	for range 200 { // the receiver must be listening for the pairing first
		serr.Reset()
		scode = runIO([]string{"send", "--to", addr, "--pair", "--size", "320x192", "--frames", "60"}, strings.NewReader("y\n"), &bytes.Buffer{}, &serr)
		if !strings.Contains(serr.String(), "must be running with --pair") {
			break
		}
		time.Sleep(20 * time.Millisecond) // poll interval while the receiver starts listening
	}
	wg.Wait()
	if scode != 0 || rcode != 0 {
		t.Fatalf("send exit %d: %s\nrecv exit %d: %s", scode, serr.String(), rcode, rerr.String())
	}
	codes := func(s string) string {
		i := strings.Index(s, "pairing code: ")
		if i < 0 {
			return ""
		}
		return s[i : i+21]
	}
	if c := codes(serr.String()); c == "" || c != codes(rerr.String()) {
		t.Fatalf("codes shown: sender %q, receiver %q", c, codes(rerr.String()))
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	keys, _ := filepath.Glob(filepath.Join(cfg, "hrvs", "keys", "*.key"))
	if len(keys) != 2 {
		t.Fatalf("stored keys: %v", keys)
	}
	a, _ := os.ReadFile(keys[0])
	b, _ := os.ReadFile(keys[1])
	if !bytes.Equal(a, b) {
		t.Fatal("the two ends stored different keys")
	}
	var st map[string]any
	raw, _ := os.ReadFile(statsPath)
	if err := json.Unmarshal(raw, &st); err != nil || st["keyed"] != true || st["frames_received"].(float64) < 20 {
		t.Fatalf("receiver stats: %s", raw)
	}
}

// A receiver stopped (Ctrl-C, SIGTERM) while it waits for a sender to pair says so,
// not "accept tcp ...: use of closed network connection".
func TestAReceiverStoppedWhilePairingSaysSo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := pairAsReceiver("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))(ctx, nil)
	if err == nil || strings.Contains(err.Error(), "closed network connection") || !strings.Contains(err.Error(), "stopped before a sender paired") {
		t.Fatalf("%v: want --pair: stopped before a sender paired", err)
	}
}

// A keyed sender whose run ends before any receiver proved the key sent nothing: it
// says so and exits 1, not 0 as if the stream had played.
func TestAKeyedSenderThatSentNothingSaysWhy(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k")
	runCmd("keygen", key)
	code, _, stderr := runCmd("send", "--to", "127.0.0.1:9", "--key", key, "--duration", "1s")
	if code != 1 || !strings.Contains(stderr, "nothing sent, no receiver proved the key") {
		t.Fatalf("exit %d, stderr %q: want 1 saying no receiver proved the key", code, stderr)
	}
}
