package control

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// ErrRefused is wrapped by the error of a connection the peer refused during the
// handshake; the peer's reason follows it.
var ErrRefused = errors.New("control: refused")

// ErrAuth is wrapped when the peer could not prove it holds the key.
var ErrAuth = errors.New("control: the peer does not hold this key")

// maxStreams bounds the datagram openers a keyed Server keeps (one per sender stream).
const maxStreams = 16

func refuse(c *conn, reason uint8, text string) {
	c.send(wire.MsgRefuse, wire.AppendRefuse(nil, wire.Refuse{Reason: reason, Text: text}))
}

// refusal turns a Refuse body into an error.
func refusal(body []byte) error {
	r, err := wire.ParseRefuse(body)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrRefused, r.Text)
}

// counterBytes is the AuthProof's next counter as the transcript covers it.
func counterBytes(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// serverHandshake runs the receiver's side of §7.2 after the first message (typ, body)
// arrived, and returns the stream the connection proved its key for. On success the
// connection is sealed and the stream's datagram opener is installed.
func (s *Server) serverHandshake(c *conn, typ uint8, body []byte) (uint32, error) {
	switch {
	case typ == wire.MsgHello:
		refuse(c, wire.RefuseNeedKey, "this receiver needs a key: give the sender --key FILE (the receiver's key) or pair them with --pair")
		return 0, errors.New("sender offered no key")
	case typ != wire.MsgAuthHello:
		return 0, fmt.Errorf("first message is type %d, not a hello", typ)
	}
	var h wire.AuthHello
	if err := h.Unmarshal(body); err != nil {
		return 0, err
	}
	hello := append([]byte(nil), body...)
	rr, err := seal.Random()
	if err != nil {
		return 0, err
	}
	ses, err := seal.NewSession(*s.Key, seal.Suite(h.Suite), h.Stream, h.Random, rr)
	if err != nil {
		refuse(c, wire.RefuseSuite, fmt.Sprintf("unknown AEAD suite %d", h.Suite))
		return 0, err
	}
	ch := wire.AuthChallenge{Random: rr}
	copy(ch.Proof[:], ses.ReceiverProof(seal.Transcript(hello, rr[:])))
	var cb [wire.AuthChallengeSize]byte
	ch.MarshalTo(cb[:])
	if err := c.send(wire.MsgAuthChallenge, cb[:]); err != nil {
		return 0, err
	}
	buf := make([]byte, wire.MaxControlBody)
	typ, body, err = wire.ReadMsg(c.c, buf)
	if errors.Is(err, io.EOF) {
		// A sender whose key does not verify our proof hangs up without a word (it tells
		// a receiver that cannot prove the key nothing): that is what this looks like here.
		return 0, fmt.Errorf("the sender hung up after the key challenge: it most likely holds a different key (key %s here): %w", s.Key.Fingerprint(), err)
	}
	if err != nil {
		return 0, err
	}
	if typ == wire.MsgRefuse {
		return 0, refusal(body)
	}
	var p wire.AuthProof
	if typ != wire.MsgAuthProof {
		return 0, fmt.Errorf("expected the sender's proof, got type %d", typ)
	}
	if err := p.Unmarshal(body); err != nil {
		return 0, err
	}
	if !seal.Verify(p.Proof[:], ses.SenderProof(seal.Transcript(hello, cb[:], counterBytes(p.NextCounter)))) {
		refuse(c, wire.RefuseBadProof, "the sender's proof does not verify: the two ends hold different keys")
		return 0, ErrAuth
	}
	if c.ch, err = ses.Channel(false); err != nil {
		return 0, err
	}
	if err := s.install(h, p.NextCounter); err != nil {
		return 0, err
	}
	return h.Stream, nil
}

// install keeps the datagram opener of an authenticated stream. A sender that reconnects
// with the same random value keeps its opener (and replay window); a new random value
// (a restarted sender) replaces it.
func (s *Server) install(h wire.AuthHello, next uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.openers[h.Stream]; ok && o.random == h.Random {
		return nil
	}
	op, err := seal.NewOpener(seal.Suite(h.Suite), seal.DatagramKey(*s.Key, seal.Suite(h.Suite), h.Stream, h.Random[:]))
	if err != nil {
		return err
	}
	op.Start(next)
	if _, ok := s.openers[h.Stream]; !ok && len(s.openers) >= maxStreams {
		oldest := uint32(0)
		var at time.Time
		for id, o := range s.openers {
			if at.IsZero() || o.at.Before(at) {
				oldest, at = id, o.at
			}
		}
		delete(s.openers, oldest)
	}
	s.openers[h.Stream] = keyedStream{Opener: op, random: h.Random, at: time.Now()}
	return nil
}

// Opener is the datagram opener of an authenticated stream, or nil: with a key, a
// datagram of a stream without one is dropped (docs/PROTOCOL.md §7.3).
func (s *Server) Opener(stream uint32) *seal.Opener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openers[stream].Opener
}

type keyedStream struct {
	*seal.Opener
	random [wire.RandomSize]byte
	at     time.Time
}

// clientHandshake runs the sender's side of §7.2; on success the connection is sealed.
func (c *Client) clientHandshake(cn *conn) error {
	h := wire.AuthHello{Stream: c.Stream, Suite: uint8(c.Suite), Random: c.Random}
	var hb [wire.AuthHelloSize]byte
	h.MarshalTo(hb[:])
	if err := cn.send(wire.MsgAuthHello, hb[:]); err != nil {
		return err
	}
	cn.c.SetReadDeadline(time.Now().Add(HelloTimeout))
	buf := make([]byte, wire.MaxControlBody)
	typ, body, err := wire.ReadMsg(cn.c, buf)
	if err != nil {
		return err
	}
	if typ == wire.MsgRefuse {
		return refusal(body)
	}
	var ch wire.AuthChallenge
	if typ != wire.MsgAuthChallenge {
		return fmt.Errorf("%w: expected the receiver's challenge, got type %d", wire.ErrControl, typ)
	}
	if err := ch.Unmarshal(body); err != nil {
		return err
	}
	ses, err := seal.NewSession(*c.Key, c.Suite, c.Stream, c.Random, ch.Random)
	if err != nil {
		return err
	}
	if !seal.Verify(ch.Proof[:], ses.ReceiverProof(seal.Transcript(hb[:], ch.Random[:]))) {
		// Say nothing more to a receiver that cannot prove the key.
		return fmt.Errorf("%w: its proof does not verify (key %s here)", ErrAuth, c.Key.Fingerprint())
	}
	next := uint64(1)
	if c.NextCounter != nil {
		next = c.NextCounter()
	}
	p := wire.AuthProof{NextCounter: next}
	copy(p.Proof[:], ses.SenderProof(seal.Transcript(hb[:], body, counterBytes(next))))
	var pb [wire.AuthProofSize]byte
	p.MarshalTo(pb[:])
	if err := cn.send(wire.MsgAuthProof, pb[:]); err != nil {
		return err
	}
	cn.c.SetReadDeadline(time.Time{})
	cn.ch, err = ses.Channel(true)
	return err
}
