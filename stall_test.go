package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

var errNotYet = errors.New("not yet")

// TestAfterAStallTheReceiverJumpsToTheNewestFrame stops a receiving process for 3 s
// (SIGSTOP), as a loaded or suspended machine does, while the sender goes on. When it
// resumes, its socket holds a backlog of old frames: it drops them as stale instead of
// showing them, so the picture is live again at once.
func TestAfterAStallTheReceiverJumpsToTheNewestFrame(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	statsPath := filepath.Join(t.TempDir(), "recv.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rx := exec.CommandContext(ctx, os.Args[0], "recv", "--listen", addr, "--sink", "null", "--sockets", "2", "--stats-json", statsPath)
	rx.Env = append(os.Environ(), "HRVS_TEST_AS_MAIN=1")
	if err := rx.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { rx.Process.Kill(); rx.Wait() }()

	pat, _ := capture.NewPattern(640, 384, 30)
	tx, err := sender.New(sender.Config{To: addr, Quality: 75, Window: 1000, FEC: -1,
		NewEncoder: func() tile.Encoder { return &tile.FastEncoder{} }})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- tx.Run(sctx, pat, 0) }()
	defer func() { stop(); <-sent }()
	// The clocks are related once the first pings are answered (each end pings at
	// connect); the sender's round trip says its ping was.
	testrig.Eventually(t, testrig.Patience, func() error {
		if s := tx.Stats(); !s.ControlConnected || s.RTTMs <= 0 || s.FramesSent < 30 {
			return errNotYet
		}
		return nil
	})
	if err := rx.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	before := tx.Stats().FramesSent
	testrig.Eventually(t, testrig.Patience, func() error {
		if tx.Stats().FramesSent < before+60 { // 2 s of frames at 30 fps go into the socket
			return errNotYet
		}
		return nil
	})
	if err := rx.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	after := tx.Stats().FramesSent
	testrig.Eventually(t, testrig.Patience, func() error {
		if tx.Stats().FramesSent < after+30 {
			return errNotYet
		}
		return nil
	})
	rx.Process.Signal(os.Interrupt)
	rx.Wait()
	var st struct {
		FramesReceived uint64 `json:"frames_received"`
		Stale          uint64 `json:"datagrams_stale"`
	}
	b, err := os.ReadFile(statsPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Stale == 0 {
		t.Fatalf("no datagram of the backlog was dropped as stale: the receiver showed it (%s)", b)
	}
	if st.FramesReceived == 0 {
		t.Fatalf("no frame received: %s", b)
	}
}
