// Package render shows or writes the frames the receiver rebuilds: a window, a
// browser view, a recording, a directory of images, or nothing at all.
package render

import (
	"github.com/hrvs/hrvs/net/receiver"
)

// Sink consumes received frames. Show is called from a single goroutine, newest frame
// first: a sink that falls behind is handed the newest frame and the ones in between
// are skipped. The frame is valid until Show returns; a sink that keeps it longer
// calls f.Retain and later f.Release. Close flushes and frees what the sink holds.
type Sink interface {
	Show(f *receiver.Frame) error
	Close() error
}

// Null discards frames; it is the headless default and what benchmarks use.
type Null struct{}

func (Null) Show(*receiver.Frame) error { return nil }
func (Null) Close() error               { return nil }
