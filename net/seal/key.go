// Package seal authenticates and encrypts HRVS's datagrams and control messages with an
// AEAD (ChaCha20-Poly1305, RFC 8439, or AES-256-GCM, NIST SP 800-38D) under session keys
// derived with HKDF-SHA256 (RFC 5869) from a pre-shared 256-bit key and a fresh random
// value from each end, and rejects replayed datagrams with a sliding window (RFC 6479).
// The byte layouts it fills in are docs/PROTOCOL.md §7.
package seal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a pre-shared key in bytes (256 bits).
const KeySize = 32

// Key is a pre-shared stream key. Its text form, as written to key files, is the line
// "hrvs-key-v1 " followed by the key in unpadded base64url (43 characters).
type Key [KeySize]byte

const keyTextPrefix = "hrvs-key-v1 "

// Errors returned by key parsing and loading.
var (
	ErrKeyFormat = errors.New("seal: not an hrvs key (want a line \"hrvs-key-v1 <43 base64url characters>\")")
	ErrKeyMode   = errors.New("seal: key file is readable by other users (want mode 0600)")
)

// NewKey returns a key from crypto/rand.
func NewKey() (Key, error) {
	var k Key
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return k, fmt.Errorf("seal: reading random bytes: %w", err)
	}
	return k, nil
}

// MarshalText returns the key's text form, without a newline.
func (k Key) MarshalText() ([]byte, error) {
	return []byte(keyTextPrefix + base64.RawURLEncoding.EncodeToString(k[:])), nil
}

// UnmarshalText reads the text form; surrounding white space is ignored. It returns an
// error wrapping ErrKeyFormat for anything else.
func (k *Key) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	enc, ok := strings.CutPrefix(s, keyTextPrefix)
	if !ok || base64.RawURLEncoding.DecodedLen(len(enc)) != KeySize {
		return ErrKeyFormat
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) != KeySize {
		return ErrKeyFormat
	}
	copy(k[:], raw)
	return nil
}

// Fingerprint is a short, non-secret name for the key, for logs, discovery records and
// humans comparing two machines: the first 40 bits of SHA-256("hrvs key fingerprint" || key)
// as 8 lower-case base32 characters in two groups, like "k4tq-7zma".
func (k Key) Fingerprint() string {
	sum := sha256.Sum256(append([]byte("hrvs key fingerprint"), k[:]...))
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b strings.Builder
	var acc uint64
	for _, c := range sum[:5] {
		acc = acc<<8 | uint64(c)
	}
	for i := 7; i >= 0; i-- {
		b.WriteByte(alphabet[(acc>>(5*uint(i)))&31])
		if i == 4 {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// WriteKeyFile writes k's text form to path with mode 0600, creating the directory (0700)
// if needed. It refuses to replace an existing file, so a second keygen cannot silently
// cut a paired receiver off.
func WriteKeyFile(path string, k Key) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("seal: key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("seal: writing key: %w", err)
	}
	text, _ := k.MarshalText()
	_, err = f.Write(append(text, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("seal: writing key: %w", err)
	}
	return nil
}

// ReadKeyFile reads a key written by WriteKeyFile. A file that group or others may read
// is refused with ErrKeyMode (as ssh refuses such private keys): a key that leaked cannot
// be trusted.
func ReadKeyFile(path string) (Key, error) {
	var k Key
	st, err := os.Stat(path)
	if err != nil {
		return k, fmt.Errorf("seal: key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		what := "not a regular file"
		if st.IsDir() {
			what = "a directory"
		}
		return k, fmt.Errorf("seal: key file %s is %s: %w", path, what, fs.ErrInvalid)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return k, fmt.Errorf("%w: %s is %v", ErrKeyMode, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return k, fmt.Errorf("seal: key file: %w", err)
	}
	if len(b) > 256 {
		return k, fmt.Errorf("seal: key file %s: %w", path, ErrKeyFormat)
	}
	if err := k.UnmarshalText(bytes.TrimSpace(b)); err != nil {
		return k, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return k, nil
}
