package sender

import (
	"sync"
	"time"
)

// pacer is a token bucket shared by the workers. It lets a short burst through
// (burst bytes) and then spaces datagrams at the configured rate, so a frame's
// hundreds of datagrams do not hit the receiver's socket buffer all at once.
type pacer struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

// minSleep is below the timer's useful resolution; shorter debts are carried forward
// and paid with the next sleep.
const minSleep = 200 * time.Microsecond

// setRate changes the rate; the bucket keeps its fill (clipped to the new burst), so
// frequent changes by rate control neither grant extra bursts nor stall the sender.
func (p *pacer) setRate(bits int64) {
	p.mu.Lock()
	p.rate = float64(bits) / 8
	// 2 ms at the rate, at least 8 KB: a longer burst than the pacing rate's own
	// spacing would fill a slow bottleneck's queue by itself.
	p.burst = max(8<<10, p.rate/500)
	if p.last.IsZero() {
		p.tokens = p.burst
	}
	p.tokens = min(p.tokens, p.burst)
	p.mu.Unlock()
}

// wait takes n bytes from the bucket, sleeping while it is in debt; it returns the
// time the rate asked it to sleep, the path's share of a frame's sending. (Not the
// time slept: on a busy CPU a sleep overruns, and the overrun is the CPU's.)
func (p *pacer) wait(n int) time.Duration {
	p.mu.Lock()
	now := time.Now()
	if !p.last.IsZero() {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	p.tokens -= float64(n)
	debt, rate := p.tokens, p.rate
	p.mu.Unlock()
	if debt < 0 {
		if d := time.Duration(-debt / rate * float64(time.Second)); d >= minSleep {
			time.Sleep(d)
			return d
		}
	}
	return 0
}

// budget is the most bytes the bucket lets through at once: what a batch of
// datagrams sent in one system call may hold, so batching keeps the pacing.
func (p *pacer) budget() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.burst)
}
