package wire

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// MsgDrops is a receiver's count of the datagrams it dropped itself, in its
// socket buffers or its own queue (docs/PROTOCOL.md §5.4): receiver -> sender.
const MsgDrops uint8 = 10

// Drops says how many datagrams of a stream the receiver dropped itself since it
// started: loss the acknowledgements show that the path did not cause.
//
//	+---------------------------------------------------------------+
//	|                          stream id                            |  0
//	+---------------------------------------------------------------+
//	|             datagrams dropped at the receiver                 |  4
//	|                       (cumulative)                            |
//	+---------------------------------------------------------------+
//	|                 receiver's clock, µs (signed)                 | 12
//	|                                                               |
//	+---------------------------------------------------------------+
//
// Bytes after the twentieth are ignored, so later versions can say more.
type Drops struct {
	Stream  uint32
	Count   uint64 // datagrams, cumulative since the receiver started; never decreases while it runs
	ClockUS int64  // the receiver's clock when it counted, µs (§6)
}

// DropsSize is the body size of a Drops message.
const DropsSize = 20

// Offsets of the Drops fields.
const (
	dropsCountOff = 4
	dropsClockOff = 12
)

// MarshalTo writes the body.
func (m *Drops) MarshalTo(b []byte) (int, error) {
	if len(b) < DropsSize {
		return 0, io.ErrShortBuffer
	}
	if m.Count > math.MaxInt64 {
		return 0, fmt.Errorf("%w: drops count %d", ErrControl, m.Count)
	}
	binary.BigEndian.PutUint32(b, m.Stream)
	binary.BigEndian.PutUint64(b[dropsCountOff:], m.Count)
	binary.BigEndian.PutUint64(b[dropsClockOff:], uint64(m.ClockUS))
	return DropsSize, nil
}

// Unmarshal parses the body; a short body or a count above 2^63-1 (no receiver
// drops that many) is an error.
func (m *Drops) Unmarshal(b []byte) error {
	if len(b) < DropsSize {
		return fmt.Errorf("%w: drops of %d bytes", ErrControl, len(b))
	}
	count := binary.BigEndian.Uint64(b[dropsCountOff:])
	if count > math.MaxInt64 {
		return fmt.Errorf("%w: drops count %d", ErrControl, count)
	}
	*m = Drops{Stream: binary.BigEndian.Uint32(b), Count: count, ClockUS: int64(binary.BigEndian.Uint64(b[dropsClockOff:]))}
	return nil
}
