package sender

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
	"golang.org/x/sys/unix"
)

// A kernel that refuses GSO (here: sockets without UDP checksums, which GSO needs)
// costs nothing: every datagram still arrives, and the step down is said once.
func TestPackerStepsDownWhenTheKernelRefusesGSO(t *testing.T) {
	p, ln := loopbackPacker(t, udp.SendGSO, 2, 1400, nil)
	var logged bytes.Buffer
	p.log = slog.New(slog.NewTextHandler(&logged, nil))
	for _, c := range p.conns {
		raw, err := c.(*net.UDPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var serr error
		raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) })
		if serr != nil {
			t.Fatal(serr)
		}
	}
	o := p.newOutbox()
	fj := &frameJob{hdr: wire.Header{Stream: 1, Frame: 1, Width: 512, Height: 128, FrameTiles: 2, TileW: 256, TileH: 128, Quality: 50}}
	for i := range 2 {
		p.packTile(o, fj, tileJob{fj: fj, tile: i}, filled(i, 20000), i)
	}
	p.finish(o, fj, 0)
	if n := p.count.sendErrs.Load(); n != 0 {
		t.Fatalf("%d send errors", n)
	}
	sent := int(p.count.datagrams.Load())
	buf := make([]byte, wire.MaxDatagram)
	ln.SetReadDeadline(time.Now().Add(testrig.Patience))
	for i := 0; i < sent; i++ {
		if _, err := ln.Read(buf); err != nil {
			t.Fatalf("%d of %d datagrams arrived: %v", i, sent, err)
		}
	}
	if got := strings.Count(logged.String(), "sending without GSO"); got != 1 || !strings.Contains(logged.String(), "path=sendmmsg") {
		t.Fatalf("logged %q: want the step down to sendmmsg said once", logged.String())
	}
}
