// Package loopback is the one in-process end-to-end rig of HRVS's tests: a receiver, an
// optional impairing relay and a sender on 127.0.0.1, with a display that compares every
// frame shown with the source frame it was captured from. Only tests import it; it sits
// apart from package testrig so that the packages it starts can still use testrig in
// their own internal tests.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/sender"
	"github.com/hrvs/hrvs/net/tile"
)

// Config says what to start. The rig fills in the addresses.
type Config struct {
	Receiver receiver.Config // Listen is 127.0.0.1:0 when empty
	Sender   sender.Config   // To is set to the receiver (or the relay)
	Relay    *relay.Config   // an impairing relay between sender and receiver, or nil
	// NewReceiver and NewSender make the two ends; nil means receiver.New and
	// sender.New. A test puts them in network namespaces this way.
	NewReceiver func(receiver.Config) (*receiver.Receiver, error)
	NewSender   func(sender.Config) (*sender.Sender, error)
	// Reference returns source frame seq, which a shown frame captured from it is
	// compared with, or nil when the source has no such frame (the test then fails);
	// nil Reference compares nothing. It is called from one goroutine and may reuse
	// the picture it returns.
	Reference func(seq uint64) *image.YCbCr
}

// Shown is what the display saw of one frame.
type Shown struct {
	Seq      uint64 // the source frame it was captured from
	Stream   uint32
	Ready    time.Time
	Complete bool
	Latency  time.Duration
	PSNR     float64 // against the source frame, in dB; 0 without a Reference
}

// Rig is a running receiver (and relay) with a display; the sender runs when Send or
// SendInBackground is called.
type Rig struct {
	RX    *receiver.Receiver
	TX    *sender.Sender
	Relay *relay.Relay // nil without Config.Relay

	t      testing.TB
	src    *capture.Stamps
	ref    func(uint64) *image.YCbCr
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu    sync.Mutex
	shown []Shown
}

// Start starts the receiver, the relay if asked and the display, and makes the sender
// for src. t.Cleanup stops them all and fails t if a goroutine of the sender, receiver or
// relay is still running afterwards.
func Start(t testing.TB, src capture.Source, cfg Config) *Rig {
	t.Helper()
	if cfg.Receiver.Listen == "" {
		cfg.Receiver.Listen = "127.0.0.1:0"
	}
	if cfg.NewReceiver == nil {
		cfg.NewReceiver = receiver.New
	}
	if cfg.NewSender == nil {
		cfg.NewSender = sender.New
	}
	rx, err := cfg.NewReceiver(cfg.Receiver)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rig{RX: rx, t: t, src: capture.NewStamps(src), ref: cfg.Reference}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	testrig.NoLeaks(t, stageMarks...)
	t.Cleanup(r.Stop)
	r.wg.Add(2)
	go func() { defer r.wg.Done(); rx.Run(r.ctx) }()
	go func() { defer r.wg.Done(); r.display() }()
	cfg.Sender.To = rx.Addr()
	if cfg.Relay != nil {
		imp := *cfg.Relay
		imp.Listen, imp.Forward = "127.0.0.1:0", rx.Addr()
		if imp.Seed == 0 {
			imp.Seed = 7
		}
		if r.Relay, err = relay.Start(imp, nil); err != nil {
			t.Fatal(err)
		}
		cfg.Sender.To = r.Relay.Addr().String()
	}
	if r.TX, err = cfg.NewSender(cfg.Sender); err != nil {
		t.Fatal(err)
	}
	return r
}

// Send runs the sender in the caller until it has sent frames frames (0: until ctx
// ends) and returns its error; a context ended is not an error.
func (r *Rig) Send(ctx context.Context, frames int) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { // Stop ends the sender too
		select {
		case <-r.ctx.Done():
			stop()
		case <-ctx.Done():
		}
	}()
	if err := r.TX.Run(ctx, r.src, frames); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// SendInBackground runs the sender until Stop; its error fails the test.
func (r *Rig) SendInBackground() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.Send(r.ctx, 0); err != nil {
			r.t.Error(err)
		}
	}()
}

// SendUntil runs the sender until cond holds, failing t with cond's last error after
// testrig.Patience; then it stops the sender and lets the last frames arrive (Settle).
func (r *Rig) SendUntil(t testing.TB, cond func() error) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Send(ctx, 0) }()
	err := testrig.Wait(testrig.Patience, cond)
	stop()
	if serr := <-done; serr != nil {
		t.Fatal(serr)
	}
	if err != nil {
		t.Fatalf("still not so after %v of sending: %v", testrig.Patience, err)
	}
	r.Settle()
}

// Settle waits until the receiver has released as many frames as the sender sent, so
// the last frames are counted; on a path that loses frames it returns once none has
// arrived for two seconds instead.
func (r *Rig) Settle() {
	quiet, last := time.Now(), r.RX.Stats().FramesReceived
	testrig.Wait(testrig.Patience, func() error {
		got := r.RX.Stats().FramesReceived
		if got >= r.TX.Stats().FramesSent {
			return nil
		}
		if got != last {
			quiet, last = time.Now(), got
		}
		if time.Since(quiet) > 2*time.Second {
			return nil
		}
		return fmt.Errorf("%d frames received", got)
	})
}

// WaitShown waits until at least n frames have been shown, failing t after
// testrig.Patience.
func (r *Rig) WaitShown(t testing.TB, n int) {
	t.Helper()
	testrig.Eventually(t, testrig.Patience, func() error {
		if got := len(r.Shown()); got < n {
			return fmt.Errorf("%d of %d frames shown", got, n)
		}
		return nil
	})
}

// Stop stops the sender, the receiver, the display and the relay and waits for them.
// It may be called more than once.
func (r *Rig) Stop() {
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		if r.Relay != nil {
			r.Relay.Close()
		}
	})
}

// Shown returns what the display has shown so far, in order.
func (r *Rig) Shown() []Shown {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.shown)
}

func (r *Rig) display() {
	for {
		f, err := r.RX.Next(r.ctx)
		if err != nil {
			return
		}
		s := Shown{Stream: f.Stream, Ready: f.Ready, Complete: f.Complete(), Latency: f.Latency()}
		seq, ok := r.src.Seq(f.CaptureUS)
		s.Seq = seq
		if r.ref != nil {
			var ref *image.YCbCr
			if ok {
				ref = r.ref(seq)
			}
			if ref == nil {
				r.t.Errorf("frame %d carries capture time %d, which no source frame had", f.Seq, f.CaptureUS)
			} else {
				s.PSNR = tile.PSNR(ref, f.Image)
			}
		}
		f.Release()
		r.mu.Lock()
		r.shown = append(r.shown, s)
		r.mu.Unlock()
	}
}

// Pattern returns a Reference for a capture.Pattern source: the pattern's frame seq.
func Pattern(p *capture.Pattern) func(uint64) *image.YCbCr {
	info := p.Info()
	img := image.NewYCbCr(image.Rect(0, 0, info.Width, info.Height), image.YCbCrSubsampleRatio420)
	return func(seq uint64) *image.YCbCr {
		p.Draw(img, seq)
		return img
	}
}

// stageMarks pick the goroutines of the stages the rig starts out of a stack dump.
var stageMarks = []string{"hrvs/net/sender.", "hrvs/net/receiver.", "hrvs/net/control.", "internal/lab/relay."}
