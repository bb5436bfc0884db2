package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Messages of the keyed handshake (docs/PROTOCOL.md §7.2). A keyed sender opens with an
// AuthHello instead of a Hello; the receiver answers with an AuthChallenge, the sender
// with an AuthProof, and from then on every message is sealed (§7.3). Refuse may be sent
// in the clear by either end instead of its next handshake message, to say why it closes.
const (
	MsgAuthHello     uint8 = 5 // sender -> receiver, first message of a keyed connection
	MsgAuthChallenge uint8 = 6 // receiver -> sender
	MsgAuthProof     uint8 = 7 // sender -> receiver
	MsgRefuse        uint8 = 8 // either way, then the connection closes
)

// Sizes of the handshake fields, in bytes.
const (
	RandomSize = 32 // each end's random value
	ProofSize  = 32 // HMAC-SHA256
)

// AuthHello opens a keyed control connection.
//
//	+-------------------------------+---------------+---------------+
//	|  magic "HV"                   |    version    |  reserved (0) |
//	+-------------------------------+---------------+---------------+
//	|                          stream id                            |
//	+---------------+-----------------------------------------------+
//	|     suite     |  sender random (32 bytes) ...
//	+---------------+-----------------------------------------------
type AuthHello struct {
	Stream uint32
	Suite  uint8 // AEAD: 1 ChaCha20-Poly1305, 2 AES-256-GCM (§7.1)
	Random [RandomSize]byte
}

// AuthHelloSize is the body size of an AuthHello.
const AuthHelloSize = 9 + RandomSize

// MarshalTo writes the body.
func (m *AuthHello) MarshalTo(b []byte) (int, error) {
	if len(b) < AuthHelloSize {
		return 0, io.ErrShortBuffer
	}
	binary.BigEndian.PutUint16(b, Magic)
	b[2], b[3] = Version, 0
	binary.BigEndian.PutUint32(b[4:], m.Stream)
	b[8] = m.Suite
	copy(b[9:], m.Random[:])
	return AuthHelloSize, nil
}

// Unmarshal parses the body; it returns an error wrapping ErrVersion for another
// version and ErrControl for anything else malformed.
func (m *AuthHello) Unmarshal(b []byte) error {
	if len(b) != AuthHelloSize || binary.BigEndian.Uint16(b) != Magic {
		return fmt.Errorf("%w: auth hello", ErrControl)
	}
	if b[2] != Version {
		return fmt.Errorf("%w: peer speaks version %d, we speak %d", ErrVersion, b[2], Version)
	}
	m.Stream = binary.BigEndian.Uint32(b[4:])
	m.Suite = b[8]
	copy(m.Random[:], b[9:])
	return nil
}

// AuthChallenge is the receiver's answer: its random value and its proof of the key
// over the transcript (§7.2).
type AuthChallenge struct {
	Random [RandomSize]byte
	Proof  [ProofSize]byte
}

// AuthChallengeSize is the body size of an AuthChallenge.
const AuthChallengeSize = RandomSize + ProofSize

// MarshalTo writes the body.
func (m *AuthChallenge) MarshalTo(b []byte) (int, error) {
	if len(b) < AuthChallengeSize {
		return 0, io.ErrShortBuffer
	}
	copy(b, m.Random[:])
	copy(b[RandomSize:], m.Proof[:])
	return AuthChallengeSize, nil
}

// Unmarshal parses the body.
func (m *AuthChallenge) Unmarshal(b []byte) error {
	if len(b) != AuthChallengeSize {
		return fmt.Errorf("%w: auth challenge of %d bytes", ErrControl, len(b))
	}
	copy(m.Random[:], b)
	copy(m.Proof[:], b[RandomSize:])
	return nil
}

// AuthProof is the sender's proof of the key, and the next datagram counter it will
// use, so the receiver's replay window starts there (§7.3).
type AuthProof struct {
	Proof       [ProofSize]byte
	NextCounter uint64
}

// AuthProofSize is the body size of an AuthProof.
const AuthProofSize = ProofSize + 8

// MarshalTo writes the body.
func (m *AuthProof) MarshalTo(b []byte) (int, error) {
	if len(b) < AuthProofSize {
		return 0, io.ErrShortBuffer
	}
	copy(b, m.Proof[:])
	binary.BigEndian.PutUint64(b[ProofSize:], m.NextCounter)
	return AuthProofSize, nil
}

// Unmarshal parses the body.
func (m *AuthProof) Unmarshal(b []byte) error {
	if len(b) != AuthProofSize {
		return fmt.Errorf("%w: auth proof of %d bytes", ErrControl, len(b))
	}
	copy(m.Proof[:], b)
	m.NextCounter = binary.BigEndian.Uint64(b[ProofSize:])
	return nil
}

// Refusal reasons carried by a Refuse message (§7.2).
const (
	RefuseNeedKey  uint8 = 1 // the receiver has a key and the sender offered none
	RefuseNoKey    uint8 = 2 // the receiver has no key and the sender offered one
	RefuseBadProof uint8 = 3 // the proof did not verify: the two ends hold different keys
	RefuseSuite    uint8 = 4 // unknown AEAD suite
	RefuseBusy     uint8 = 5 // the receiver serves as many connections for that stream as it will
)

// MaxRefuseText bounds the human-readable text of a Refuse.
const MaxRefuseText = 200

// Refuse says why a peer closes the connection during the handshake. It is not
// authenticated: a receiver of one only logs it.
//
//	+---------------+---------------------------------
//	|    reason     |  text (UTF-8, up to 200 bytes) ...
//	+---------------+---------------------------------
type Refuse struct {
	Reason uint8
	Text   string
}

// AppendRefuse appends a Refuse body, cutting the text to MaxRefuseText bytes.
func AppendRefuse(b []byte, m Refuse) []byte {
	t := m.Text
	if len(t) > MaxRefuseText {
		t = t[:MaxRefuseText]
	}
	return append(append(b, m.Reason), t...)
}

// ParseRefuse parses a Refuse body.
func ParseRefuse(b []byte) (Refuse, error) {
	if len(b) < 1 || len(b) > 1+MaxRefuseText {
		return Refuse{}, fmt.Errorf("%w: refuse of %d bytes", ErrControl, len(b))
	}
	return Refuse{Reason: b[0], Text: string(b[1:])}, nil
}
