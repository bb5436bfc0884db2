package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testKey(b byte) Key {
	var k Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestKeyTextRoundTripsAndRefusesJunk(t *testing.T) {
	k := testKey(7)
	text, _ := k.MarshalText()
	var back Key
	if err := back.UnmarshalText(append(text, '\n')); err != nil || back != k {
		t.Fatalf("round trip: %v, %x", err, back)
	}
	for _, bad := range []string{"", "hrvs-key-v1", "hrvs-key-v1 short", "hrvs-key-v2 " + string(text[12:]), string(text) + "A", strings.Replace(string(text), "hrvs", "HRVS", 1)} {
		if err := back.UnmarshalText([]byte(bad)); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("%q: got %v, want ErrKeyFormat", bad, err)
		}
	}
}

func TestFingerprintIsShortStableAndKeyDependent(t *testing.T) {
	a, b := testKey(1).Fingerprint(), testKey(2).Fingerprint()
	if len(a) != 9 || a[4] != '-' || a == b || a != testKey(1).Fingerprint() {
		t.Fatalf("fingerprints %q %q", a, b)
	}
}

func TestKeyFilesAreprivateAndNeverOverwritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "stream.key")
	k := testKey(3)
	if err := WriteKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := WriteKeyFile(path, testKey(4)); err == nil {
		t.Fatal("a second write replaced the key")
	}
	got, err := ReadKeyFile(path)
	if err != nil || got != k {
		t.Fatalf("read back: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := ReadKeyFile(path); !errors.Is(err, ErrKeyMode) {
		t.Fatalf("a world-readable key file: %v, want ErrKeyMode", err)
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing key file read without error")
	}
	if _, err := ReadKeyFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("a directory as key file: %v, want one saying it is a directory", err)
	}
}

var header = []byte("HV\x03\x10 the clear header fields")

func pair(t *testing.T, s Suite) (*Sealer, *Opener) {
	t.Helper()
	key := DatagramKey(testKey(9), s, 0xabcd, bytes.Repeat([]byte{5}, RandomSize))
	tx, err := NewSealer(s, key)
	if err != nil {
		t.Fatal(err)
	}
	rx, err := NewOpener(s, key)
	if err != nil {
		t.Fatal(err)
	}
	return tx, rx
}

