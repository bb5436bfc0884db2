package udp

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A 1080p frame as net/sender sends it by default (issue 15's figures): 70 tiles
// of 256x128, each five datagrams of a 1400-byte MTU (four full, one shorter), 350
// datagrams and ~470 KB in all, one Write per tile.
const (
	frameTiles     = 70
	tileDatagrams  = 5
	frameDatagrams = frameTiles * tileDatagrams
)

func frameTile() [][]byte { return runOf(tileDatagrams-1, 1400, 911) }

// threadCPU is the calling thread's CPU time (user + system); the caller must be
// locked to its thread.
func threadCPU() time.Duration { return cpuOf(unix.RUSAGE_THREAD) }

// cpuOf is the CPU time (user + system) of who: RUSAGE_THREAD or RUSAGE_SELF.
func cpuOf(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFramePaths sends and receives 1080p frames over loopback by every pair
// of paths, and reports datagrams a second and each end's CPU per frame, measured
// on the two goroutines' own threads, and the whole process's. On loopback the
// kernel delivers a datagram in the sender's system call, so the sender's figure
// holds most of the receiving kernel's work too.
func BenchmarkFramePaths(b *testing.B) {
	for _, sp := range []SendPath{SendGSO, SendMmsg, SendPlain} {
		for _, rp := range []RecvPath{RecvGRO, RecvMmsg, RecvPlain} {
			b.Run(fmt.Sprintf("send=%s/recv=%s", sp, rp), func(b *testing.B) { benchFrames(b, sp, rp) })
		}
	}
}

func benchFrames(b *testing.B, sp SendPath, rp RecvPath) {
	rx, tx := pair(b)
	w, err := NewWriter(tx, sp, 64)
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewReader(rx, rp, 64)
	if err != nil {
		b.Fatal(err)
	}
	tile := frameTile()
	bytesPerFrame := 0
	for _, d := range tile {
		bytesPerFrame += len(d) * frameTiles
	}
	type result struct {
		cpu time.Duration
		err error
	}
	start := make(chan int)
	got := make(chan result)
	go func() { // the receiver: reads one frame per value on start
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		arena := make([]byte, 1<<20)
		var cpu time.Duration
		for frames := range start {
			c0 := threadCPU()
			off := 0
			for n := 0; n < frames*frameDatagrams; {
				if len(arena)-off < r.MinBuf() {
					off = 0
				}
				msgs, used, err := r.Read(arena[off:])
				if err != nil {
					got <- result{err: err}
					return
				}
				n += len(msgs)
				off += used
			}
			cpu += threadCPU() - c0
			got <- result{cpu: cpu}
		}
	}()
	defer close(start)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.SetBytes(int64(bytesPerFrame))
	b.ResetTimer()
	all0 := cpuOf(unix.RUSAGE_SELF)
	var sendCPU time.Duration
	var res result
	for i := 0; i < b.N; i++ {
		start <- 1
		c0 := threadCPU()
		for range frameTiles {
			if _, err := w.Write(tile); err != nil {
				b.Fatal(err)
			}
		}
		sendCPU += threadCPU() - c0
		if res = <-got; res.err != nil {
			b.Fatal(res.err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuOf(unix.RUSAGE_SELF)-all0).Microseconds())/1e3/float64(b.N), "process-cpu-ms/frame")
	b.ReportMetric(float64(b.N*frameDatagrams)/b.Elapsed().Seconds(), "dgrams/s")
	b.ReportMetric(float64(sendCPU.Microseconds())/1e3/float64(b.N), "send-cpu-ms/frame")
	b.ReportMetric(float64(res.cpu.Microseconds())/1e3/float64(b.N), "recv-cpu-ms/frame")
}
