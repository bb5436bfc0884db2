package capture

import (
	"context"
	"time"
)

// LiveClock paces a synthetic source like a live camera: frame slots fall every
// 1/FPS from the first call, and a caller that comes late gets the current slot,
// not a backlog of old ones.
type LiveClock struct {
	FPS   float64
	start time.Time
	next  uint64
}

// Wait blocks until the next slot is due and returns its number and how many slots
// passed unclaimed since the previous call. With FPS 0 it returns at once, counting up.
func (c *LiveClock) Wait(ctx context.Context) (seq, skipped uint64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	seq = c.next
	if c.FPS > 0 {
		if c.start.IsZero() {
			c.start = time.Now()
		}
		if now := uint64(time.Since(c.start).Seconds() * c.FPS); now > seq {
			skipped, seq = now-seq, now
		}
		due := c.start.Add(time.Duration(float64(seq) / c.FPS * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return 0, 0, ctx.Err()
			case <-t.C:
			}
		}
	}
	c.next = seq + 1
	return seq, skipped, nil
}
