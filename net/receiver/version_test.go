package receiver_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/wire"
)

// TestOtherProtocolVersionIsExplained: datagrams from an hrvs of another release
// are dropped and counted, and the log says why, once.
func TestOtherProtocolVersionIsExplained(t *testing.T) {
	var logs testrig.LogBuffer
	rx, conn, _ := startReceiver(t, receiver.Config{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	h := wire.Header{Stream: 1, Frame: 1, Width: 256, Height: 128, FrameTiles: 1, TileW: 256, TileH: 128,
		Fragments: 1, PayloadSize: 10, Quality: 75}
	d := make([]byte, wire.HeaderSize+10)
	h.MarshalTo(d)
	d[2] = wire.Version - 1
	for range 5 {
		conn.Write(d)
	}
	testrig.Eventually(t, testrig.Patience, func() error {
		if n := rx.Stats().DatagramsInvalid; n < 5 {
			return fmt.Errorf("%d datagrams counted invalid, want 5", n)
		}
		return nil
	})
	if n := rx.Stats().DatagramsInvalid; n != 5 {
		t.Fatalf("%d datagrams counted invalid, want 5", n)
	}
	if got := strings.Count(logs.String(), "another protocol version"); got != 1 {
		t.Fatalf("logged %d times, want once:\n%s", got, logs.String())
	}
}
