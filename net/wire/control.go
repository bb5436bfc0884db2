package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Control messages travel over the TCP control connection, each framed as
//
//	+---------------+-------------------------------+----------------------
//	|     type      |      body length (bytes)      |  body ...
//	+---------------+-------------------------------+----------------------
//
// with big-endian integers. Unknown types are skipped by length, so later versions
// can add messages.
const (
	MsgHello uint8 = 1 // sender -> receiver, first message
	MsgAck   uint8 = 2 // receiver -> sender, one per released frame
	MsgPing  uint8 = 3 // either way: clock and RTT probe
	MsgPong  uint8 = 4 // answer to a ping
)

// ControlHeaderSize is the type byte plus the length.
const ControlHeaderSize = 3

// MaxControlBody bounds a message body; larger lengths are a protocol error. It is
// the largest legal acknowledgement, so every ack a receiver may send fits.
const MaxControlBody = MaxAckSize

// ErrControl is wrapped by every control-message parse error.
var ErrControl = errors.New("wire: malformed control message")

// Hello opens a control connection.
//
//	+-------------------------------+---------------+---------------+
//	|  magic "HV"                   |    version    |   reserved    |
//	+-------------------------------+---------------+---------------+
//	|                          stream id                            |
//	+---------------------------------------------------------------+
//
// The reserved byte is sent as 0 and ignored on receipt; bytes after the eighth
// are ignored too.
type Hello struct {
	Stream uint32
}

// HelloSize is the body size of a Hello.
const HelloSize = 8

// MarshalTo writes the body.
func (m *Hello) MarshalTo(b []byte) (int, error) {
	if len(b) < HelloSize {
		return 0, io.ErrShortBuffer
	}
	binary.BigEndian.PutUint16(b, Magic)
	b[2], b[3] = Version, 0
	binary.BigEndian.PutUint32(b[4:], m.Stream)
	return HelloSize, nil
}

// Unmarshal parses the body.
func (m *Hello) Unmarshal(b []byte) error {
	if len(b) < HelloSize || binary.BigEndian.Uint16(b) != Magic {
		return fmt.Errorf("%w: hello", ErrControl)
	}
	if b[2] != Version {
		return fmt.Errorf("%w: peer speaks version %d, we speak %d", ErrVersion, b[2], Version)
	}
	m.Stream = binary.BigEndian.Uint32(b[4:])
	return nil
}

// Ack reports what the receiver got of one frame.
//
//	+---------------------------------------------------------------+
//	|                          stream id                            |  0
//	+---------------------------------------------------------------+
//	|                         frame number                          |  4
//	+---------------------------------------------------------------+
//	|          first datagram arrival, µs, receiver's clock         |  8
//	|                   (64 bits, two's complement)                 |
//	+---------------------------------------------------------------+
//	|          frame released, µs, receiver's clock                 | 16
//	|                   (64 bits, two's complement)                 |
//	+---------------------------------------------------------------+
//	|                    payload bytes received                     | 24
//	+-------------------------------+-------------------------------+
//	|        tiles received         |          frame tiles          | 28
//	+-------------------------------+-------------------------------+
//	|          grid tiles           | received bitmap, one bit per  | 32
//	+-------------------------------+  grid tile, MSB first,        |
//	|  ceil(grid tiles / 8) bytes                                   |
//	+-------------------------------+-------------------------------+
//	|       data datagrams (D)      | arrival bitmap, one bit per   |
//	+-------------------------------+  data datagram index, MSB     |
//	|  first, ceil(D / 8) bytes                                     |
//	+---------------------------------------------------------------+
//
// A set bit in the received bitmap marks a tile of this frame that arrived whole
// and decoded before the frame was released; tiles received is the number of set
// bits. ReadyUS is the instant the receiver stopped waiting for the frame's
// datagrams (complete, or given up), taken before decoding, so ReadyUS - FirstUS is
// the frame's arrival spread on the path (docs/PROTOCOL.md §5.3). The sender knows which tiles it sent,
// so the ones it sent whose bits are clear were lost: it resends exactly those with
// the next frame. The arrival bitmap says which data datagrams arrived from the
// network (not rebuilt from parity), by their index (Header.Seq); D is one more
// than the highest index the receiver knows the frame has. The sender sent them in
// index order, so it shows where in a frame the path drops.
type Ack struct {
	Stream     uint32
	Frame      uint32
	FirstUS    int64 // the frame's first accepted datagram arrived, µs on the receiver's clock
	ReadyUS    int64 // the receiver stopped waiting for the frame's datagrams, before decoding, µs on its clock
	Bytes      uint32
	Received   uint16
	FrameTiles uint16
	GridTiles  uint16
	Got        []byte // bitmap of grid tiles received whole, MSB first
	Datagrams  uint16 // data datagram indices the arrival bitmap covers
	Arrived    []byte // bitmap of data datagrams that arrived, by index, MSB first
}

const ackFixed = 34

// MaxAckSize is the body of the largest legal acknowledgement (docs/PROTOCOL.md §5):
// a grid of 65535 tiles and MaxFrameDatagrams data datagrams, 34 + 8192 + 2 + 8192
// = 16420 bytes.
const MaxAckSize = ackFixed + (1<<16-1+7)/8 + 2 + (MaxFrameDatagrams+7)/8

func (m *Ack) gotSize() int { return (int(m.GridTiles) + 7) / 8 }

// MarshalSize is the body size of the ack.
func (m *Ack) MarshalSize() int { return ackFixed + m.gotSize() + 2 + (int(m.Datagrams)+7)/8 }

