//go:build linux

package sender

import "syscall"

// threadCPU is the CPU time the calling thread has used, in ns (RUSAGE_THREAD):
// on a shared machine it swings far less with other people's load than wall time.
func threadCPU() int64 {
	const rusageThread = 1 // RUSAGE_THREAD, Linux only
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// processCPU is the CPU time the whole process has used, in ns (RUSAGE_SELF):
// the garbage collector's work on other threads included.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
