// Package pair establishes an HRVS stream key between a sender and a receiver without
// copying files: an X25519 exchange (RFC 7748, crypto/ecdh) whose result both ends show as
// a 6-digit code for the user to compare, with the initiator committed to its share before
// it sees the responder's, so a man in the middle gets one guess in a million per attempt
// and nothing to brute-force offline (the numeric comparison of Bluetooth Secure Simple
// Pairing and ZRTP's hash commitment). docs/SECURITY.md has the threat model and
// docs/PROTOCOL.md §7.4 the messages.
package pair

import (
	"context"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hrvs/hrvs/net/seal"
)

// Message types of the pairing exchange (docs/PROTOCOL.md §7.4). Each message is
// magic "HP" | type (1) | body length (1) | body.
const (
	msgCommit  = 1 // initiator: SHA-256 commitment to its public key and nonce (32)
	msgShare   = 2 // responder: public key (32) | nonce (16)
	msgReveal  = 3 // initiator: public key (32) | nonce (16)
	msgConfirm = 4 // either: HMAC proving it accepted the code and holds the key (32); absent when refused
	msgRefuse  = 5 // either: the user said the codes differ (empty body)

	nonceSize = 16
	maxBody   = 64
)

// Errors returned by a pairing.
var (
	ErrRefused    = errors.New("pair: the codes were not confirmed; no key was stored")
	ErrPeerRefuse = errors.New("pair: the other end refused the code; no key was stored")
	ErrCommitment = errors.New("pair: the initiator's share does not match its commitment (a man in the middle?)")
	ErrProtocol   = errors.New("pair: unexpected message")
)

// Confirm shows code (6 digits) to the user and reports whether it matches the code the
// other machine shows.
type Confirm func(code string) (bool, error)

func write(w io.Writer, typ byte, body []byte) error {
	msg := append([]byte{'H', 'P', typ, byte(len(body))}, body...)
	_, err := w.Write(msg)
	return err
}

func read(r io.Reader, want byte, size int) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pair: reading: %w", err)
	}
	if h[0] != 'H' || h[1] != 'P' || h[3] > maxBody {
		return nil, fmt.Errorf("%w: not a pairing message", ErrProtocol)
	}
	body := make([]byte, h[3])
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("pair: reading: %w", err)
	}
	switch {
	case h[2] == msgRefuse:
		return nil, ErrPeerRefuse
	case h[2] != want || len(body) != size:
		return nil, fmt.Errorf("%w: type %d with %d bytes, want type %d with %d", ErrProtocol, h[2], len(body), want, size)
	}
	return body, nil
}

// share is one end's ephemeral key pair and nonce.
type share struct {
	priv  *ecdh.PrivateKey
	nonce [nonceSize]byte
}

func newShare() (*share, error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pair: %w", err)
	}
	s := &share{priv: priv}
	if _, err := io.ReadFull(rand.Reader, s.nonce[:]); err != nil {
		return nil, fmt.Errorf("pair: %w", err)
	}
	return s, nil
}

func (s *share) bytes() []byte { return append(s.priv.PublicKey().Bytes(), s.nonce[:]...) }

func commitment(shareBytes []byte) []byte {
	h := sha256.Sum256(append([]byte("hrvs pair commit"), shareBytes...))
	return h[:]
}

// result holds what both ends compute once the shares are exchanged.
type result struct {
	code string
	key  seal.Key
	mac  [2][]byte // confirmation MACs: [0] initiator's, [1] responder's
}

