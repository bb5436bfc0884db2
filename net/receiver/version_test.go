package receiver_test

import (
	"bytes"
	"log/slog"
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
	rx, conn, _ := startReceiver(t, receiver.Config{Log: slog.New(slog.NewTextHandler(&logs, nil))})
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