func TestSealedDatagrams(t *testing.T) {
	for _, s := range []Suite{ChaCha20Poly1305, AES256GCM} {
		t.Run(s.String(), func(t *testing.T) {
			tx, rx := pair(t, s)
			payload := []byte("tile payload bytes")
			d, err := tx.Seal(nil, header, payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(d) != len(header)+len(payload)+Overhead || !bytes.Equal(d[:len(header)], header) {
				t.Fatalf("layout: %d bytes, header %q", len(d), d[:len(header)])
			}
			if bytes.Contains(d, payload) {
				t.Fatal("payload travels in the clear")
			}
			t.Run("open the datagram once", func(t *testing.T) {
				got, n, err := rx.Open(nil, d, len(header))
				if err != nil || n != 1 || !bytes.Equal(got, payload) {
					t.Fatalf("open: %q %d %v", got, n, err)
				}
			})
			t.Run("refuse it replayed", func(t *testing.T) {
				if _, _, err := rx.Open(nil, d, len(header)); !errors.Is(err, ErrReplay) {
					t.Fatalf("replay: %v", err)
				}
			})
			t.Run("refuse every single flipped bit", func(t *testing.T) {
				tx, rx := pair(t, s)
				d, _ := tx.Seal(nil, header, payload)
				for i := range len(d) * 8 {
					bad := bytes.Clone(d)
					bad[i/8] ^= 1 << (i % 8)
					if _, _, err := rx.Open(nil, bad, len(header)); err == nil {
						t.Fatalf("bit %d flipped: opened", i)
					}
				}
				if _, _, err := rx.Open(nil, d, len(header)); err != nil {
					t.Fatalf("the intact datagram after the forgeries: %v", err)
				}
			})
			t.Run("refuse another key or a short datagram", func(t *testing.T) {
				other, _ := NewOpener(s, DatagramKey(testKey(10), s, 0xabcd, bytes.Repeat([]byte{5}, RandomSize)))
				d, _ := tx.Seal(nil, header, payload)
				if _, _, err := other.Open(nil, d, len(header)); !errors.Is(err, ErrAuth) {
					t.Fatalf("another key: %v", err)
				}
				if _, _, err := rx.Open(nil, d[:len(header)+Overhead-1], len(header)); !errors.Is(err, ErrShort) {
					t.Fatalf("short: %v", err)
				}
			})
		})
	}
}

func TestDatagramKeysDifferByEveryInput(t *testing.T) {
	r1, r2 := bytes.Repeat([]byte{1}, RandomSize), bytes.Repeat([]byte{2}, RandomSize)
	base := DatagramKey(testKey(1), AES256GCM, 1, r1)
	for name, k := range map[string][]byte{
		"psk":    DatagramKey(testKey(2), AES256GCM, 1, r1),
		"suite":  DatagramKey(testKey(1), ChaCha20Poly1305, 1, r1),
		"stream": DatagramKey(testKey(1), AES256GCM, 2, r1),
		"random": DatagramKey(testKey(1), AES256GCM, 1, r2),
	} {
		if bytes.Equal(k, base) {
			t.Errorf("changing the %s leaves the key unchanged", name)
		}
	}
}

func TestWindowFollowsRFC6479(t *testing.T) {
	var w Window
	steps := []struct {
		n    uint64
		want bool
	}{
		{0, false}, {1, true}, {1, false}, {3, true}, {2, true}, {2, false},
		{5000, true}, {5000 - WindowSpan + 1, true}, {5000 - WindowSpan, false}, {3, false},
		{4999, true}, {1 << 40, true}, {5001, false}, {1<<40 - 1, true}, {1 << 40, false},
	}
	for i, s := range steps {
		if got := w.Accept(s.n); got != s.want {
			t.Fatalf("step %d: Accept(%d) = %v, want %v", i, s.n, got, s.want)
		}
	}
}

func TestWindowForgetsNothingInsideItsSpan(t *testing.T) {
	var w Window
	// Counters arrive shuffled within the span; each is accepted once.
	for base := uint64(1); base < 20000; base += 997 {
		for i := uint64(0); i < 997; i++ {
			n := base + (i*613)%997
			if !w.Accept(n) || w.Accept(n) {
				t.Fatalf("counter %d", n)
			}
		}
	}
}

func TestOpenIsSafeFromManyReaders(t *testing.T) {
	tx, rx := pair(t, ChaCha20Poly1305)
	const n = 2000
	ds := make([][]byte, n)
	for i := range ds {
		ds[i], _ = tx.Seal(nil, header, []byte{byte(i)})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened := 0
	for r := range 4 {
		wg.Go(func() {
			for i := r; i < n; i += 2 { // every datagram is offered to two readers
				if _, _, err := rx.Open(nil, ds[i], len(header)); err == nil {
					mu.Lock()
					opened++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if opened != n {
		t.Fatalf("opened %d of %d (each exactly once)", opened, n)
	}
}

func TestHandshakeProofsAndControlChannel(t *testing.T) {
	sr, _ := Random()
	rr, _ := Random()
	tx, err := NewSession(testKey(1), ChaCha20Poly1305, 42, sr, rr)
	if err != nil {
		t.Fatal(err)
	}
	rx, _ := NewSession(testKey(1), ChaCha20Poly1305, 42, sr, rr)
	liar, _ := NewSession(testKey(2), ChaCha20Poly1305, 42, sr, rr)
	tr := Transcript([]byte("hello"), []byte("reply"))
	if !Verify(tx.SenderProof(tr), rx.SenderProof(tr)) || !Verify(tx.ReceiverProof(tr), rx.ReceiverProof(tr)) {
		t.Fatal("the two ends disagree")
	}
	if Verify(tx.SenderProof(tr), tx.ReceiverProof(tr)) {
		t.Fatal("a sender proof passes as the receiver's (reflection)")
	}
	if Verify(liar.SenderProof(tr), rx.SenderProof(tr)) {
		t.Fatal("a proof without the key passes")
	}
	if Verify(tx.SenderProof(Transcript([]byte("hello"), []byte("replY"))), rx.SenderProof(tr)) {
		t.Fatal("a changed transcript passes")
	}
	a, _ := tx.Channel(true)
	b, _ := rx.Channel(false)
	for i := range 3 {
		m, _ := a.Seal(nil, []byte{1}, []byte("ack"))
		got, err := b.Open(nil, []byte{1}, m)
		if err != nil || string(got) != "ack" {
			t.Fatalf("message %d: %q %v", i, got, err)
		}
	}
	m, _ := a.Seal(nil, []byte{1}, []byte("ack"))
	if _, err := b.Open(nil, []byte{2}, m); !errors.Is(err, ErrAuth) {
		t.Fatalf("changed clear type: %v", err)
	}
	// The reverse direction has its own key: a message reflected back fails.
	r, _ := b.Seal(nil, []byte{1}, []byte("pong"))
	if _, err := b.Open(nil, []byte{1}, r); err == nil {
		t.Fatal("a reflected message opened")
	}
}

func FuzzOpen(f *testing.F) {
	tx, _ := NewSealer(AES256GCM, make([]byte, 32))
	d, _ := tx.Seal(nil, header, []byte("payload"))
	f.Add(d, len(header))
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, d []byte, hl int) {
		rx, _ := NewOpener(AES256GCM, make([]byte, 32))
		if p, _, err := rx.Open(nil, d, hl); err == nil && len(p) != len(d)-hl-Overhead {
			t.Fatalf("opened %d bytes from %d", len(p), len(d))
		}
	})
}

func TestAStartedOpenerRefusesWhatCameBefore(t *testing.T) {
	tx, rx := pair(t, AES256GCM)
	old, _ := tx.Seal(nil, header, []byte("recorded earlier"))
	rx.Start(tx.Next())
	if _, _, err := rx.Open(nil, old, len(header)); !errors.Is(err, ErrReplay) {
		t.Fatalf("a datagram from before the handshake: %v", err)
	}
	d, _ := tx.Seal(nil, header, []byte("live"))
	if _, _, err := rx.Open(nil, d, len(header)); err != nil {
		t.Fatalf("the next datagram: %v", err)
	}
}

func TestWholeDatagramsSealAndOpenInPlace(t *testing.T) {
	tx, rx := pair(t, ChaCha20Poly1305)
	clear := append(append([]byte{}, header...), []byte("the fragment payload")...)
	d, err := tx.SealDatagram(nil, clear, len(header))
	if err != nil || len(d) != len(clear)+Overhead {
		t.Fatalf("sealed %d bytes, %v", len(d), err)
	}
	got, err := rx.OpenDatagram(d, len(header))
	if err != nil || !bytes.Equal(got, clear) {
		t.Fatalf("opened %q, %v", got, err)
	}
	if _, err := rx.OpenDatagram(d[:len(header)+Overhead-1], len(header)); !errors.Is(err, ErrShort) {
		t.Fatalf("short: %v", err)
	}
}
