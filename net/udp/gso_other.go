//go:build !linux

package udp

import (
	"errors"
	"net"
)

// errNoBatch is why a Writer or Reader off Linux uses the plain path.
var errNoBatch = errors.New("udp: GSO, GRO, sendmmsg and recvmmsg are Linux only")

// Writer is the portable twin of the Linux Writer: one write per datagram, the
// same API, so callers need no build tags.
type Writer struct {
	c      *net.UDPConn
	n      int
	refuse error
}

// NewWriter prepares sends on c, which must be connected; every path is plain here.
func NewWriter(c *net.UDPConn, path SendPath, n int) (*Writer, error) {
	if err := checkBatch(n); err != nil {
		return nil, err
	}
	w := &Writer{c: c, n: n}
	if path != SendPlain {
		w.refuse = errNoBatch
	}
	return w, nil
}

// Path is the path the Writer uses: plain.
func (w *Writer) Path() SendPath { return SendPlain }

// Refused is why the Writer is not on the path it was asked for, or nil.
func (w *Writer) Refused() error { return w.refuse }

// Max is the most datagrams one call of the Linux Writer moves.
func (w *Writer) Max() int { return w.n }

// Write sends each of dgrams as one datagram, in order.
func (w *Writer) Write(dgrams [][]byte) (int, error) {
	for i, d := range dgrams {
		if _, err := w.c.Write(d); err != nil {
			return i, err
		}
	}
	return len(dgrams), nil
}

// Reader is the portable twin of the Linux Reader: one read per datagram.
type Reader struct {
	c      *net.UDPConn
	refuse error
	msgs   []Msg
}

// NewReader prepares reads on c; every path is plain here.
func NewReader(c *net.UDPConn, path RecvPath, n int) (*Reader, error) {
	if err := checkBatch(n); err != nil {
		return nil, err
	}
	r := &Reader{c: c, msgs: make([]Msg, 0, 1)}
	if path != RecvPlain {
		r.refuse = errNoBatch
	}
	return r, nil
}

// Path is the path the Reader uses: plain.
func (r *Reader) Path() RecvPath { return RecvPlain }

// Refused is why the Reader is not on the path it was asked for, or nil.
func (r *Reader) Refused() error { return r.refuse }

// MinBuf is the shortest buffer Read takes.
func (r *Reader) MinBuf() int { return slotBytes }

// Drops is unknown here: only Linux reports a socket's drops (SO_RXQ_OVFL).
func (r *Reader) Drops() (n uint64, ok bool) { return 0, false }

// Read waits for one datagram and reads it into buf.
func (r *Reader) Read(buf []byte) (msgs []Msg, used int, err error) {
	if len(buf) < slotBytes {
		return nil, 0, ErrShortBuffer
	}
	n, from, err := r.c.ReadFromUDPAddrPort(buf[:slotBytes])
	if err != nil {
		return nil, 0, err
	}
	r.msgs = append(r.msgs[:0], Msg{Len: n, From: from})
	return r.msgs, n, nil
}
