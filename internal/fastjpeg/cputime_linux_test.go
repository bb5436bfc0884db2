//go:build linux

package fastjpeg

import (
	"runtime"
	"syscall"
	"testing"
)

// threadCPU returns a function that reports the CPU time the calling goroutine's
// thread has used since threadCPU was called, as cpu-ns/op. On a shared machine
// wall time swings with other people's load; the thread's own CPU time does much
// less, so single-thread benchmarks report both.
func threadCPU(b *testing.B) func() {
	runtime.LockOSThread()
	start := rusageThread()
	return func() {
		used := rusageThread() - start
		runtime.UnlockOSThread()
		b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
	}
}

func rusageThread() int64 {
	const rusageThread = 1 // RUSAGE_THREAD, Linux only
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