// MarshalTo writes the body.
func (m *Ack) MarshalTo(b []byte) (int, error) {
	n := m.MarshalSize()
	g := m.gotSize()
	if len(b) < n || len(m.Got) < g || len(m.Arrived) < n-ackFixed-g-2 {
		return 0, io.ErrShortBuffer
	}
	be := binary.BigEndian
	be.PutUint32(b[0:], m.Stream)
	be.PutUint32(b[4:], m.Frame)
	be.PutUint64(b[8:], uint64(m.FirstUS))
	be.PutUint64(b[16:], uint64(m.ReadyUS))
	be.PutUint32(b[24:], m.Bytes)
	be.PutUint16(b[28:], m.Received)
	be.PutUint16(b[30:], m.FrameTiles)
	be.PutUint16(b[32:], m.GridTiles)
	copy(b[ackFixed:ackFixed+g], m.Got)
	be.PutUint16(b[ackFixed+g:], m.Datagrams)
	copy(b[ackFixed+g+2:n], m.Arrived)
	return n, nil
}

// Unmarshal parses the body. Got aliases b.
func (m *Ack) Unmarshal(b []byte) error {
	if len(b) < ackFixed {
		return fmt.Errorf("%w: ack of %d bytes", ErrControl, len(b))
	}
	be := binary.BigEndian
	m.Stream = be.Uint32(b[0:])
	m.Frame = be.Uint32(b[4:])
	m.FirstUS = int64(be.Uint64(b[8:]))
	m.ReadyUS = int64(be.Uint64(b[16:]))
	m.Bytes = be.Uint32(b[24:])
	m.Received = be.Uint16(b[28:])
	m.FrameTiles = be.Uint16(b[30:])
	m.GridTiles = be.Uint16(b[32:])
	g := m.gotSize()
	if m.FrameTiles > m.GridTiles || m.Received > m.FrameTiles || len(b) < ackFixed+g+2 {
		return fmt.Errorf("%w: ack tile counts", ErrControl)
	}
	m.Datagrams = be.Uint16(b[ackFixed+g:])
	if len(b) != m.MarshalSize() {
		return fmt.Errorf("%w: ack of %d bytes for %d tiles and %d datagrams", ErrControl, len(b), m.GridTiles, m.Datagrams)
	}
	m.Got = b[ackFixed : ackFixed+g]
	m.Arrived = b[ackFixed+g+2:]
	return nil
}

// Has reports whether grid tile i arrived.
func (m *Ack) Has(i int) bool { return Bit(m.Got, i) }

// Came reports whether data datagram i arrived from the network.
func (m *Ack) Came(i int) bool { return Bit(m.Arrived, i) }

// Bit reports bit i of a bitmap laid out like Ack.Got; false past its end.
func Bit(bitmap []byte, i int) bool {
	return i >= 0 && i/8 < len(bitmap) && bitmap[i/8]&(0x80>>(i%8)) != 0
}

// SetBit sets bit i in a bitmap laid out like Ack.Got.
func SetBit(bitmap []byte, i int) { bitmap[i/8] |= 0x80 >> (i % 8) }

// Ping carries the pinger's clock (either end pings); Pong echoes it with the
// answerer's clock, so the pinger learns the round trip time and the clock offset
// (docs/PROTOCOL.md §6).
type Ping struct {
	T1 int64 // pinger's clock when sent, µs
}

// Pong answers a Ping.
type Pong struct {
	T1 int64 // echoed
	T2 int64 // answerer's clock when answering, µs
}

// WriteMsg frames body as a message of type typ.
func WriteMsg(w io.Writer, buf []byte, typ uint8, body []byte) error {
	if len(body) > MaxControlBody {
		return fmt.Errorf("%w: body of %d bytes", ErrControl, len(body))
	}
	buf = append(buf[:0], typ, byte(len(body)>>8), byte(len(body)))
	buf = append(buf, body...)
	_, err := w.Write(buf)
	return err
}

// AppendPing appends a Ping body.
func AppendPing(b []byte, p Ping) []byte { return binary.BigEndian.AppendUint64(b, uint64(p.T1)) }

// AppendPong appends a Pong body.
func AppendPong(b []byte, p Pong) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(p.T1))
	return binary.BigEndian.AppendUint64(b, uint64(p.T2))
}

// ParsePing parses a Ping body.
func ParsePing(b []byte) (Ping, error) {
	if len(b) != 8 {
		return Ping{}, fmt.Errorf("%w: ping of %d bytes", ErrControl, len(b))
	}
	return Ping{T1: int64(binary.BigEndian.Uint64(b))}, nil
}

// ParsePong parses a Pong body.
func ParsePong(b []byte) (Pong, error) {
	if len(b) != 16 {
		return Pong{}, fmt.Errorf("%w: pong of %d bytes", ErrControl, len(b))
	}
	return Pong{T1: int64(binary.BigEndian.Uint64(b)), T2: int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// ReadMsg reads one message into buf (which must hold MaxControlBody bytes) and
// returns its type and body, a sub-slice of buf.
func ReadMsg(r io.Reader, buf []byte) (uint8, []byte, error) {
	var hdr [ControlHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[1])<<8 | int(hdr[2])
	if n > MaxControlBody || n > len(buf) {
		return 0, nil, fmt.Errorf("%w: body of %d bytes", ErrControl, n)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return 0, nil, fmt.Errorf("control message body: %w", err)
	}
	return hdr[0], buf[:n], nil
}
