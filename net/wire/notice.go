package wire

import (
	"encoding/binary"
	"fmt"
)

// MsgNotice is a multicast sender's word to one receiver about its place in the group
// (docs/PROTOCOL.md §10.3): sender -> receiver, on the receiver's own control link.
const MsgNotice uint8 = 9

// Notice states of a receiver in a multicast group.
const (
	NoticeInStep     uint8 = 0 // its acknowledgements steer repair, parity and rate again
	NoticeLeftBehind uint8 = 1 // the group no longer waits for it; the refresh still heals it
)

// Notice reasons.
const (
	ReasonNone uint8 = 0
	ReasonLoss uint8 = 1 // it lost far more than the group's best receiver
	ReasonLate uint8 = 2 // its acknowledgements came far later than the others'
)

// Notice tells a receiver whether the group waits for it.
//
//	+---------------+---------------+-------------------------------+
//	|     state     |    reason     |   loss, 1/10000 (0..10000)    |
//	+---------------+---------------+-------------------------------+
//	|                   group rate, kbit/s                          |
//	+---------------------------------------------------------------+
//
// Bytes after the eighth are ignored, so later versions can say more.
type Notice struct {
	State     uint8
	Reason    uint8
	LossBP    uint16 // the receiver's loss as the sender measured it, in basis points
	GroupKbps uint32 // the rate the group is sent at
}

// NoticeSize is the body size of a Notice.
const NoticeSize = 8

// AppendNotice appends n's body to b.
func AppendNotice(b []byte, n Notice) []byte {
	b = append(b, n.State, n.Reason)
	b = binary.BigEndian.AppendUint16(b, n.LossBP)
	return binary.BigEndian.AppendUint32(b, n.GroupKbps)
}

// ParseNotice parses a Notice body; a short body, an unknown state or a loss above
// 10000 is an error.
func ParseNotice(b []byte) (Notice, error) {
	if len(b) < NoticeSize {
		return Notice{}, fmt.Errorf("%w: notice of %d bytes", ErrControl, len(b))
	}
	n := Notice{State: b[0], Reason: b[1], LossBP: binary.BigEndian.Uint16(b[2:]), GroupKbps: binary.BigEndian.Uint32(b[4:])}
	if n.State > NoticeLeftBehind {
		return Notice{}, fmt.Errorf("%w: notice state %d", ErrControl, n.State)
	}
	if n.LossBP > 10000 {
		return Notice{}, fmt.Errorf("%w: notice loss %d/10000", ErrControl, n.LossBP)
	}
	return n, nil
}
