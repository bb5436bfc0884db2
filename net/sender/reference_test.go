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

// Holding frames as references picks the same tiles, frame after frame, as the
// copy of every tile sent that it replaces: a scene where some tiles change a
// lot, some under the threshold (and so drift until they pass it), some not at
// all, with the rolling refresh going.
func TestHeldReferencesPickWhatCopiesPicked(t *testing.T) {
	g, err := tile.NewGrid(1024, 384, 256, 128, wire.Sub420) // 12 tiles
	if err != nil {
		t.Fatal(err)
	}
	newChooser := func() *chooser {
		c := &chooser{threshold: DefaultChangeThreshold, refresh: DefaultRefresh, span: -1, count: &counters{}}
		c.reset(g, image.NewYCbCr(image.Rect(0, 0, 1024, 384), image.YCbCrSubsampleRatio420))
		return c
	}
	held, copied := newChooser(), newChooser()
	r := &recycler{released: map[*capture.Frame]bool{}}
	pic := textured(1024, 384, image.YCbCrSubsampleRatio420)
	tiles := make([]tileState, g.Len())
	b := budget{refreshX: 1, targetBits: 20e6}
	now := time.Unix(1000, 0)
	changes := 0
	for seq := range 120 {
		// Tile 1 moves fast, tile 6 drifts one level every other frame, tile 9
		// changes now and then; the rest stay.
		for _, e := range []struct {
			tile, every int
			by          uint8
		}{{1, 1, 9}, {6, 2, 1}, {9, 17, 30}} {
			if seq%e.every != 0 {
				continue
			}
			rc := g.Rect(e.tile)
			for y := rc.Min.Y; y < rc.Max.Y; y++ {
				for x := rc.Min.X; x < rc.Max.X; x++ {
					pic.Y[pic.YOffset(x, y)] += e.by
				}
			}
		}
		r.pic = pic
		f := r.frame(uint64(seq))
		now = now.Add(33 * time.Millisecond)
		want, _ := copied.pick(now, f.Image, tiles, b)
		got, _ := held.pick(now, f.Image, tiles, b)
		if len(got) != len(want) {
			t.Fatalf("frame %d: held references picked %v, copies %v", seq, got, want)
		}
		sent := make([]uint16, len(got))
		for i := range got {
			if got[i].tile != want[i].tile || got[i].flag != want[i].flag {
				t.Fatalf("frame %d: held references picked %v, copies %v", seq, got, want)
			}
			sent[i] = uint16(got[i].tile)
			tile.CopyRect(copied.ref, f.Image, g.Rect(got[i].tile))
			if got[i].flag == 0 && seq > 0 {
				changes++
			}
			tiles[got[i].tile] = tileState{sent: 1, everSent: true, confirmed: true}
		}
		if !held.hold(f, sent) {
			f.Release()
		}
	}
	if changes < 120 {
		t.Fatalf("only %d changed tiles picked after the first frame: the scene tested too little", changes)
	}
}
