package receiver

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by Next after the receiver has stopped.
var ErrClosed = errors.New("receiver: closed")

// latest holds the newest released frame for the display side. Putting a frame
// replaces (and releases) one that was never taken, so a slow sink sees the newest
// picture and the receiver never waits for it.
type latest struct {
	mu     sync.Mutex
	f      *Frame
	ready  chan struct{} // has a token while f is set
	closed chan struct{}
	once   sync.Once
}

func (l *latest) init() {
	l.ready = make(chan struct{}, 1)
	l.closed = make(chan struct{})
}

// put takes over one reference to f.
func (l *latest) put(f *Frame) (skipped bool) {
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Release()
		skipped = true
	}
	select {
	case l.ready <- struct{}{}:
	default:
	}
	return skipped
}

func (l *latest) take(ctx context.Context) (*Frame, error) {
	for {
		l.mu.Lock()
		f := l.f
		l.f = nil
		l.mu.Unlock()
		if f != nil {
			return f, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.closed:
			return nil, ErrClosed
		case <-l.ready:
		}
	}
}

func (l *latest) close() {
	l.once.Do(func() {
		close(l.closed)
		l.mu.Lock()
		if l.f != nil {
			l.f.Release()
			l.f = nil
		}
		l.mu.Unlock()
	})
}
