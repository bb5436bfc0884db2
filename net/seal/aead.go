package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// Suite names an AEAD. The values are the wire's (docs/PROTOCOL.md §7.1).
type Suite uint8

// The AEADs a session may use. Both ends implement both; the sender proposes the one
// that is fastest on its machine (PreferredSuite) and the receiver follows.
const (
	ChaCha20Poly1305 Suite = 1 // RFC 8439: fast everywhere in software, the choice without AES instructions (Raspberry Pi 4)
	AES256GCM        Suite = 2 // NIST SP 800-38D: fastest where the CPU has AES and carry-less multiply instructions
)

// String names the suite.
func (s Suite) String() string {
	switch s {
	case ChaCha20Poly1305:
		return "chacha20-poly1305"
	case AES256GCM:
		return "aes-256-gcm"
	}
	return fmt.Sprintf("suite(%d)", uint8(s))
}

// PreferredSuite is AES-256-GCM where the CPU accelerates it (amd64 with AES-NI and
// PCLMULQDQ, arm64 with the AES and PMULL extensions), ChaCha20-Poly1305 elsewhere.
func PreferredSuite() Suite {
	switch runtime.GOARCH {
	case "amd64":
		if cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ {
			return AES256GCM
		}
	case "arm64":
		if cpu.ARM64.HasAES && cpu.ARM64.HasPMULL {
			return AES256GCM
		}
	}
	return ChaCha20Poly1305
}

// Sizes of what sealing adds to a datagram: the packet counter before the ciphertext and
// the AEAD's tag after it (docs/PROTOCOL.md §7.3).
const (
	CounterSize = 8
	TagSize     = 16
	Overhead    = CounterSize + TagSize
	nonceSize   = 12
	// RandomSize is the length of each end's random value in the handshake.
	RandomSize = 32
)

// Errors returned when sealing or opening.
var (
	ErrSuite     = errors.New("seal: unknown AEAD suite")
	ErrAuth      = errors.New("seal: authentication failed")
	ErrReplay    = errors.New("seal: replayed or too old")
	ErrShort     = errors.New("seal: sealed datagram too short")
	ErrExhausted = errors.New("seal: packet counter exhausted; start a new session")
)

