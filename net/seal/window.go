package seal

import "sync"

// Window sizes (RFC 6479 §2): the bitmap is windowBlocks words of 64 bits; the window
// accepts counters up to windowSize-64 behind the newest one (4032 datagrams: over three
// 1080p frames of reordering, far more than a LAN's).
const (
	windowBlocks = 64
	windowSize   = windowBlocks * 64
	// WindowSpan is how far behind the newest accepted counter a datagram may arrive.
	WindowSpan = windowSize - 64
)

// Window is the anti-replay window of RFC 6479 ("IPsec Anti-Replay Algorithm without Bit
// Shifting"): a ring of 64-bit blocks indexed by counter/64, so sliding forward clears
// whole blocks instead of shifting bits. Counter 0 is never valid. The zero value is ready
// and safe for concurrent use.
type Window struct {
	mu     sync.Mutex
	newest uint64
	bits   [windowBlocks]uint64
}

// Fresh reports whether counter could be accepted now: not 0, not already seen and not
// older than the window. It changes nothing; a receiver calls it before the AEAD to drop
// a replay cheaply.
func (w *Window) Fresh(counter uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fresh(counter)
}

func (w *Window) fresh(counter uint64) bool {
	switch {
	case counter == 0:
		return false
	case counter > w.newest:
		return true
	case w.newest-counter >= WindowSpan:
		return false
	}
	block := (counter / 64) % windowBlocks
	return w.bits[block]&(1<<(counter%64)) == 0
}

// Accept marks counter seen, sliding the window forward when it is the newest, and reports
// false (changing nothing) when it is not fresh. Call it only after the datagram
// authenticated, so a forged counter cannot move the window.
func (w *Window) Accept(counter uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.fresh(counter) {
		return false
	}
	if counter > w.newest {
		// Clear every block between the old newest and the new one (at most the whole ring).
		from, to := w.newest/64, counter/64
		if to-from >= windowBlocks {
			clear(w.bits[:])
		} else {
			for b := from + 1; b <= to; b++ {
				w.bits[b%windowBlocks] = 0
			}
		}
		w.newest = counter
	}
	w.bits[(counter/64)%windowBlocks] |= 1 << (counter % 64)
	return true
}

// Start moves the window so that every counter up to and including floor counts as seen:
// a receiver that learns, in an authenticated handshake, the counter a sender will use
// next refuses anything recorded before it.
func (w *Window) Start(floor uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if floor <= w.newest {
		return
	}
	w.newest = floor
	for i := range w.bits {
		w.bits[i] = ^uint64(0)
	}
}
