package pair

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/seal"
)

// conns returns both ends of a loopback TCP connection.
func conns(t *testing.T) (a, b net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		ch <- c
	}()
	a, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-ch
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

type outcome struct {
	key  seal.Key
	code string
	err  error
}

func answer(ok bool, code *string) Confirm {
	return func(c string) (bool, error) { *code = c; return ok, nil }
}

func run(t *testing.T, okI, okR bool) (ini, res outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := conns(t)
	done := make(chan outcome)
	go func() {
		var o outcome
		o.key, o.err = Respond(ctx, b, answer(okR, &o.code))
		done <- o
	}()
	ini.key, ini.err = Initiate(ctx, a, answer(okI, &ini.code))
	return ini, <-done
}

func TestPairingGivesBothEndsOneKeyAndOneCode(t *testing.T) {
	ini, res := run(t, true, true)
	if ini.err != nil || res.err != nil {
		t.Fatalf("initiator %v, responder %v", ini.err, res.err)
	}
	if ini.key != res.key || ini.key == (seal.Key{}) {
		t.Fatal("the two ends hold different keys")
	}
	if ini.code != res.code || len(ini.code) != 6 {
		t.Fatalf("codes %q and %q", ini.code, res.code)
	}
	again, _ := run(t, true, true)
	if again.key == ini.key {
		t.Fatal("a second pairing gave the same key")
	}
}

func TestARefusedCodeStoresNothingAtEitherEnd(t *testing.T) {
	for _, c := range []struct {
		name       string
		okI, okR   bool
		errI, errR error
	}{
		{"when the sender's user refuses", false, true, ErrRefused, ErrPeerRefuse},
		{"when the receiver's user refuses", true, false, ErrPeerRefuse, ErrRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			ini, res := run(t, c.okI, c.okR)
			if !errors.Is(ini.err, c.errI) || !errors.Is(res.err, c.errR) {
				t.Fatalf("initiator %v (want %v), responder %v (want %v)", ini.err, c.errI, res.err, c.errR)
			}
			if ini.key != (seal.Key{}) || res.key != (seal.Key{}) {
				t.Fatal("a key came back from a refused pairing")
			}
		})
	}
}

// A man in the middle pairs with each end separately. The two ends then show different
// codes, so users who compare them refuse.
func TestAManInTheMiddleShowsDifferentCodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, ma := conns(t) // sender <-> mitm
	mb, rb := conns(t) // mitm <-> receiver
	codes := make(chan string, 4)
	remember := func(c string) (bool, error) { codes <- c; return true, nil }
	errs := make(chan error, 4)
	go func() { _, err := Respond(ctx, ma, remember); errs <- err }()
	go func() { _, err := Initiate(ctx, mb, remember); errs <- err }()
	go func() { _, err := Respond(ctx, rb, remember); errs <- err }()
	_, err := Initiate(ctx, sa, remember)
	for range 3 {
		if e := <-errs; e != nil {
			t.Fatal(e)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{<-codes: 1}
	for range 3 {
		got[<-codes]++
	}
	// Four confirmations: the sender's and its fake receiver's share one code, the
	// receiver's and its fake sender's another.
	if len(got) != 2 {
		t.Fatalf("codes %v: the two real ends must see different codes", got)
	}
}

func TestAnInitiatorThatChangesItsShareIsCaught(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := conns(t)
	done := make(chan error, 1)
	go func() {
		_, err := Respond(ctx, b, func(string) (bool, error) { return true, nil })
		done <- err
	}()
	honest, _ := newShare()
	write(a, msgCommit, commitment(honest.bytes()))
	if _, err := read(a, msgShare, 32+nonceSize); err != nil {
		t.Fatal(err)
	}
	other, _ := newShare()
	write(a, msgReveal, other.bytes())
	if err := <-done; !errors.Is(err, ErrCommitment) {
		t.Fatalf("got %v, want ErrCommitment", err)
	}
}

func TestJunkAndSilenceEndThePairing(t *testing.T) {
	t.Run("junk is refused", func(t *testing.T) {
		a, b := conns(t)
		done := make(chan error, 1)
		go func() {
			_, err := Respond(context.Background(), b, func(string) (bool, error) { return true, nil })
			done <- err
		}()
		a.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		if err := <-done; !errors.Is(err, ErrProtocol) {
			t.Fatalf("got %v, want ErrProtocol", err)
		}
	})
	t.Run("a silent peer is left when the context ends", func(t *testing.T) {
		_, b := conns(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := Respond(ctx, b, func(string) (bool, error) { return true, nil }); err == nil {
			t.Fatal("a silent peer paired")
		}
	})
}

func TestStorePathFollowsXDGAndCleansNames(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	p, err := StorePath("192.168.1.20:5000")
	if err != nil || p != filepath.Join(dir, "hrvs", "keys", "192.168.1.20_5000.key") {
		t.Fatalf("%q %v", p, err)
	}
	for _, bad := range []string{"", "..", "."} {
		if _, err := StorePath(bad); err == nil {
			t.Errorf("%q named a key", bad)
		}
	}
	p, _ = StorePath("../../etc/passwd")
	if filepath.Dir(p) != filepath.Join(dir, "hrvs", "keys") {
		t.Fatalf("%q escapes the key directory", p)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("HP\x02\x30" + string(bytes.Repeat([]byte{1}, 48))))
	f.Add([]byte("HP\x05\x00"))
	f.Add([]byte("HP\x01\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := read(bytes.NewReader(b), msgShare, 48)
		if err == nil && len(body) != 48 {
			t.Fatalf("accepted %d bytes", len(body))
		}
	})
}