func derive(mine *share, initiator, responder []byte, mineIsInitiator bool) (*result, error) {
	peer := responder
	if !mineIsInitiator {
		peer = initiator
	}
	pub, err := ecdh.X25519().NewPublicKey(peer[:32])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	secret, err := mine.priv.ECDH(pub)
	if err != nil { // an all-zero result: a low-order point from a hostile peer
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	transcript := append(append([]byte{}, initiator...), responder...)
	sas := sha256.Sum256(append([]byte("hrvs pair code"), transcript...))
	r := &result{code: fmt.Sprintf("%06d", binary.BigEndian.Uint32(sas[:4])%1_000_000)}
	prk, err := hkdf.Extract(sha256.New, secret, transcript)
	if err != nil {
		return nil, err
	}
	k, err := hkdf.Expand(sha256.New, prk, "hrvs pair stream key", seal.KeySize)
	if err != nil {
		return nil, err
	}
	copy(r.key[:], k)
	for i, label := range []string{"hrvs pair confirm initiator", "hrvs pair confirm responder"} {
		m := hmac.New(sha256.New, prk)
		m.Write([]byte(label))
		r.mac[i] = m.Sum(nil)
	}
	return r, nil
}

// finish asks the user, tells the peer, and checks the peer's answer.
func finish(rw io.ReadWriter, r *result, confirm Confirm, initiator bool) (seal.Key, error) {
	ok, err := confirm(r.code)
	if err != nil {
		return seal.Key{}, err
	}
	if !ok {
		write(rw, msgRefuse, nil)
		return seal.Key{}, ErrRefused
	}
	mine, theirs := r.mac[1], r.mac[0]
	if initiator {
		mine, theirs = r.mac[0], r.mac[1]
	}
	if err := write(rw, msgConfirm, mine); err != nil {
		return seal.Key{}, fmt.Errorf("pair: sending: %w", err)
	}
	got, err := read(rw, msgConfirm, sha256.Size)
	if err != nil {
		return seal.Key{}, err
	}
	if !hmac.Equal(got, theirs) {
		return seal.Key{}, fmt.Errorf("%w: the other end derived another key", ErrProtocol)
	}
	return r.key, nil
}

// deadline bounds the exchange by ctx, so a peer that goes quiet cannot hold it forever.
func deadline(ctx context.Context, rw io.ReadWriter) func() {
	c, ok := rw.(net.Conn)
	if !ok {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

// Initiate runs the sender's side over rw (a fresh TCP connection to the receiver) and
// returns the new stream key once the user confirmed the code at both ends. Errors:
// ErrRefused, ErrPeerRefuse, ErrCommitment (never here), ErrProtocol, or the I/O error.
func Initiate(ctx context.Context, rw io.ReadWriter, confirm Confirm) (seal.Key, error) {
	defer deadline(ctx, rw)()
	me, err := newShare()
	if err != nil {
		return seal.Key{}, err
	}
	mine := me.bytes()
	if err := write(rw, msgCommit, commitment(mine)); err != nil {
		return seal.Key{}, fmt.Errorf("pair: sending: %w", err)
	}
	theirs, err := read(rw, msgShare, 32+nonceSize)
	if err != nil {
		return seal.Key{}, err
	}
	if err := write(rw, msgReveal, mine); err != nil {
		return seal.Key{}, fmt.Errorf("pair: sending: %w", err)
	}
	r, err := derive(me, mine, theirs, true)
	if err != nil {
		return seal.Key{}, err
	}
	return finish(rw, r, confirm, true)
}

// Respond runs the receiver's side over rw (a connection accepted while pairing); see
// Initiate.
func Respond(ctx context.Context, rw io.ReadWriter, confirm Confirm) (seal.Key, error) {
	defer deadline(ctx, rw)()
	commit, err := read(rw, msgCommit, sha256.Size)
	if err != nil {
		return seal.Key{}, err
	}
	me, err := newShare()
	if err != nil {
		return seal.Key{}, err
	}
	mine := me.bytes()
	if err := write(rw, msgShare, mine); err != nil {
		return seal.Key{}, fmt.Errorf("pair: sending: %w", err)
	}
	theirs, err := read(rw, msgReveal, 32+nonceSize)
	if err != nil {
		return seal.Key{}, err
	}
	if !hmac.Equal(commitment(theirs), commit) {
		return seal.Key{}, ErrCommitment
	}
	r, err := derive(me, theirs, mine, false)
	if err != nil {
		return seal.Key{}, err
	}
	return finish(rw, r, confirm, false)
}

// StorePath is where a paired key named name is kept: $XDG_CONFIG_HOME/hrvs/keys/NAME.key
// (os.UserConfigDir; ~/.config on Linux). Characters other than letters, digits, '.', '-'
// and '_' in name become '_', so a host:port names a file.
func StorePath(name string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("pair: no config directory for the key: %w", err)
	}
	clean := []byte(name)
	for i, c := range clean {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			clean[i] = '_'
		}
	}
	if len(clean) == 0 || string(clean) == "." || string(clean) == ".." {
		return "", fmt.Errorf("pair: %q cannot name a key", name)
	}
	return filepath.Join(dir, "hrvs", "keys", string(clean)+".key"), nil
}
