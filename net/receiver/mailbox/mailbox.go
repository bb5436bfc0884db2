// Package mailbox holds the newest of a stream of values for a consumer that may be
// slower than its producer: putting a value replaces (and releases) one that was
// never taken, so the producer never waits and the consumer always gets the newest.
// A box of depth N keeps the newest N instead, handed out oldest first, for a consumer
// that wants every value (a file sink) and can catch up.
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

// Box holds at most depth values. It is safe for concurrent use; the zero value is not
// ready, New or NewDepth makes one.
type Box[T Releaser] struct {
	mu     sync.Mutex
	vs     []T // waiting values, oldest first
	depth  int
	closed bool
	ready  chan struct{} // holds a token while a value may be waiting
	done   chan struct{} // closed by Close
}

// New returns an empty, open box of depth 1: it holds the newest value only.
func New[T Releaser]() *Box[T] { return NewDepth[T](1) }

// NewDepth returns an empty, open box that keeps up to depth values (at least 1).
func NewDepth[T Releaser](depth int) *Box[T] {
	return &Box[T]{depth: max(depth, 1), ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// Put takes over v's reference and adds it to the values waiting. It reports whether
// the box was full, so that it dropped (and released) the oldest value never taken.
// After Close it releases v at once.
func (b *Box[T]) Put(v T) (replaced bool) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		v.Release()
		return false
	}
	var old T
	if len(b.vs) == b.depth {
		old, replaced = b.vs[0], true
		b.vs = append(b.vs[:0], b.vs[1:]...)
	}
	b.vs = append(b.vs, v)
	b.mu.Unlock()
	if replaced {
		old.Release()
	}
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return replaced
}

// TryTake returns the oldest waiting value, if any, without waiting; the caller owns
// its reference.
func (b *Box[T]) TryTake() (T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var zero T
	if len(b.vs) == 0 {
		return zero, false
	}
	v := b.vs[0]
	b.vs[0] = zero
	b.vs = b.vs[1:]
	if len(b.vs) > 0 { // more wait: the next Take must not sleep
		select {
		case b.ready <- struct{}{}:
		default:
		}
	}
	return v, true
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
	vs := b.vs
	b.vs = nil
	close(b.done)
	b.mu.Unlock()
	for _, v := range vs {
		v.Release()
	}
}

// Closed reports whether Close was called.
func (b *Box[T]) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
