package udp

import (
	"bytes"
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/hrvs/hrvs/internal/testrig"
	"golang.org/x/sys/unix"
)

// noChecksums turns UDP checksums off on c (SO_NO_CHECK), which GSO cannot do without.
func noChecksums(c *net.UDPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) }); err != nil {
		return err
	}
	return serr
}

// A kernel that refuses a GSO message (here a socket without UDP checksums, which
// GSO needs: net/ipv4/udp.c returns EINVAL) makes the Writer step down to
// sendmmsg once and deliver everything.
func TestWriterStepsDownWhenTheKernelRefusesGSO(t *testing.T) {
	rx, tx := pair(t)
	if err := noChecksums(tx); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(tx, SendGSO, 64)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(rx, RecvMmsg, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := runOf(20, 1400, 33)
	if n, err := w.Write(want); err != nil || n != len(want) {
		t.Fatalf("wrote %d of %d: %v", n, len(want), err)
	}
	if w.Path() != SendMmsg || w.Refused() == nil {
		t.Fatalf("path %s, refusal %v: want sendmmsg and the kernel's refusal", w.Path(), w.Refused())
	}
	got, _ := readAll(t, r, rx, tx, len(want))
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("datagram %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
}

// The mmsg path's slots start small; a longer datagram is reported cut, once, and
// the next ones arrive whole.
func TestMmsgReaderGrowsItsSlot(t *testing.T) {
	rx, tx := pair(t)
	r, err := NewReader(rx, RecvMmsg, 8)
	if err != nil {
		t.Fatal(err)
	}
	big := pattern(1, 9000)
	if _, err := tx.Write(big); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	rx.SetReadDeadline(time.Now().Add(testrig.Patience))
	msgs, _, err := r.Read(buf)
	if err != nil || len(msgs) != 1 || !msgs[0].Trunc || msgs[0].Len != firstSlot {
		t.Fatalf("first read: %+v, %v; want one datagram cut at %d", msgs, err, firstSlot)
	}
	if r.MinBuf() < len(big) {
		t.Fatalf("slot %d after a %d-byte datagram", r.MinBuf(), len(big))
	}
	if _, err := tx.Write(big); err != nil {
		t.Fatal(err)
	}
	msgs, _, err = r.Read(buf)
	if err != nil || len(msgs) != 1 || msgs[0].Trunc || !bytes.Equal(buf[msgs[0].Off:msgs[0].Off+msgs[0].Len], big) {
		t.Fatalf("second read: %+v, %v; want the datagram whole", msgs, err)
	}
}

// readCmsgs (once groSize, hence the name build.sh runs) reads control messages
// the kernel wrote; whatever the bytes, it must stay inside them and never panic.
func FuzzGroSize(f *testing.F) {
	ok := make([]byte, readCmsgBytes)
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&ok[0]))
	cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_GRO
	cm.SetLen(unix.CmsgLen(4))
	ok[unix.CmsgLen(0)] = 0x78
	f.Add(ok, len(ok))
	f.Add([]byte{}, 0)
	f.Add(make([]byte, 40), 100)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		// The buffer's alignment is the kernel's: copy into one like Reader's.
		oob := make([]byte, len(b)+8)
		copy(oob, b)
		readCmsgs(oob[:len(b)], n)
	})
}

// The errors that make a Writer or Reader step down, and those that do not.
func TestStepDownErrors(t *testing.T) {
	for _, c := range []struct {
		name        string
		err         error
		gso, noMmsg bool
	}{
		{"EIO (no checksum offload) refuses GSO", unix.EIO, true, false},
		{"EINVAL (no UDP checksums, a segment over the MTU) refuses GSO", unix.EINVAL, true, false},
		{"EOPNOTSUPP refuses GSO", unix.EOPNOTSUPP, true, false},
		{"ENOSYS means no sendmmsg or recvmmsg", unix.ENOSYS, false, true},
		{"EPERM is a firewall's drop on output, not the path's", unix.EPERM, false, false},
		{"ECONNREFUSED is the peer's, not the path's", unix.ECONNREFUSED, false, false},
		{"EMSGSIZE is the datagram's, not the path's", unix.EMSGSIZE, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if gsoRefusal(c.err) != c.gso || mmsgMissing(c.err) != c.noMmsg {
				t.Fatalf("gsoRefusal %v, mmsgMissing %v; want %v, %v", gsoRefusal(c.err), mmsgMissing(c.err), c.gso, c.noMmsg)
			}
		})
	}
}

