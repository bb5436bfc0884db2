package sender

import (
	"image"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// recycler hands out frames of one picture whose Release scribbles over the
// pixels, as a source reusing the buffer for its next frame would: a reference
// read after its frame was released no longer matches the picture.
type recycler struct {
	pic      *image.YCbCr
	released map[*capture.Frame]bool
}

func (r *recycler) frame(seq uint64) *capture.Frame {
	img := clone(r.pic)
	return capture.NewFrame(img, seq, time.Now(), func(f *capture.Frame) {
		if r.released[f] {
			panic("frame released twice")
		}
		r.released[f] = true
		for i := range f.Image.Y {
			f.Image.Y[i] ^= 0x5a
		}
		for i := range f.Image.Cb {
			f.Image.Cb[i] ^= 0x33
		}
	})
}

func TestChooserHoldsReferenceFrames(t *testing.T) {
	g, err := tile.NewGrid(1024, 128, 256, 128, wire.Sub420) // 4 tiles in a row
	if err != nil {
		t.Fatal(err)
	}
	newChooser := func() (*chooser, *recycler) {
		c := &chooser{threshold: DefaultChangeThreshold, refresh: DefaultRefresh, span: -1, count: &counters{}}
		c.reset(g, image.NewYCbCr(image.Rect(0, 0, 1024, 128), image.YCbCrSubsampleRatio420))
		return c, &recycler{pic: textured(1024, 128, image.YCbCrSubsampleRatio420), released: map[*capture.Frame]bool{}}
	}
	unchanged := func(t *testing.T, c *chooser, pic *image.YCbCr) {
		t.Helper()
		for i := range g.Len() {
			if c.changed(pic, i) {
				t.Fatalf("tile %d of the picture sent is taken for changed: its reference was overwritten", i)
			}
		}
	}
	t.Run("a frame stays held while any tile refers to it", func(t *testing.T) {
		c, r := newChooser()
		a, b, d := r.frame(0), r.frame(1), r.frame(2)
		if !c.hold(a, []uint16{0, 1, 2, 3}) || !c.hold(b, []uint16{0, 1}) {
			t.Fatal("a frame of the grid's shape was not held")
		}
		if r.released[a] {
			t.Fatal("frame a was released while tiles 2 and 3 refer to it")
		}
		unchanged(t, c, r.pic)
		c.hold(d, []uint16{2, 3})
		if !r.released[a] || r.released[b] || r.released[d] {
			t.Fatalf("released %v, want frame a alone (no tile refers to it)", r.released)
		}
		unchanged(t, c, r.pic)
	})
	t.Run("beyond maxHeld frames the oldest is copied and released", func(t *testing.T) {
		c, r := newChooser()
		first := r.frame(0)
		c.hold(first, []uint16{0, 1, 2, 3})
		var frames []*capture.Frame
		for i := range maxHeld { // one tile each: the first frame still holds tile 3
			f := r.frame(uint64(i + 1))
			frames = append(frames, f)
			c.hold(f, []uint16{uint16(i)})
		}
		if !r.released[first] {
			t.Fatal("the oldest frame is still held beyond maxHeld")
		}
		if len(c.held) > maxHeld {
			t.Fatalf("%d frames held, want at most %d", len(c.held), maxHeld)
		}
		unchanged(t, c, r.pic) // tile 3 from the copy of the first frame
		again := r.frame(9)
		frames = append(frames, again)
		c.hold(again, []uint16{0})
		if !r.released[frames[0]] {
			t.Fatal("a frame no tile refers to is still held")
		}
		unchanged(t, c, r.pic)
		c.letGo()
		for _, f := range append(frames, first) {
			if !r.released[f] {
				t.Fatalf("frame %d still held after letGo", f.Seq)
			}
		}
	})
	t.Run("a frame of another shape is not held", func(t *testing.T) {
		c, r := newChooser()
		r.pic = textured(512, 128, image.YCbCrSubsampleRatio420)
		if f := r.frame(0); c.hold(f, []uint16{0}) || r.released[f] {
			t.Fatal("a frame smaller than the grid was held or released by the chooser")
		}
	})
}
