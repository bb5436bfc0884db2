package testrig

import (
	"bytes"
	"sync"
)

// LogBuffer is a bytes.Buffer that a logger's goroutines and a test can share: a test
// hands it to slog.NewTextHandler and reads what was logged with String.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
