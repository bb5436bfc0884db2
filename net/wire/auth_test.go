package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestHandshakeMessagesRoundTrip(t *testing.T) {
	h := AuthHello{Stream: 0xdeadbeef, Suite: 2}
	h.Random[0], h.Random[31] = 1, 2
	var hb [AuthHelloSize]byte
	h.MarshalTo(hb[:])
	var h2 AuthHello
	if err := h2.Unmarshal(hb[:]); err != nil || h2 != h {
		t.Fatalf("auth hello: %+v %v", h2, err)
	}
	hb[2] = 2
	if err := h2.Unmarshal(hb[:]); !errors.Is(err, ErrVersion) {
		t.Fatalf("a version 2 auth hello: %v", err)
	}
	c := AuthChallenge{}
	c.Random[5], c.Proof[7] = 9, 10
	var cb [AuthChallengeSize]byte
	c.MarshalTo(cb[:])
	var c2 AuthChallenge
	if err := c2.Unmarshal(cb[:]); err != nil || c2 != c {
		t.Fatalf("challenge: %v", err)
	}
	p := AuthProof{NextCounter: 1 << 40}
	p.Proof[3] = 4
	var pb [AuthProofSize]byte
	p.MarshalTo(pb[:])
	var p2 AuthProof
	if err := p2.Unmarshal(pb[:]); err != nil || p2 != p {
		t.Fatalf("proof: %v", err)
	}
	r, err := ParseRefuse(AppendRefuse(nil, Refuse{Reason: RefuseBadProof, Text: strings.Repeat("x", 300)}))
	if err != nil || r.Reason != RefuseBadProof || len(r.Text) != MaxRefuseText {
		t.Fatalf("refuse: %+v %v", r, err)
	}
	for _, bad := range [][]byte{nil, hb[:AuthHelloSize-1], append(hb[:], 0)} {
		if err := h2.Unmarshal(bad); err == nil {
			t.Errorf("auth hello of %d bytes accepted", len(bad))
		}
	}
}

// FuzzAuthMessages feeds every handshake parser arbitrary bodies: they refuse or accept
// without panicking, and what they accept marshals back to the same bytes.
func FuzzAuthMessages(f *testing.F) {
	f.Add(make([]byte, AuthHelloSize))
	f.Add(make([]byte, AuthChallengeSize))
	f.Add(make([]byte, AuthProofSize))
	f.Add([]byte{3, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h AuthHello
		if h.Unmarshal(b) == nil {
			out := make([]byte, AuthHelloSize)
			h.MarshalTo(out)
			if !bytes.Equal(out[4:], b[4:]) {
				t.Fatalf("auth hello %x marshals back as %x", b, out)
			}
		}
		var c AuthChallenge
		if c.Unmarshal(b) == nil {
			out := make([]byte, AuthChallengeSize)
			c.MarshalTo(out)
			if !bytes.Equal(out, b) {
				t.Fatal("challenge does not round-trip")
			}
		}
		var p AuthProof
		if p.Unmarshal(b) == nil {
			out := make([]byte, AuthProofSize)
			p.MarshalTo(out)
			if !bytes.Equal(out, b) {
				t.Fatal("proof does not round-trip")
			}
		}
		if r, err := ParseRefuse(b); err == nil && len(r.Text) > MaxRefuseText {
			t.Fatal("refuse text over the limit")
		}
	})
}
