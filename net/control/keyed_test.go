package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

func key(b byte) *seal.Key {
	var k seal.Key
	for i := range k {
		k[i] = b ^ byte(i)
	}
	return &k
}

type keyedRig struct {
	srv  *Server
	cl   *Client
	last atomic.Uint32
	tx   *seal.Sealer
}

// startKeyed runs a server with rxKey (nil: unkeyed) and a client of stream 5 with txKey.
func startKeyed(t *testing.T, rxKey, txKey *seal.Key) *keyedRig {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Key = rxKey
	r := &keyedRig{srv: srv}
	r.cl = &Client{Addr: srv.Addr().String(), Stream: 5, Retry: 10 * time.Millisecond, Key: txKey,
		Suite: seal.PreferredSuite(), OnAck: func(a *wire.Ack, _ time.Time) { r.last.Store(a.Frame) }}
	r.cl.Random, _ = seal.Random()
	if txKey != nil {
		r.tx, _ = seal.NewSealer(r.cl.Suite, seal.DatagramKey(*txKey, r.cl.Suite, 5, r.cl.Random[:]))
		r.cl.NextCounter = r.tx.Next
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { srv.Run(ctx) })
	wg.Go(func() { r.cl.Run(ctx) })
	return r
}

func TestAKeyedLinkCarriesAcksAndInstallsTheDatagramKey(t *testing.T) {
	k := key(1)
	r := startKeyed(t, k, k)
	waitFor(t, "the handshake", func() bool { return r.srv.Connected() && r.srv.Opener(5) != nil })
	a := wire.Ack{Stream: 5, Frame: 77, FrameTiles: 1, GridTiles: 1, Got: []byte{0x80}}
	r.srv.SendAck(&a)
	waitFor(t, "a sealed ack", func() bool { return r.last.Load() == 77 })
	waitFor(t, "sealed pings both ways", func() bool { _, ok := r.srv.Offset(); return ok && r.cl.RTT() > 0 })
	hdr := []byte("a clear datagram header")
	d, _ := r.tx.Seal(nil, hdr, []byte("tile"))
	if p, _, err := r.srv.Opener(5).Open(nil, d, len(hdr)); err != nil || string(p) != "tile" {
		t.Fatalf("the receiver cannot open the sender's datagram: %q %v", p, err)
	}
	if r.srv.Opener(6) != nil {
		t.Fatal("a stream that never authenticated has an opener")
	}
}

func TestKeyMismatchesAreRefusedWithAReason(t *testing.T) {
	for _, c := range []struct {
		name       string
		rx, tx     *seal.Key
		want       error
		wantInText string
	}{
		{"when the two keys differ", key(1), key(2), ErrAuth, "proof does not verify"},
		{"when the receiver has a key and the sender none", key(1), nil, ErrRefused, "needs a key"},
		{"when the sender has a key and the receiver none", nil, key(1), ErrRefused, "has no key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := startKeyed(t, c.rx, c.tx)
			waitFor(t, "the refusal", func() bool { return r.cl.Refusal() != nil })
			if err := r.cl.Refusal(); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.wantInText) {
				t.Fatalf("refusal %v, want %v saying %q", err, c.want, c.wantInText)
			}
			if r.srv.Connected() || r.srv.Opener(5) != nil {
				t.Fatal("the refused sender was attached")
			}
		})
	}
}

// A receiver that refuses a sender holding another key says so in its own log, at
// warn, and only once for a burst of such attempts.
func TestAReceiverLogsAKeyMismatchOnce(t *testing.T) {
	var logs testrig.LogBuffer
	srv, err := Listen("127.0.0.1:0", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Key = key(1)
	cl := &Client{Addr: srv.Addr().String(), Stream: 5, Retry: 10 * time.Millisecond, Key: key(2), Suite: seal.PreferredSuite()}
	cl.Random, _ = seal.Random()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { srv.Run(ctx) })
	wg.Go(func() { cl.Run(ctx) })
	waitFor(t, "three refusals", func() bool { return srv.Rejected() >= 3 })
	out := logs.String()
	if n := strings.Count(out, "level=WARN msg=\"control: refused a connection"); n != 1 {
		t.Fatalf("%d warnings for a burst of refusals, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "most likely holds a different key") {
		t.Fatalf("the warning does not say why:\n%s", out)
	}
}

// A recorder between a real sender and the receiver keeps the sender's handshake bytes;
// replayed on a new connection they fail, since the receiver's random value is new.
func TestARecordedHandshakeCannotBeReplayed(t *testing.T) {
	k := key(3)
	srv, _ := Listen("127.0.0.1:0", nil)
	srv.Key = k
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { srv.Run(ctx) })

	// The recorder: a TCP relay that keeps what the sender wrote.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	var rec recorder
	wg.Go(func() {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			in.Close()
			return
		}
		context.AfterFunc(ctx, func() { in.Close(); out.Close() })
		go io.Copy(in, out)
		io.Copy(io.MultiWriter(out, &rec), in)
	})
	cl := &Client{Addr: ln.Addr().String(), Stream: 9, Key: k, Suite: seal.ChaCha20Poly1305}
	cl.Random, _ = seal.Random()
	wg.Go(func() { cl.Run(ctx) })
	waitFor(t, "the real sender's handshake", func() bool { return srv.Opener(9) != nil })
	before := srv.Rejected()

	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(rec.bytes()) // hello, proof and whatever followed, all at once
	waitFor(t, "the replay to be refused", func() bool { return srv.Rejected() > before })
	srv.mu.Lock()
	n := len(srv.streams[9])
	srv.mu.Unlock()
	if n != 1 {
		t.Fatalf("stream 9 has %d connections, want the real sender's alone", n)
	}
}

type recorder struct {
	mu  sync.Mutex
	buf []byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	return len(p), nil
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.buf...)
}

func TestATamperedSealedMessageEndsTheConnection(t *testing.T) {
	k := key(4)
	r := startKeyed(t, k, k)
	waitFor(t, "the handshake", func() bool { return r.srv.Connected() })
	// A sealed-looking ping whose tag is garbage, written on the sender's connection.
	bad := []byte{wire.MsgPing, 0, 8 + seal.TagSize}
	bad = append(bad, make([]byte, 8+seal.TagSize)...)
	// The server reads it as the next sealed message from the sender's connection.
	peer := r.cl.cur.Load()
	if peer == nil {
		t.Fatal("no client connection")
	}
	peer.mu.Lock()
	peer.c.Write(bad)
	peer.mu.Unlock()
	waitFor(t, "the receiver to drop the connection", func() bool { return !r.srv.Connected() || r.cl.Reconnects() > 0 })
}
