package bench

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// BenchmarkLoopback runs hrvs's sender and receiver in this process over loopback,
// with the codecs hrvs uses by default, as fast as they go, one op per frame
// delivered: the figure to profile (go test -bench Loopback/1920x1080 -cpuprofile
// cpu.out -memprofile mem.out) and the allocations per frame of send and receive
// together in the steady state. The source replays pre-drawn pattern frames, so
// drawing the pattern (BenchmarkPatternDraw) does not hide the path under test.
func BenchmarkLoopback(b *testing.B) {
	for _, sz := range [][2]int{{1280, 720}, {1920, 1080}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			benchLoopback(b, sz[0], sz[1], false)
		})
		// Conditional replenishment off: every tile of every frame is encoded
		// and sent, the worst case and the peers' way.
		b.Run(fmt.Sprintf("%dx%d/every-tile", sz[0], sz[1]), func(b *testing.B) {
			benchLoopback(b, sz[0], sz[1], true)
		})
	}
}

// BenchmarkPatternDraw is what the built-in pattern costs the sender per frame.
func BenchmarkPatternDraw(b *testing.B) {
	for _, sz := range [][2]int{{1280, 720}, {1920, 1080}, {3840, 2160}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			p, err := capture.NewPattern(sz[0], sz[1], 0)
			if err != nil {
				b.Fatal(err)
			}
			img := image.NewYCbCr(image.Rect(0, 0, sz[0], sz[1]), image.YCbCrSubsampleRatio420)
			b.ReportAllocs()
			b.SetBytes(int64(frameBytes(sz[0], sz[1])))
			for i := range b.N {
				p.Draw(img, uint64(i))
			}
		})
	}
}

// replay is a Source that hands out pre-drawn frames in a loop at replayFPS: a
// capture stage that costs nothing, like a camera's DMA buffers, and faster than
// hrvs can send. It is paced because the sender drops, rather than waits for, a
// frame that arrives while it is busy: an unpaced source would spin.
type replay struct {
	info   capture.Info
	frames []*image.YCbCr
	seq    uint64
	next   time.Time
}

const replayFPS = 240

func newReplay(w, h, n int) (*replay, error) {
	p, err := capture.NewPattern(w, h, 0)
	if err != nil {
		return nil, err
	}
	r := &replay{info: p.Info()}
	r.info.FPS = replayFPS
	for i := range n {
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		p.Draw(img, uint64(i))
		r.frames = append(r.frames, img)
	}
	return r, nil
}

func (r *replay) Info() capture.Info { return r.info }
func (r *replay) Close() error       { return nil }
func (r *replay) Next(ctx context.Context) (*capture.Frame, error) {
	if r.next.IsZero() {
		r.next = time.Now()
	}
	t := time.NewTimer(time.Until(r.next))
	select {
	case <-ctx.Done():
		t.Stop()
		return nil, ctx.Err()
	case <-t.C:
	}
	r.next = r.next.Add(time.Second / replayFPS)
	if now := time.Now(); r.next.Before(now) {
		r.next = now // a late caller gets a frame now, not a backlog
	}
	img := r.frames[r.seq%uint64(len(r.frames))]
	r.seq++
	return capture.NewFrame(img, r.seq-1, time.Now(), nil), nil
}

// benchLoopback measures b.N frames after a warm-up; everyTile turns conditional
// replenishment off.
func benchLoopback(b *testing.B, w, h int, everyTile bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	rx, err := receiver.New(receiver.Config{Listen: "127.0.0.1:0", Log: quiet,
		NewDecoder: func(h *tile.Headers) tile.Decoder { return tile.NewFastDecoder(h) }})
	if err != nil {
		b.Fatal(err)
	}
	// Quality pinned at 75: rate control reads a loaded CPU as a congested path and
	// would lower it, changing the work per frame between runs.
	cfg := sender.Config{To: rx.Addr(), Log: quiet, Quality: 75, MinQuality: 75, FrameSpan: -1,
		NewEncoder: func() tile.Encoder { return &tile.FastEncoder{} }}
	if everyTile {
		cfg.ChangeThreshold = -1
	}
	tx, err := sender.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	src, err := newReplay(w, h, 30)
	if err != nil {
		b.Fatal(err)
	}
	const warmup = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs <- rx.Run(ctx) }()
	go func() { defer wg.Done(); errs <- tx.Run(ctx, src, 0) }()
	defer func() {
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, context.Canceled) {
				b.Error(err)
			}
		}
	}()
	next := func() {
		f, err := rx.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
	for range warmup {
		next()
	}
	b.ReportAllocs()
	b.SetBytes(int64(frameBytes(w, h)))
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		next()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
}
