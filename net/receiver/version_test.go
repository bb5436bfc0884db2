package receiver_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/wire"
)

// syncBuffer is a bytes.Buffer safe for the receiver's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOtherProtocolVersionIsExplained: datagrams from an hrvs of another release
// are dropped and counted, and the log says why, once.
func TestOtherProtocolVersionIsExplained(t *testing.T) {
	var logs syncBuffer
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Sockets: 1, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rx.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	conn, err := net.Dial("udp", rx.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := wire.Header{Stream: 1, Frame: 1, Width: 256, Height: 128, FrameTiles: 1, TileW: 256, TileH: 128,
		Fragments: 1, PayloadSize: 10, Quality: 75}
	d := make([]byte, wire.HeaderSize+10)
	h.MarshalTo(d)
	d[2] = wire.Version - 1
	for range 5 {
		conn.Write(d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for rx.Stats().DatagramsInvalid < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := rx.Stats().DatagramsInvalid; n != 5 {
		t.Fatalf("%d datagrams counted invalid, want 5", n)
	}
	if got := strings.Count(logs.String(), "another protocol version"); got != 1 {
		t.Fatalf("logged %d times, want once:\n%s", got, logs.String())
	}
}