func newAEAD(s Suite, key []byte) (cipher.AEAD, error) {
	switch s {
	case ChaCha20Poly1305:
		return chacha20poly1305.New(key)
	case AES256GCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
	return nil, ErrSuite
}

// expand derives one 32-byte key for label from the pseudorandom key prk (RFC 5869 §2.3).
func expand(prk []byte, label string, stream uint32, s Suite) []byte {
	info := make([]byte, 0, len(label)+5)
	info = append(info, label...)
	info = binary.BigEndian.AppendUint32(info, stream)
	info = append(info, byte(s))
	k, err := hkdf.Expand(sha256.New, prk, string(info), KeySize)
	if err != nil {
		// Expand fails only for lengths above 255 hash blocks; 32 bytes never does.
		panic("seal: hkdf expand: " + err.Error())
	}
	return k
}

// DatagramKey derives the key a sender seals its datagrams with:
// HKDF-SHA256(IKM = the pre-shared key, salt = the sender's random value,
// info = "hrvs3 datagrams" || stream id || suite). Only the sender's random enters it, so
// every receiver of one sender (a multicast group) opens the same datagrams; the sender
// draws a new random value each time it starts, so a (key, nonce) pair never repeats
// across restarts.
func DatagramKey(psk Key, s Suite, stream uint32, senderRandom []byte) []byte {
	prk, _ := hkdf.Extract(sha256.New, psk[:], senderRandom)
	return expand(prk, "hrvs3 datagrams", stream, s)
}

// Sealer seals datagrams with one key and a packet counter that starts at 1. It is safe
// for concurrent use: each Seal takes the next counter value atomically.
type Sealer struct {
	aead cipher.AEAD
	next atomic.Uint64
}

// NewSealer returns a Sealer for suite s and a 32-byte key from DatagramKey.
func NewSealer(s Suite, key []byte) (*Sealer, error) {
	a, err := newAEAD(s, key)
	if err != nil {
		return nil, fmt.Errorf("seal: %v: %w", s, err)
	}
	return &Sealer{aead: a}, nil
}

// Seal appends header || counter || AEAD(payload) || tag to dst and returns it. The header
// (the clear fields a receiver routes by) and the counter are the associated data, so a
// change to either fails authentication. The nonce is 4 zero bytes || counter.
func (s *Sealer) Seal(dst, header, payload []byte) ([]byte, error) {
	n := s.next.Add(1)
	if n == 0 || n == ^uint64(0) {
		return dst, ErrExhausted
	}
	start := len(dst)
	dst = append(dst, header...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	nonce := getNonce(n)
	dst = s.aead.Seal(dst, nonce[:], payload, dst[start:])
	nonces.Put(nonce)
	return dst, nil
}

// nonces recycles nonce buffers: a nonce handed to the AEAD interface escapes, and the
// datagram path must not allocate.
var nonces = sync.Pool{New: func() any { return new([nonceSize]byte) }}

// getNonce returns a pooled nonce 4 zero bytes || counter; put it back with nonces.Put.
func getNonce(counter uint64) *[nonceSize]byte {
	nonce := nonces.Get().(*[nonceSize]byte)
	*nonce = [nonceSize]byte{}
	binary.BigEndian.PutUint64(nonce[4:], counter)
	return nonce
}

// Opener opens datagrams sealed by one Sealer and keeps their replay window. It is safe
// for concurrent use by several socket readers.
type Opener struct {
	aead   cipher.AEAD
	window Window
}

// NewOpener returns an Opener for suite s and the sender's datagram key.
func NewOpener(s Suite, key []byte) (*Opener, error) {
	a, err := newAEAD(s, key)
	if err != nil {
		return nil, fmt.Errorf("seal: %v: %w", s, err)
	}
	return &Opener{aead: a}, nil
}

// Open authenticates and decrypts d, whose first headerLen bytes are the clear header,
// into dst and returns the plaintext payload and the packet counter. It returns ErrShort,
// ErrReplay (checked before the AEAD, so a replay costs a window lookup and no
// decryption, and again after it) or ErrAuth; d is not modified.
func (o *Opener) Open(dst, d []byte, headerLen int) (payload []byte, counter uint64, err error) {
	if headerLen < 0 || len(d) < headerLen+Overhead {
		return nil, 0, ErrShort
	}
	ad := d[:headerLen+CounterSize]
	counter = binary.BigEndian.Uint64(d[headerLen:])
	if !o.window.Fresh(counter) {
		return nil, counter, ErrReplay
	}
	nonce := getNonce(counter)
	payload, err = o.aead.Open(dst, nonce[:], d[headerLen+CounterSize:], ad)
	nonces.Put(nonce)
	if err != nil {
		return nil, counter, ErrAuth
	}
	if !o.window.Accept(counter) {
		return nil, counter, ErrReplay
	}
	return payload, counter, nil
}

// Next is the counter the next Seal will use.
func (s *Sealer) Next() uint64 { return s.next.Load() + 1 }

// Start makes the Opener refuse every counter below next (see Window.Start).
func (o *Opener) Start(next uint64) {
	if next > 0 {
		o.window.Start(next - 1)
	}
}

// SealDatagram appends the sealed form of a whole clear datagram d (a header of
// headerLen bytes, then the payload) to dst: header || counter || ciphertext || tag.
func (s *Sealer) SealDatagram(dst, d []byte, headerLen int) ([]byte, error) {
	if headerLen < 0 || headerLen > len(d) {
		return dst, ErrShort
	}
	return s.Seal(dst, d[:headerLen], d[headerLen:])
}

// OpenDatagram opens a sealed datagram in place and returns it as the clear datagram it
// was sealed from (header || payload, Overhead bytes shorter), a prefix of d. Errors as
// Open; on error d's payload bytes are undefined.
func (o *Opener) OpenDatagram(d []byte, headerLen int) ([]byte, error) {
	if headerLen < 0 || len(d) < headerLen+Overhead {
		return nil, ErrShort
	}
	// Decrypt where the ciphertext lies (an AEAD may only write in place or elsewhere),
	// then move the plaintext down over the counter.
	ct := d[headerLen+CounterSize:]
	p, _, err := o.Open(ct[:0], d, headerLen)
	if err != nil {
		return nil, err
	}
	n := copy(d[headerLen:], p)
	return d[:headerLen+n], nil
}
