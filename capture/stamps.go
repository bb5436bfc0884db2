package capture

import (
	"context"
	"sync"
)

// Stamps wraps a Source and remembers which source frame each capture timestamp
// belongs to. The sender stamps datagrams with the capture time, so a receiver-side
// check (tests, benchmarks) can look a received frame up and compare it with the
// exact frame it was made from, even when frames were skipped on the way.
type Stamps struct {
	Source
	mu   sync.Mutex
	seqs map[int64]uint64 // capture µs -> Frame.Seq
}

// stampsKept bounds the map: only recent frames can still arrive.
const stampsKept = 1024

// NewStamps wraps src.
func NewStamps(src Source) *Stamps {
	return &Stamps{Source: src, seqs: make(map[int64]uint64)}
}

// Next passes the source's frame on and remembers its timestamp.
func (s *Stamps) Next(ctx context.Context) (*Frame, error) {
	f, err := s.Source.Next(ctx)
	if err == nil {
		s.mu.Lock()
		s.seqs[f.Time.UnixMicro()] = f.Seq
		if len(s.seqs) > 4*stampsKept {
			for k, seq := range s.seqs {
				if seq+stampsKept < f.Seq {
					delete(s.seqs, k)
				}
			}
		}
		s.mu.Unlock()
	}
	return f, err
}

// Seq returns the source frame number captured at captureUS (µs since the epoch,
// as receiver.Frame.CaptureUS reports it).
func (s *Stamps) Seq(captureUS int64) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, ok := s.seqs[captureUS]
	return seq, ok
}
