package udp

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
)

// runOf is n datagrams of size bytes and a last one of last bytes, each filled
// with its own index so a swap or a shifted cut shows.
func runOf(n, size, last int) [][]byte {
	out := make([][]byte, 0, n+1)
	for i := 0; i < n; i++ {
		out = append(out, pattern(len(out), size))
	}
	if last > 0 {
		out = append(out, pattern(len(out), last))
	}
	return out
}

func pattern(seed, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(seed*7 + i)
	}
	return b
}

// readAll reads until it has want datagrams, into one arena as the receiver does,
// checking that each comes from the sender, and says how many buffers the kernel
// filled.
func readAll(t *testing.T, r *Reader, rx, tx *net.UDPConn, want int) (got [][]byte, bufs int) {
	t.Helper()
	rx.SetReadDeadline(time.Now().Add(testrig.Patience))
	arena := make([]byte, 1<<20)
	off := 0
	txPort := tx.LocalAddr().(*net.UDPAddr).Port
	for len(got) < want {
		if len(arena)-off < r.MinBuf() {
			off = 0
		}
		msgs, used, err := r.Read(arena[off:])
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), want, err)
		}
		last := -1
		for _, m := range msgs {
			if slot := m.Off / r.MinBuf(); slot != last {
				bufs, last = bufs+1, slot
			}
			if int(m.From.Port()) != txPort || m.Trunc {
				t.Fatalf("datagram %d from %v (trunc %v), want port %d", len(got), m.From, m.Trunc, txPort)
			}
			got = append(got, bytes.Clone(arena[off+m.Off:off+m.Off+m.Len]))
		}
		off += used
	}
	return got, bufs
}

func TestEveryPathCarriesEveryDatagramByteExact(t *testing.T) {
	sets := []struct {
		name   string
		dgrams [][]byte
		large  bool // longer than the mmsg path's first slot, which cuts the first (TestMmsgReaderGrowsItsSlot)
	}{
		{"one datagram", runOf(1, 1400, 0), false},
		{"a run of equal datagrams", runOf(40, 1400, 0), false},
		{"a run with an odd short last datagram", runOf(13, 1400, 377), false},
		{"a run with a one-byte last datagram", runOf(5, 1213, 1), false},
		{"a run longer than one GSO message holds", runOf(150, 1400, 999), false},
		{"datagrams of mixed sizes", mixed(), false},
		{"datagrams larger than the first receive slot", runOf(6, 9000, 4001), true},
		{"a datagram of nearly 64 KB among small ones", [][]byte{pattern(0, 100), pattern(1, 65000), pattern(2, 100)}, true},
	}
	for _, sp := range []SendPath{SendGSO, SendMmsg, SendPlain} {
		for _, rp := range []RecvPath{RecvGRO, RecvMmsg, RecvPlain} {
			for _, set := range sets {
				if set.large && rp == RecvMmsg {
					continue
				}
				t.Run(fmt.Sprintf("%s to %s: %s", sp, rp, set.name), func(t *testing.T) {
					rx, tx := pair(t)
					w, err := NewWriter(tx, sp, 64)
					if err != nil {
						t.Fatal(err)
					}
					r, err := NewReader(rx, rp, 16)
					if err != nil {
						t.Fatal(err)
					}
					if runtime.GOOS == "linux" && (w.Path() != sp || r.Path() != rp) {
						t.Fatalf("asked for %s and %s, got %s (%v) and %s (%v)", sp, rp, w.Path(), w.Refused(), r.Path(), r.Refused())
					}
					n, err := w.Write(set.dgrams)
					if err != nil || n != len(set.dgrams) {
						t.Fatalf("wrote %d of %d: %v", n, len(set.dgrams), err)
					}
					got, bufs := readAll(t, r, rx, tx, len(set.dgrams))
					if sp == SendGSO && rp == RecvGRO && set.name == "a run of equal datagrams" && bufs != 1 {
						t.Fatalf("a GSO run came in %d buffers, want 1: GRO on loopback keeps it whole", bufs)
					}
					for i := range set.dgrams {
						if !bytes.Equal(got[i], set.dgrams[i]) {
							t.Fatalf("datagram %d: %d bytes (%x...), want %d (%x...)", i, len(got[i]), head(got[i]), len(set.dgrams[i]), head(set.dgrams[i]))
						}
					}
				})
			}
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 4)] }

// mixed is runs of several sizes back to back, a longer datagram after a shorter
// one (which must start a new GSO message) and an empty datagram.
func mixed() [][]byte {
	var out [][]byte
	for _, s := range []int{1400, 1400, 1400, 700, 1400, 1400, 90, 90, 90, 1401, 0, 0, 5, 1400, 1399, 1398, 2000, 3} {
		out = append(out, pattern(len(out), s))
	}
	return out
}

func TestReaderRefusesAShortBuffer(t *testing.T) {
	rx, _ := pair(t)
	for _, rp := range []RecvPath{RecvGRO, RecvMmsg, RecvPlain} {
		t.Run(rp.String()+" refuses a buffer shorter than a slot", func(t *testing.T) {
			r, err := NewReader(rx, rp, 4)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.Read(make([]byte, r.MinBuf()-1)); err != ErrShortBuffer {
				t.Fatalf("err = %v, want ErrShortBuffer", err)
			}
		})
	}
}

func TestWriterAndReaderAllocateNothingPerCall(t *testing.T) {
	for _, c := range []struct {
		sp SendPath
		rp RecvPath
	}{{SendGSO, RecvGRO}, {SendMmsg, RecvMmsg}, {SendPlain, RecvPlain}} {
		t.Run(fmt.Sprintf("%s and %s allocate nothing", c.sp, c.rp), func(t *testing.T) {
			rx, tx := pair(t)
			w, _ := NewWriter(tx, c.sp, 64)
			r, _ := NewReader(rx, c.rp, 16)
			out := runOf(16, 1400, 100)
			arena := make([]byte, 1<<20)
			rx.SetReadDeadline(time.Now().Add(testrig.Patience))
			allocs := testing.AllocsPerRun(50, func() {
				if _, err := w.Write(out); err != nil {
					t.Fatal(err)
				}
				for got := 0; got < len(out); {
					msgs, _, err := r.Read(arena)
					if err != nil {
						t.Fatal(err)
					}
					got += len(msgs)
				}
			})
			if allocs != 0 {
				t.Fatalf("%.1f allocations per batch written and read, want 0", allocs)
			}
		})
	}
}

func TestPathsHaveNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{{SendGSO.String(), "gso"}, {SendMmsg.String(), "sendmmsg"}, {SendPlain.String(), "plain"}, {SendPath(9).String(), "unknown"},
		{RecvGRO.String(), "gro"}, {RecvMmsg.String(), "recvmmsg"}, {RecvPlain.String(), "plain"}, {RecvPath(9).String(), "unknown"}} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
