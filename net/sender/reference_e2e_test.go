package sender_test

import (
	"context"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/net/sender"
)

// scribbler is a still source (frame 0 of the pattern, as fast as asked) that
// scribbles over its frames' buffers the moment they are released, as a file
// source reading its next frame into them would, and reuses them a little later.
// It counts the frames out at once.
type scribbler struct {
	*capture.Pattern
	pic *image.YCbCr

	mu      sync.Mutex
	free    []*image.YCbCr
	out     int // frames handed out and not released
	maxOut  int
	doubled int // frames released twice
}

// quarantine is how many released buffers stay scribbled over before one is
// reused (oldest first), so a reference read after its release is caught.
const quarantine = 2

func newScribbler(t *testing.T) *scribbler {
	p, err := capture.NewPattern(640, 384, 0)
	if err != nil {
		t.Fatal(err)
	}
	pic := image.NewYCbCr(image.Rect(0, 0, 640, 384), image.YCbCrSubsampleRatio420)
	p.Draw(pic, 0)
	return &scribbler{Pattern: p, pic: pic}
}

func (s *scribbler) Next(ctx context.Context) (*capture.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var img *image.YCbCr
	if len(s.free) > quarantine {
		img, s.free = s.free[0], s.free[1:]
	} else {
		img = image.NewYCbCr(s.pic.Rect, s.pic.SubsampleRatio)
	}
	s.out++
	s.maxOut = max(s.maxOut, s.out)
	s.mu.Unlock()
	copy(img.Y, s.pic.Y)
	copy(img.Cb, s.pic.Cb)
	copy(img.Cr, s.pic.Cr)
	var once sync.Once
	return capture.NewFrame(img, 0, time.Now(), func(f *capture.Frame) {
		released := false
		once.Do(func() { released = true })
		s.mu.Lock()
		defer s.mu.Unlock()
		if !released {
			s.doubled++
			return
		}
		for i := range f.Image.Y {
			f.Image.Y[i] = ^f.Image.Y[i]
		}
		s.out--
		s.free = append(s.free, f.Image)
	}), nil
}

func (s *scribbler) Draw(img *image.YCbCr, seq uint64) { s.Pattern.Draw(img, 0) }

// The sender keeps the frames it sent as the reference of its change test rather
// than copies of them, so it must hold them unreleased while a tile refers to
// them, hold only a few, and release every one in the end: a still picture from a
// source that scribbles over released frames sends its tiles once, then only the
// refresh and keepalive tiles.
func TestReferenceFramesAreHeldUntilNoTileNeedsThem(t *testing.T) {
	src := newScribbler(t)
	r := newRig(t, src, relay.Config{}, sender.Config{})
	const frames = 40
	if err := r.Send(context.Background(), frames); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	st := r.TX.Stats()
	t.Logf("sender %+v", st)
	tiles := uint64(st.Tiles)
	if st.FramesSent != frames || st.TilesChanged != tiles {
		t.Errorf("%d frames sent with %d changed tiles, want %d frames and the first frame's %d tiles alone: a reference was overwritten",
			st.FramesSent, st.TilesChanged, frames, tiles)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.out != 0 || src.doubled != 0 {
		t.Errorf("after the run %d frames are still held and %d were released twice, want none", src.out, src.doubled)
	}
	// Held as references, in flight, and the one being captured.
	if limit := sender.MaxHeld + 2; src.maxOut > limit {
		t.Errorf("%d frames out at once, want at most %d", src.maxOut, limit)
	}
	if fr := r.Shown(); len(fr) == 0 || lastPSNR(fr) < 35 {
		t.Errorf("%d frames shown, last PSNR %.1f dB", len(fr), lastPSNR(fr))
	}
}
