// Package mailbox holds the newest of a stream of values for a consumer that may be
// slower than its producer: putting a value replaces (and releases) one that was
// never taken, so the producer never waits and the consumer always gets the newest.
// The receiver hands frames to the display through one, and the window and the
// browser view each keep one between their Show and their drawing or encoding.
package mailbox

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is what Take returns once the box is closed and empty.
var ErrClosed = errors.New("mailbox: closed")

// Releaser is a value holding a reference (a pooled frame): the box releases a value
// it drops, so every value put is released exactly once, by the taker or by the box.
type Releaser interface{ Release() }

// Box holds at most one value. It is safe for concurrent use; the zero value is not
// ready, New makes one.
type Box[T Releaser] struct {
	mu     sync.Mutex
	v      T
	full   bool
	closed bool
	ready  chan struct{} // holds a token while a value may be waiting
	done   chan struct{} // closed by Close
}

// New returns an empty, open box.
func New[T Releaser]() *Box[T] {
	return &Box[T]{ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// Put takes over v's reference and makes it the value waiting. It reports whether
// it replaced (and released) a value that was never taken. After Close it releases
// v at once.
func (b *Box[T]) Put(v T) (replaced bool) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		v.Release()
		return false
	}
	old, had := b.v, b.full
	b.v, b.full = v, true
	b.mu.Unlock()
	if had {
		old.Release()
	}
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return had
}

// TryTake returns the waiting value, if any, without waiting; the caller owns its
// reference.
func (b *Box[T]) TryTake() (T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.v, b.full
	var zero T
	b.v, b.full = zero, false
	return v, ok
}

// Take waits for a value and returns it; the caller owns its reference. It returns
// ctx's error when ctx ends first, and ErrClosed once the box is closed.
func (b *Box[T]) Take(ctx context.Context) (T, error) {
	for {
		if v, ok := b.TryTake(); ok {
			return v, nil
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		case <-b.done:
			var zero T
			return zero, ErrClosed
		case <-b.ready:
		}
	}
}

// Close releases the waiting value, if any, makes every later Put release its value
// at once, and wakes every Take. It may be called more than once.
func (b *Box[T]) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	v, had := b.v, b.full
	var zero T
	b.v, b.full = zero, false
	close(b.done)
	b.mu.Unlock()
	if had {
		v.Release()
	}
}

// Closed reports whether Close was called.
func (b *Box[T]) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
