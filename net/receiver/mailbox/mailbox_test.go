package mailbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ref is a value that counts its releases.
type ref struct{ released *atomic.Int32 }

func (r ref) Release() { r.released.Add(1) }

func newRef() (ref, *atomic.Int32) {
	var n atomic.Int32
	return ref{&n}, &n
}

func TestBox(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a value put is taken as it was put, not released", func(t *testing.T) {
			b := New[ref]()
			v, n := newRef()
			if b.Put(v) {
				t.Fatal("an empty box reported a replaced value")
			}
			got, ok := b.TryTake()
			if !ok || got.released != n || n.Load() != 0 {
				t.Fatalf("took %v %v, released %d", got, ok, n.Load())
			}
			if _, ok := b.TryTake(); ok {
				t.Fatal("a value was taken twice")
			}
		}},
		{"a newer value replaces and releases one never taken", func(t *testing.T) {
			b := New[ref]()
			old, nOld := newRef()
			newer, nNew := newRef()
			b.Put(old)
			if !b.Put(newer) {
				t.Fatal("the replacement was not reported")
			}
			if nOld.Load() != 1 || nNew.Load() != 0 {
				t.Fatalf("old released %d times, new %d", nOld.Load(), nNew.Load())
			}
			if got, _ := b.TryTake(); got.released != nNew {
				t.Fatal("took the older value")
			}
		}},
		{"take waits for a value put later", func(t *testing.T) {
			b := New[ref]()
			v, n := newRef()
			go func() { b.Put(v) }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := b.Take(ctx)
			if err != nil || got.released != n {
				t.Fatalf("take: %v", err)
			}
		}},
		{"take ends with the context", func(t *testing.T) {
			b := New[ref]()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := b.Take(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("take after cancel: %v", err)
			}
		}},
		{"close releases the waiting value, wakes takers and refuses later puts", func(t *testing.T) {
			b := New[ref]()
			v, n := newRef()
			b.Put(v)
			b.Close()
			b.Close()
			if n.Load() != 1 {
				t.Fatalf("waiting value released %d times at close", n.Load())
			}
			if _, err := b.Take(context.Background()); !errors.Is(err, ErrClosed) {
				t.Fatalf("take after close: %v", err)
			}
			late, nLate := newRef()
			if b.Put(late) || nLate.Load() != 1 {
				t.Fatalf("a put after close was kept (released %d)", nLate.Load())
			}
			if !b.Closed() {
				t.Fatal("Closed is false after Close")
			}
		}},
		{"under a fast producer every value is released exactly once", func(t *testing.T) {
			b := New[ref]()
			const n = 2000
			counts := make([]atomic.Int32, n)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			wg.Add(1)
			first := make(chan struct{})
			go func() {
				defer wg.Done()
				for taken := 0; ; taken++ {
					v, err := b.Take(ctx)
					if err != nil {
						return
					}
					v.Release()
					if taken == 0 {
						close(first)
					}
				}
			}()
			b.Put(ref{&counts[0]})
			<-first // the consumer is running: the rest races it
			for i := 1; i < n; i++ {
				b.Put(ref{&counts[i]})
			}
			b.Close()
			wg.Wait()
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("value %d released %d times", i, c)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}
