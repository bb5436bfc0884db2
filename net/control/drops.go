package control

import (
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// Receiver drops (docs/PROTOCOL.md §5.4): how often a connection's reporter looks
// at the count, the longest it stays silent, and the growth that makes it speak
// at once.
const (
	dropsPoll  = 50 * time.Millisecond
	dropsEvery = time.Second
	DropsJump  = 64 // datagrams: more than this since the last message sends one at once
)

// reportDrops sends stream's receiver-drops message on c once a second and whenever
// count grew by more than DropsJump since the last one, until stop closes or a send
// fails (the connection's reader then sees it closed).
func reportDrops(c *conn, stream uint32, count func() uint64, stop <-chan struct{}) {
	t := time.NewTicker(dropsPoll)
	defer t.Stop()
	var sent uint64
	var at time.Time
	body := make([]byte, wire.DropsSize)
	for {
		n := count()
		if at.IsZero() || n-sent > DropsJump || time.Since(at) >= dropsEvery {
			m := wire.Drops{Stream: stream, Count: n, ClockUS: nowUS()}
			if _, err := m.MarshalTo(body); err != nil {
				return // a count past 2^63: never, but not a reason to panic
			}
			if c.send(wire.MsgDrops, body) != nil {
				c.c.Close()
				return
			}
			sent, at = n, time.Now()
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
