package sender

import (
	"image"
	"slices"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// fit keeps what crosses the path in frameSpan: repairs first, then changed tiles
// from where the last trimmed frame stopped, and never nothing.
func TestFitTrimsAFrameToTheSpan(t *testing.T) {
	var count counters
	c := &chooser{span: DefaultFrameSpan, count: &count}
	g, err := tile.NewGrid(2048, 128, 256, 128, wire.Sub420) // 8 tiles in a row
	if err != nil {
		t.Fatal(err)
	}
	c.reset(g, nil)
	tiles := make([]tileState, 8)
	for i := range tiles {
		tiles[i].est = 10_000
	}
	all := func() []tileJob {
		jobs := []tileJob{{tile: 6, flag: wire.FlagRefresh}}
		for i := range 6 {
			jobs = append(jobs, tileJob{tile: i})
		}
		return append(jobs, tileJob{tile: 7, flag: wire.FlagRepair})
	}
	kept := func(jobs []tileJob, deferred int) []int {
		var ts []int
		for _, j := range jobs {
			ts = append(ts, j.tile)
		}
		if want := (8 - len(jobs)) * 10_000; deferred != want {
			t.Fatalf("%d bytes deferred with %d of 8 tiles sent, want %d", deferred, len(jobs), want)
		}
		return ts
	}
	// 30.5 KB in a frame span: three tiles.
	b := budget{lowest: false, targetBits: 30_500 * 8 / DefaultFrameSpan.Seconds()}
	if _, deferred := c.fit(all(), tiles, b); deferred != 0 {
		t.Fatal("trimmed a frame while the quality could still go down")
	}
	b.lowest = true
	if got := kept(c.fit(all(), tiles, b)); !slices.Equal(got, []int{7, 0, 1}) {
		t.Fatalf("first frame sends %v, want the repair then tiles 0 and 1", got)
	}
	if got := kept(c.fit(all(), tiles, b)); !slices.Equal(got, []int{7, 2, 3}) {
		t.Fatalf("second frame sends %v, want the repair then the next changed tiles", got)
	}
	b.targetBits = 100e6
	if got := kept(c.fit(all(), tiles, b)); len(got) != 8 {
		t.Fatalf("a fast path trimmed the frame to %v", got)
	}
	b.targetBits = 1e5 // not even one tile fits: one goes anyway
	if got := kept(c.fit(all(), tiles, b)); len(got) != 1 || got[0] != 7 {
		t.Fatalf("a path too slow for one tile sends %v, want the repair alone", got)
	}
	if n := count.deferred.Load(); n != 5+5+7 {
		t.Fatalf("tiles deferred %d", n)
	}
}

// pick sends what the receiver lacks and what changed, and a keepalive tile when
// nothing did.
func TestPickChoosesLostChangedAndRefreshTiles(t *testing.T) {
	g, err := tile.NewGrid(1024, 128, 256, 128, wire.Sub420) // 4 tiles in a row
	if err != nil {
		t.Fatal(err)
	}
	img := textured(1024, 128, image.YCbCrSubsampleRatio420)
	newChooser := func() (*chooser, []tileState) {
		c := &chooser{threshold: DefaultChangeThreshold, refresh: DefaultRefresh, span: -1, count: &counters{}}
		c.reset(g, clone(img))
		tiles := make([]tileState, 4)
		for i := range tiles {
			tiles[i] = tileState{sent: 1, everSent: true, confirmed: true}
		}
		return c, tiles
	}
	flags := func(jobs []tileJob) map[int]uint8 {
		m := map[int]uint8{}
		for _, j := range jobs {
			m[j.tile] = j.flag
		}
		return m
	}
	now := time.Unix(1000, 0)
	b := budget{refreshX: 1, targetBits: 20e6}
	t.Run("a tile never sent goes as a change", func(t *testing.T) {
		c, tiles := newChooser()
		tiles[2] = tileState{}
		if got := flags(mustPick(c.pick(now, img, tiles, b))); len(got) != 1 || got[2] != 0 {
			t.Fatalf("picked %v, want tile 2 alone", got)
		}
	})
	t.Run("a lost tile goes as a repair", func(t *testing.T) {
		c, tiles := newChooser()
		tiles[1].lost = true
		if got := flags(mustPick(c.pick(now, img, tiles, b))); len(got) != 1 || got[1] != wire.FlagRepair {
			t.Fatalf("picked %v, want tile 1 as a repair", got)
		}
	})
	t.Run("a changed tile goes", func(t *testing.T) {
		c, tiles := newChooser()
		cur := clone(img)
		for y := 0; y < 128; y++ {
			for x := 768; x < 1024; x++ {
				cur.Y[cur.YOffset(x, y)] ^= 0x80
			}
		}
		if got := flags(mustPick(c.pick(now, cur, tiles, b))); len(got) != 1 || got[3] != 0 {
			t.Fatalf("picked %v, want tile 3", got)
		}
	})
	t.Run("an unchanged picture sends one refresh tile in turn", func(t *testing.T) {
		c, tiles := newChooser()
		for want := range 3 {
			got := flags(mustPick(c.pick(now.Add(time.Duration(want)*time.Millisecond), img, tiles, b)))
			if len(got) != 1 || got[want] != wire.FlagRefresh {
				t.Fatalf("frame %d picked %v, want tile %d as a refresh", want, got, want)
			}
		}
	})
}

func mustPick(jobs []tileJob, _ int) []tileJob { return jobs }
