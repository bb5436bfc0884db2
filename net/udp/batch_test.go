package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
)

// pair returns a receiving socket and a sending socket connected to it, on loopback.
func pair(t testing.TB) (rx, tx *net.UDPConn) {
	t.Helper()
	rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tx, err = net.DialUDP("udp", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		rx.Close()
		t.Fatal(err)
	}
	for _, c := range []*net.UDPConn{rx, tx} {
		if _, _, err := RaiseBuffers(c, BufferBytes); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { rx.Close(); tx.Close() })
	return rx, tx
}

func datagrams(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.Repeat([]byte{byte(i)}, 1+i*13%1400)
	}
	return out
}

func TestBatchCarriesEveryDatagram(t *testing.T) {
	tests := []struct {
		name       string
		send, read int // datagrams sent; batch size on both ends
	}{
		{"one datagram in a batch of one", 1, 1},
		{"a full batch in one call", 32, 32},
		{"more datagrams than a batch take several calls", 100, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rx, tx := pair(t)
			wb, err := NewBatch(tx, tc.read)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := NewBatch(rx, tc.read)
			if err != nil {
				t.Fatal(err)
			}
			want := datagrams(tc.send)
			for rest := want; len(rest) > 0; {
				n, err := wb.Write(rest)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					t.Fatal("Write sent nothing")
				}
				rest = rest[n:]
			}
			bufs := make([][]byte, tc.read)
			for i := range bufs {
				bufs[i] = make([]byte, 2048)
			}
			sizes := make([]int, tc.read)
			from := make([]netip.AddrPort, tc.read)
			txAddr := tx.LocalAddr().(*net.UDPAddr).AddrPort()
			rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			var got [][]byte
			for len(got) < len(want) {
				n, err := rb.Read(bufs, sizes, from)
				if err != nil {
					t.Fatalf("after %d datagrams: %v", len(got), err)
				}
				for i := 0; i < n; i++ {
					if from[i].Port() != txAddr.Port() || !from[i].Addr().Unmap().IsLoopback() {
						t.Fatalf("datagram %d from %v, want %v", len(got), from[i], txAddr)
					}
					got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
				}
			}
			for i := range want {
				// Loopback keeps the order of one socket's datagrams.
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("datagram %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
				}
			}
		})
	}
}

func TestBatchRefusesBadSizes(t *testing.T) {
	rx, _ := pair(t)
	for _, n := range []int{0, -1, 1025} {
		t.Run(fmt.Sprintf("a batch of %d is refused", n), func(t *testing.T) {
			if _, err := NewBatch(rx, n); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestBatchWriteOnAnUnconnectedSocketFails(t *testing.T) {
	rx, _ := pair(t)
	b, err := NewBatch(rx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.Write(datagrams(2)); err == nil || n != 0 {
		t.Fatalf("Write without a peer: %d, %v; want an error", n, err)
	}
}

func TestBatchReadEndsWhenTheSocketCloses(t *testing.T) {
	rx, _ := pair(t)
	b, err := NewBatch(rx, 4)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, 100)}
		_, err := b.Read(bufs, make([]int, 1), nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	rx.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("err = %v, want net.ErrClosed", err)
		}
	case <-time.After(testrig.Patience):
		t.Fatal("Read still blocked after Close")
	}
}

func TestBatchAllocatesNothingPerCall(t *testing.T) {
	rx, tx := pair(t)
	wb, _ := NewBatch(tx, 16)
	rb, _ := NewBatch(rx, 16)
	out := datagrams(16)
	bufs := datagrams(16)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes := make([]int, 16)
	from := make([]netip.AddrPort, 16)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := wb.Write(out); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(out); {
			n, err := rb.Read(bufs, sizes, from)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per batch written and read, want 0", allocs)
	}
}

// BenchmarkLoopbackDatagrams sends and receives 64 datagrams of 1400 bytes per op,
// one system call per datagram (what net/sender and net/receiver do today) against
// one sendmmsg and recvmmsg per batch.
func BenchmarkLoopbackDatagrams(b *testing.B) {
	const n, size = 64, 1400
	payload := make([][]byte, n)
	for i := range payload {
		payload[i] = make([]byte, size)
	}
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	b.Run("one-per-syscall", func(b *testing.B) {
		rx, tx := pair(b)
		b.ReportAllocs()
		b.SetBytes(n * size)
		for range b.N {
			for _, p := range payload {
				if _, err := tx.Write(p); err != nil {
					b.Fatal(err)
				}
			}
			for range n {
				if _, _, err := rx.ReadFromUDPAddrPort(bufs[0]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("batched", func(b *testing.B) {
		rx, tx := pair(b)
		wb, _ := NewBatch(tx, n)
		rb, _ := NewBatch(rx, n)
		sizes := make([]int, n)
		from := make([]netip.AddrPort, n)
		b.ReportAllocs()
		b.SetBytes(n * size)
		for range b.N {
			if _, err := wb.Write(payload); err != nil {
				b.Fatal(err)
			}
			for got := 0; got < n; {
				k, err := rb.Read(bufs, sizes, from)
				if err != nil {
					b.Fatal(err)
				}
				got += k
			}
		}
	})
}
