package attack

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// BenchmarkKeyCost streams b.N frames of the 1080p pattern at 30 fps through a receiver on
// loopback, with and without a key, and reports the whole process's CPU per frame (sender
// and receiver together: the AEAD work of both ends) and the frames delivered per second.
// Run the two side by side: go test -run '^$' -bench KeyCost -benchtime 90x -count 5 ./internal/attack
func BenchmarkKeyCost(b *testing.B) {
	for _, c := range []struct {
		name string
		key  *seal.Key
	}{{"clear", nil}, {"keyed", key(7)}} {
		b.Run(c.name, func(b *testing.B) {
			rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Key: c.key})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { rx.Run(ctx) })
			wg.Go(func() {
				for {
					f, err := rx.Next(ctx)
					if err != nil {
						return
					}
					f.Release()
				}
			})
			pat, _ := capture.NewPattern(1920, 1080, 30)
			tx, err := sender.New(sender.Config{To: rx.Addr(), Key: c.key, Quality: 75, MinQuality: 75,
				NewEncoder: func() tile.Encoder { return &tile.FastEncoder{} }})
			if err != nil {
				b.Fatal(err)
			}
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			start := time.Now()
			b.ResetTimer()
			if err := tx.Run(ctx, pat, b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			wall := time.Since(start)
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cancel()
			wg.Wait()
			cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
			got := rx.Stats().FramesComplete
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/frame")
			b.ReportMetric(float64(got)/wall.Seconds(), "fps-delivered")
			b.ReportMetric(float64(got)/float64(b.N), "delivered/sent")
		})
	}
}
