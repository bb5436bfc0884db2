//go:build !linux

package capture

import (
	"io"
	"os"
)

// newCachedReader is f itself where the kernel has no preadv2(2) with RWF_NOWAIT.
func newCachedReader(f *os.File) io.Reader { return f }
