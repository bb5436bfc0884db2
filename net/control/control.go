// Package control is the TCP link that carries feedback from the receiver back to
// the sender: a hello, one acknowledgement per frame, and pings that measure the round
// trip time and the offset between the two machines' clocks.
package control

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// PingInterval is how often each end probes the clock and the round trip.
const PingInterval = time.Second

// nowUS is the local clock in µs since the Unix epoch, the unit of every timestamp on the wire.
func nowUS() int64 { return time.Now().UnixMicro() }

// clock keeps the best estimate of a peer's clock offset: the sample with the
// shortest round trip among the recent ones, since queueing only adds error.
type clock struct {
	mu      sync.Mutex
	samples [8]struct{ rtt, offset int64 }
	n       int
	rtt     atomic.Int64 // latest round trip, µs
	offset  atomic.Int64 // peer clock minus ours, µs
	valid   atomic.Bool
}

// add records a ping answered at peer time t2, sent at t1 and answered back at t3 (our clock).
func (c *clock) add(t1, t2, t3 int64) {
	rtt := t3 - t1
	if rtt < 0 {
		return
	}
	off := t2 - (t1+t3)/2
	c.mu.Lock()
	c.samples[c.n%len(c.samples)] = struct{ rtt, offset int64 }{rtt, off}
	c.n++
	best := c.samples[0]
	for i := 1; i < min(c.n, len(c.samples)); i++ {
		if c.samples[i].rtt < best.rtt {
			best = c.samples[i]
		}
	}
	c.mu.Unlock()
	c.rtt.Store(rtt)
	c.offset.Store(best.offset)
	c.valid.Store(true)
}

// conn wraps one control connection with a mutex so acks and pongs can be written
// from different goroutines.
// Once a keyed handshake is done, ch seals every message (docs/PROTOCOL.md §7.3).
type conn struct {
	c    net.Conn
	mu   sync.Mutex
	buf  []byte
	acks chan []byte   // the server's acks waiting for this connection's writer
	ch   *seal.Channel // set before any goroutine but the handshake's uses the conn
	// idle, when set, closes the connection after that long without a message: a
	// receiver that dialled its sender notices a sender that vanished (it pings every second).
	idle time.Duration
}

func (c *conn) send(typ uint8, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.c.SetWriteDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	if c.ch == nil {
		return wire.WriteMsg(c.c, c.buf, typ, body)
	}
	// type | length | sealed body: the clear type and length are the associated data.
	n := len(body) + seal.TagSize
	if n > maxSealedBody {
		return fmt.Errorf("%w: body of %d bytes", wire.ErrControl, len(body))
	}
	c.buf = append(c.buf[:0], typ, byte(n>>8), byte(n))
	var err error
	c.buf, err = c.ch.Seal(c.buf, c.buf[:wire.ControlHeaderSize], body)
	if err != nil {
		return err
	}
	_, err = c.c.Write(c.buf)
	return err
}

// maxSealedBody is the largest sealed body: a clear one plus the AEAD tag.
const maxSealedBody = wire.MaxControlBody + seal.TagSize

// read reads the next message into buf (at least maxSealedBody bytes), opening it when the
// connection is sealed; a message that fails authentication is an error that ends the
// connection.
func (c *conn) read(buf []byte) (uint8, []byte, error) {
	if c.ch == nil {
		return wire.ReadMsg(c.c, buf)
	}
	var hdr [wire.ControlHeaderSize]byte
	if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[1])<<8 | int(hdr[2])
	if n < seal.TagSize || n > maxSealedBody || n > len(buf) {
		return 0, nil, fmt.Errorf("%w: sealed body of %d bytes", wire.ErrControl, n)
	}
	if _, err := io.ReadFull(c.c, buf[:n]); err != nil {
		return 0, nil, fmt.Errorf("control message body: %w", err)
	}
	body, err := c.ch.Open(buf[:0], hdr[:], buf[:n])
	if err != nil {
		return 0, nil, fmt.Errorf("control: sealed message: %w", err)
	}
	return hdr[0], body, nil
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("control: closed")

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// pinger sends a ping every interval until stop closes.
func pinger(c *conn, stop <-chan struct{}) {
	t := time.NewTicker(PingInterval)
	defer t.Stop()
	for {
		if c.send(wire.MsgPing, wire.AppendPing(nil, wire.Ping{T1: nowUS()})) != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// answerPings handles the messages both ends share; it reports whether typ was one.
func answerPings(c *conn, clk *clock, typ uint8, body []byte) (bool, error) {
	switch typ {
	case wire.MsgPing:
		p, err := wire.ParsePing(body)
		if err != nil {
			return true, err
		}
		return true, c.send(wire.MsgPong, wire.AppendPong(nil, wire.Pong{T1: p.T1, T2: nowUS()}))
	case wire.MsgPong:
		p, err := wire.ParsePong(body)
		if err != nil {
			return true, err
		}
		clk.add(p.T1, p.T2, nowUS())
		return true, nil
	}
	return false, nil
}

func logf(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