// A socket whose buffer overflows tells its Reader how many datagrams it dropped,
// on every path: the receiver's own losses, which are not the path's.
func TestReaderCountsTheSocketsDrops(t *testing.T) {
	for _, path := range []RecvPath{RecvGRO, RecvMmsg, RecvPlain} {
		t.Run(path.String()+" reads the kernel's drop count", func(t *testing.T) {
			rx, tx := pair(t)
			r, err := NewReader(rx, path, 16)
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := r.Drops(); !ok || n != 0 {
				t.Fatalf("before any read Drops = %d, %v; want 0, true", n, ok)
			}
			// A buffer of a few KB (the kernel's floor) overflows within a burst.
			raw, _ := rx.SyscallConn()
			raw.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1024) })
			const burst = 300
			d := pattern(1, 1000)
			for i := 0; i < burst; i++ {
				if _, err := tx.Write(d); err != nil {
					t.Fatal(err)
				}
			}
			// Datagrams queued after the drops carry the count: read until one has.
			rx.SetReadDeadline(time.Now().Add(testrig.Patience))
			buf := make([]byte, 1<<20)
			for {
				if n, _ := r.Drops(); n > 0 {
					break
				}
				if _, err := tx.Write(d); err != nil {
					t.Fatal(err)
				}
				if _, _, err := r.Read(buf); err != nil {
					t.Fatalf("no drop count read before %v: %v", testrig.Patience, err)
				}
			}
			if n, ok := r.Drops(); !ok || n == 0 || n > burst {
				t.Fatalf("Drops = %d, %v; want 1..%d, true", n, ok, burst)
			}
		})
	}
}

// The kernel's counter is 32 bits and wraps; the Reader's count goes on.
func TestReaderDropCountSurvivesTheCounterWrapping(t *testing.T) {
	r := &Reader{dropsOn: true}
	for _, c := range []struct {
		v    uint32
		want uint64
	}{{5, 5}, {1<<32 - 2, 1<<32 - 2}, {3, 1<<32 + 3}, {3, 1<<32 + 3}} {
		r.noteDrops(c.v)
		if n, _ := r.Drops(); n != c.want {
			t.Fatalf("after counter %d: Drops = %d, want %d", c.v, n, c.want)
		}
	}
}

// readCmsgs finds both values in one control buffer, in either order.
func TestReadCmsgsFindsSegmentSizeAndDrops(t *testing.T) {
	oob := make([]byte, readCmsgBytes)
	put := func(off int, level, typ int32, v uint32) int {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
		cm.Level, cm.Type = level, typ
		cm.SetLen(unix.CmsgLen(4))
		*(*uint32)(unsafe.Pointer(&oob[off+unix.CmsgLen(0)])) = v
		return off + unix.CmsgSpace(4)
	}
	n := put(put(0, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 7), unix.SOL_UDP, unix.UDP_GRO, 1400)
	if gro, ovfl, ok := readCmsgs(oob, n); gro != 1400 || ovfl != 7 || !ok {
		t.Fatalf("readCmsgs = %d, %d, %v; want 1400, 7, true", gro, ovfl, ok)
	}
	if gro, _, ok := readCmsgs(oob, unix.CmsgSpace(4)); gro != 0 || !ok {
		t.Fatalf("first message only: gro %d, drops %v; want 0, true", gro, ok)
	}
}
