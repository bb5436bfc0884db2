package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// ProofSize is the length of a handshake proof (HMAC-SHA256).
const ProofSize = sha256.Size

// Random returns a fresh handshake random value from crypto/rand.
func Random() ([RandomSize]byte, error) {
	var r [RandomSize]byte
	if _, err := io.ReadFull(rand.Reader, r[:]); err != nil {
		return r, fmt.Errorf("seal: reading random bytes: %w", err)
	}
	return r, nil
}

// Session holds what both ends of one control connection derive from the pre-shared key
// and the two random values of its handshake (docs/PROTOCOL.md §7.2): the proofs each end
// sends to show it holds the key, and the keys of the sealed control messages.
type Session struct {
	suite  Suite
	stream uint32
	prk    []byte // HKDF-Extract(psk, senderRandom || receiverRandom)
}

// NewSession derives a session. Every input takes part, so a handshake replayed from an
// earlier connection (the same sender random, a new receiver random) derives other keys.
func NewSession(psk Key, s Suite, stream uint32, senderRandom, receiverRandom [RandomSize]byte) (*Session, error) {
	if s != ChaCha20Poly1305 && s != AES256GCM {
		return nil, ErrSuite
	}
	salt := append(senderRandom[:len(senderRandom):len(senderRandom)], receiverRandom[:]...)
	prk, err := hkdf.Extract(sha256.New, psk[:], salt)
	if err != nil {
		return nil, fmt.Errorf("seal: hkdf extract: %w", err)
	}
	return &Session{suite: s, stream: stream, prk: prk}, nil
}

// Transcript hashes the handshake's messages as sent, in order; both ends compute it over
// the same bytes, so a man in the middle who changes any of them breaks both proofs.
func Transcript(messages ...[]byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte("hrvs3 handshake"))
	var n [4]byte
	for _, m := range messages {
		binary.BigEndian.PutUint32(n[:], uint32(len(m)))
		h.Write(n[:])
		h.Write(m)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func (s *Session) proof(label string, transcript [sha256.Size]byte) []byte {
	m := hmac.New(sha256.New, expand(s.prk, label, s.stream, s.suite))
	m.Write(transcript[:])
	return m.Sum(nil)
}

// SenderProof and ReceiverProof are HMAC-SHA256 over the transcript under keys derived for
// each role, so neither end's proof can be reflected back as the other's.
func (s *Session) SenderProof(transcript [sha256.Size]byte) []byte {
	return s.proof("hrvs3 proof sender", transcript)
}

// ReceiverProof is the receiver's proof; see SenderProof.
func (s *Session) ReceiverProof(transcript [sha256.Size]byte) []byte {
	return s.proof("hrvs3 proof receiver", transcript)
}

// Verify compares a received proof with the expected one in constant time.
func Verify(got, want []byte) bool { return hmac.Equal(got, want) }

// Channel seals control messages in one direction of a TCP connection and opens those of
// the other. TCP delivers in order, so the counters are implicit: each side counts the
// messages it sealed and opened, and the first message that fails ends the connection.
// A Channel is not safe for concurrent use; the connection's writer and reader each use
// only their own half (Seal and Open touch separate state).
type Channel struct {
	out, in        cipher.AEAD
	sealed, opened uint64
}

// Channel returns the sealed-message channel for one end (sender true for the sender).
func (s *Session) Channel(sender bool) (*Channel, error) {
	s2r, err := newAEAD(s.suite, expand(s.prk, "hrvs3 control s>r", s.stream, s.suite))
	if err != nil {
		return nil, err
	}
	r2s, err := newAEAD(s.suite, expand(s.prk, "hrvs3 control r>s", s.stream, s.suite))
	if err != nil {
		return nil, err
	}
	if sender {
		return &Channel{out: s2r, in: r2s}, nil
	}
	return &Channel{out: r2s, in: s2r}, nil
}

func counterNonce(n uint64) []byte {
	var nonce [nonceSize]byte
	binary.BigEndian.PutUint64(nonce[4:], n)
	return nonce[:]
}

// Seal appends the sealed form of msg (ciphertext and a 16-byte tag) to dst. ad is
// authenticated too (the message's clear type and length).
func (c *Channel) Seal(dst, ad, msg []byte) ([]byte, error) {
	c.sealed++
	if c.sealed == 0 {
		return dst, ErrExhausted
	}
	return c.out.Seal(dst, counterNonce(c.sealed), msg, ad), nil
}

// Open authenticates and decrypts the next message from the peer into dst; ErrAuth means
// the connection must be closed.
func (c *Channel) Open(dst, ad, sealed []byte) ([]byte, error) {
	c.opened++
	out, err := c.in.Open(dst, counterNonce(c.opened), sealed, ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// String names the session for logs; it shows no key material.
func (s *Session) String() string { return fmt.Sprintf("session(stream %08x, %v)", s.stream, s.suite) }
