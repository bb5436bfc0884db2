package sender

import (
	"image"
	"math"
	"slices"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// chooser decides which tiles a frame carries: the ones the receiver lacks, the
// ones that changed since the version sent, and a slow rolling refresh, trimmed to
// what a slow path carries in a frame span. It reads what the ledger knows of each
// tile and is called under the sender's lock.
type chooser struct {
	threshold int           // Config.ChangeThreshold
	refresh   time.Duration // Config.Refresh
	span      time.Duration // Config.FrameSpan
	count     *counters
	// test, when set, is the change test of grid tile i in place of comparing
	// pixels with ref: a re-tiled MJPEG frame's, from its coefficients (mjpeg.go).
	test func(i int) bool

	grid tile.Grid
	// The newest version sent of every tile, what change is measured against, is
	// tile i of refOf[i]'s frame, or of ref when refOf[i] is nil. The frames are
	// held, unreleased, while a tile refers to them (hold), so the reference costs
	// no copy; only a frame let go while tiles still refer to it has those tiles
	// copied into ref.
	ref        *image.YCbCr
	refOf      []*heldFrame
	held       []*heldFrame // oldest first, at most maxHeld
	refreshPos int
	refreshDue float64 // tiles owed to the rolling refresh
	lastSubmit time.Time
	fitPos     int // where the next frame trimmed by fit starts
}

// budget is what rate control allows a frame, as the chooser needs it.
type budget struct {
	refreshX   int     // the refresh period is stretched this many times
	lowest     bool    // the quality is at its floor: only trimming is left
	targetBits float64 // bit/s the path may carry
}

// heldFrame is a frame the sender keeps from its source because it is the
// reference of some tiles.
type heldFrame struct {
	f     *capture.Frame
	tiles int // grid tiles whose reference it is
}

// maxHeld bounds the frames held as references: one is the common case (every
// tile changes every frame, or the newest frame sent the tiles that did), a few
// more cover tiles sent in turn by the refresh, and beyond that the oldest is
// copied into the reference picture and let go, so a source's pool never lends
// more than a few frames.
const maxHeld = 3

// reset starts over on a new grid; ref is the reference picture of its size. The
// frames held for the old grid are let go.
func (c *chooser) reset(g tile.Grid, ref *image.YCbCr) {
	c.letGo()
	c.grid, c.ref = g, ref
	c.refOf = make([]*heldFrame, g.Len())
	c.refreshPos, c.refreshDue = 0, 0
}

// hold makes frame f the reference of the tiles it carries, once they are sent
// (the frame is done before the next change test). It reports whether f is held:
// then the chooser releases it, once no tile refers to it, and the caller must
// not. A frame of another shape than the reference picture is not held, and its
// tiles keep their reference, as when nothing was sent.
//
// This is the rule that lets a frame be the reference without a copy: a source
// reuses a frame's buffers only after Release, and a held frame is released only
// when no tile's reference is in it.
func (c *chooser) hold(f *capture.Frame, tiles []uint16) bool {
	img := f.Image
	if img == nil || c.ref == nil || len(tiles) == 0 || img.Rect != c.ref.Rect || img.SubsampleRatio != c.ref.SubsampleRatio {
		return false
	}
	h := &heldFrame{f: f}
	for _, t := range tiles {
		if old := c.refOf[t]; old != nil {
			old.tiles--
		}
		c.refOf[t] = h
		h.tiles++
	}
	kept := c.held[:0]
	for _, x := range c.held {
		if x.tiles > 0 {
			kept = append(kept, x)
		} else {
			x.f.Release()
		}
	}
	clear(c.held[len(kept):])
	c.held = append(kept, h)
	for len(c.held) > maxHeld {
		c.evict(c.held[0])
		c.held[0] = nil
		c.held = c.held[1:]
	}
	return true
}

// evict copies the tiles whose reference is in frame h into the reference
// picture, and releases h.
func (c *chooser) evict(h *heldFrame) {
	for i, x := range c.refOf {
		if x == h {
			tile.CopyRect(c.ref, h.f.Image, c.grid.Rect(i))
			c.refOf[i] = nil
		}
	}
	h.f.Release()
}

// letGo releases every held frame, forgetting the references in them: on a new
// grid, whose tiles start over, and when the sender stops.
func (c *chooser) letGo() {
	for _, h := range c.held {
		h.f.Release()
	}
	clear(c.held)
	c.held = c.held[:0]
	clear(c.refOf)
}

// reference is the picture holding the reference of grid tile i.
func (c *chooser) reference(i int) *image.YCbCr {
	if h := c.refOf[i]; h != nil {
		return h.f.Image
	}
	return c.ref
}

// pick chooses the tiles frame img carries: every tile never sent or lost, every
// tile that changed, and the next few of the rolling refresh; at least one, so the
// receiver sees every frame. tiles is the ledger's view of each grid tile.
func (c *chooser) pick(now time.Time, img *image.YCbCr, tiles []tileState, b budget) (jobs []tileJob, deferred int) {
	n := c.grid.Len()
	jobs = make([]tileJob, 0, n)
	chosen := make([]bool, n)
	for i := range n {
		ts := &tiles[i]
		switch {
		case !ts.everSent || c.threshold < 0:
			jobs = append(jobs, tileJob{tile: i})
		case ts.lost:
			jobs = append(jobs, tileJob{tile: i, flag: wire.FlagRepair})
		case c.changed(img, i):
			jobs = append(jobs, tileJob{tile: i})
		default:
			continue
		}
		chosen[i] = true
	}
	if !c.lastSubmit.IsZero() {
		period := c.refresh * time.Duration(b.refreshX)
		c.refreshDue += float64(n) * now.Sub(c.lastSubmit).Seconds() / period.Seconds()
		c.refreshDue = min(c.refreshDue, float64(n))
	}
	c.lastSubmit = now
	due := int(math.Floor(c.refreshDue))
	if len(jobs) == 0 && due == 0 {
		due = 1 // a keepalive: one tile, taken from the refresh's turn
	}
	for k := 0; k < n && due > 0; k++ {
		i := c.refreshPos
		c.refreshPos = (c.refreshPos + 1) % n
		c.refreshDue = max(0, c.refreshDue-1)
		due--
		if chosen[i] {
			continue // already going: it counts as refreshed
		}
		jobs = append(jobs, tileJob{tile: i, flag: wire.FlagRefresh})
	}
	jobs, deferred = c.fit(jobs, tiles, b)
	for _, j := range jobs {
		switch j.flag {
		case wire.FlagRepair:
			c.count.repaired.Add(1)
		case wire.FlagRefresh:
			c.count.refreshed.Add(1)
		default:
			c.count.changed.Add(1)
		}
	}
	return jobs, deferred
}

// changed is the change test of grid tile i of picture img (nil with test set).
func (c *chooser) changed(img *image.YCbCr, i int) bool {
	if c.test != nil {
		return c.test(i)
	}
	return changed(img, c.reference(i), c.grid.Rect(i), c.threshold)
}

// fit trims jobs, once the quality is at its lowest, to the bytes the path carries
// in Config.FrameSpan at the target rate. On a slow link a frame of every changed
// tile takes longer than that (a 1080p frame at the lowest quality is ~100 KB: 160
// ms at 5 Mbit/s), and its latency with it, so the frame carries only the tiles
// that fit, by each tile's recent encoded size: repairs first, then changed tiles,
// then the refresh, each in turn from where the last trimmed frame stopped, so
// every tile gets its turn. A changed tile left out is still changed next frame
// (the reference holds what was sent), a lost one still lost. At least one tile
// goes. deferred is the estimated bytes left out.
func (c *chooser) fit(jobs []tileJob, tiles []tileState, b budget) (kept []tileJob, deferred int) {
	if !b.lowest || c.span < 0 {
		return jobs, 0 // lowering the quality comes first (docs/CONTROL.md §5)
	}
	limit := b.targetBits / 8 * c.span.Seconds()
	known, sum := 0, 0
	for _, j := range jobs {
		if e := tiles[j.tile].est; e > 0 {
			known++
			sum += e
		}
	}
	if known == 0 {
		return jobs, 0 // nothing encoded yet: no estimate
	}
	mean := sum / known
	est := func(t int) int {
		if e := tiles[t].est; e > 0 {
			return e
		}
		return mean
	}
	total := 0
	for _, j := range jobs {
		total += est(j.tile)
	}
	if float64(total) <= limit {
		return jobs, 0
	}
	n := c.grid.Len()
	class := func(j tileJob) int {
		switch j.flag {
		case wire.FlagRepair:
			return 0
		case wire.FlagRefresh:
			return 2
		}
		return 1
	}
	slices.SortStableFunc(jobs, func(a, b tileJob) int {
		if d := class(a) - class(b); d != 0 {
			return d
		}
		return (a.tile-c.fitPos+n)%n - (b.tile-c.fitPos+n)%n
	})
	used, keep := 0, 0
	for keep < len(jobs) && (keep == 0 || float64(used+est(jobs[keep].tile)) <= limit) {
		used += est(jobs[keep].tile)
		keep++
	}
	if keep < len(jobs) {
		c.fitPos = jobs[keep].tile // the next trimmed frame starts with the first left out
		c.count.deferred.Add(uint64(len(jobs) - keep))
	}
	return jobs[:keep], total - used
}
