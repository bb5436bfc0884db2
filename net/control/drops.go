package control

import (
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// Receiver drops (docs/PROTOCOL.md §5.4): how often a connection's writer looks at
// the count, the longest it stays silent, and the growth that makes it speak at once.
const (
	dropsPoll  = 50 * time.Millisecond
	dropsEvery = time.Second
	// DropsJump is the growth of the count, in datagrams, that is sent at once.
	DropsJump = 64
)

// dropsReporter sends a stream's receiver-drops messages on one connection.
type dropsReporter struct {
	stream uint32
	count  func() uint64
	sent   uint64
	at     time.Time
	body   [wire.DropsSize]byte
}

// report sends the count when it is due: once a second, when it grew by more than
// DropsJump, or, with changed, whenever it differs from the last one sent. The
// writer calls it with changed before each acknowledgement, so the drops that
// explain an acknowledgement's losses reach the sender before it does.
func (d *dropsReporter) report(c *conn, now time.Time, changed bool) error {
	n := d.count()
	if !d.at.IsZero() && n-d.sent <= DropsJump && now.Sub(d.at) < dropsEvery && !(changed && n != d.sent) {
		return nil
	}
	m := wire.Drops{Stream: d.stream, Count: n, ClockUS: nowUS()}
	if _, err := m.MarshalTo(d.body[:]); err != nil {
		return err
	}
	if err := c.send(wire.MsgDrops, d.body[:]); err != nil {
		return err
	}
	d.sent, d.at = n, now
	return nil
}
