//go:build !linux

package sender

// threadCPU is 0 where the thread's CPU time is not available: the benchmark
// then reports wall time alone.
func threadCPU() int64 { return 0 }

// processCPU is 0 where the process's CPU time is not available.
func processCPU() int64 { return 0 }
