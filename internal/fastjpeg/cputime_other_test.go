//go:build !linux

package fastjpeg

import "testing"

// threadCPU is a no-op where per-thread CPU time is not available.
func threadCPU(*testing.B) func() { return func() {} }
