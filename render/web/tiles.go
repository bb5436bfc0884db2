package web

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/tile"
)

// tileVersion is one tile's newest encoding. Once published it is never changed, so
// viewers write data without a lock.
type tileVersion struct {
	ver       uint64 // number of the frame (among those shown) it was encoded from
	seq       uint32 // the sender's number of that frame
	captureUS int64
	data      []byte // the scan (docs/PROTOCOL.md §4)
}

// tileSet is the view's newest picture as tiles: an immutable snapshot the tiler
// publishes after each frame and every viewer reads.
type tileSet struct {
	gen       uint64 // number of the frame it is up to date with
	epoch     uint64 // changes with the grid or the subsampling: viewers start over
	grid      tile.Grid
	seq       uint32
	captureUS int64
	concealed int
	tableID   uint8
	tables    []byte // the encoded tables message for tableID
	tiles     []tileVersion
}

// maxTileWorkers bounds the goroutines that encode one frame's changed tiles.
const maxTileWorkers = 4

// tiler turns frames into tiles, encoding only the tiles whose pixels changed since
// the frame it saw last, on up to GOMAXPROCS (at most maxTileWorkers) cores. It is not
// safe for concurrent use: the Server's tiler goroutine owns it.
type tiler struct {
	quality, tw, th int

	encs    []fastjpeg.Encoder // one per worker
	changed []int              // scratch: the tiles that differ
	prev    *image.YCbCr       // the pixels of the last frame seen, the same size and layout
	set     *tileSet
	epoch   uint64
}

// update brings the tiles up to frame f, the gen-th frame shown, and returns the new
// snapshot and how many tiles it encoded. The frame stays the caller's.
func (t *tiler) update(f *receiver.Frame, gen uint64) (*tileSet, int, error) {
	img := f.Image
	if img == nil {
		return nil, 0, fmt.Errorf("frame %d has no picture", f.Seq)
	}
	sub, ok := tile.SubsampleCode(img.SubsampleRatio)
	if !ok {
		return nil, 0, fmt.Errorf("frame %d: subsampling %v is not 4:2:0 or 4:2:2", f.Seq, img.SubsampleRatio)
	}
	if img.Rect.Min != (image.Point{}) {
		return nil, 0, fmt.Errorf("frame %d: picture starts at %v, not 0,0", f.Seq, img.Rect.Min)
	}
	var captureUS int64
	if !f.Captured.IsZero() {
		captureUS = f.Captured.UnixMicro()
	}
	old := t.set
	fresh := t.prev == nil || t.prev.Rect != img.Rect || t.prev.SubsampleRatio != img.SubsampleRatio
	set := &tileSet{gen: gen, seq: f.Seq, captureUS: captureUS, concealed: f.TilesMissing, tableID: sub}
	if fresh {
		g, err := tile.NewGrid(img.Rect.Dx(), img.Rect.Dy(), t.tw, t.th, sub)
		if err != nil {
			return nil, 0, fmt.Errorf("frame %d: %w", f.Seq, err)
		}
		t.epoch++
		t.prev = image.NewYCbCr(img.Rect, img.SubsampleRatio)
		set.grid, set.tiles = g, make([]tileVersion, g.Len())
		if set.tables, err = tablesMessage(sub, t.quality); err != nil {
			return nil, 0, err
		}
	} else {
		set.grid, set.tables = old.grid, old.tables
		set.tiles = append([]tileVersion(nil), old.tiles...)
	}
	set.epoch = t.epoch
	t.changed = t.changed[:0]
	for i := range set.tiles {
		if fresh || !sameRect(t.prev, img, set.grid.Rect(i)) {
			t.changed = append(t.changed, i)
		}
	}
	if err := t.encode(set, img); err != nil {
		t.prev, t.set = nil, nil // start afresh: prev may hold pixels no payload has
		return nil, 0, fmt.Errorf("frame %d: %w", f.Seq, err)
	}
	for _, i := range t.changed {
		tile.CopyRect(t.prev, img, set.grid.Rect(i))
		set.tiles[i].ver, set.tiles[i].seq, set.tiles[i].captureUS = gen, f.Seq, captureUS
	}
	t.set = set
	return set, len(t.changed), nil
}

// encode encodes the changed tiles of img into set.tiles[i].data, spreading them over
// the workers; it returns once every worker is done.
func (t *tiler) encode(set *tileSet, img *image.YCbCr) error {
	workers := min(runtime.GOMAXPROCS(0), maxTileWorkers, len(t.changed))
	if len(t.encs) < workers {
		t.encs = make([]fastjpeg.Encoder, workers)
	}
	errs := make([]error, max(workers, 1))
	var next atomic.Int64
	work := func(w int) {
		for {
			k := int(next.Add(1)) - 1
			if k >= len(t.changed) {
				return
			}
			i := t.changed[k]
			r := set.grid.Rect(i)
			// A new slice for every tile: viewers may still be writing the previous one.
			data, err := t.encs[w].AppendScan(nil, img, r, t.quality)
			if err != nil {
				errs[w] = fmt.Errorf("tile %v: %w", r, err)
				return
			}
			set.tiles[i].data = data
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	if workers > 0 {
		work(0)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sameRect reports whether rectangle r holds the same samples in a and b, which have
// the same size and layout and start at 0,0.
func sameRect(a, b *image.YCbCr, r image.Rectangle) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if !bytes.Equal(a.Y[y*a.YStride+r.Min.X:y*a.YStride+r.Max.X], b.Y[y*b.YStride+r.Min.X:y*b.YStride+r.Max.X]) {
			return false
		}
	}
	c := image.Rect(r.Min.X/2, r.Min.Y, (r.Max.X+1)/2, r.Max.Y)
	if a.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		c.Min.Y, c.Max.Y = r.Min.Y/2, (r.Max.Y+1)/2
	}
	for y := c.Min.Y; y < c.Max.Y; y++ {
		ao, bo := y*a.CStride, y*b.CStride
		if !bytes.Equal(a.Cb[ao+c.Min.X:ao+c.Max.X], b.Cb[bo+c.Min.X:bo+c.Max.X]) ||
			!bytes.Equal(a.Cr[ao+c.Min.X:ao+c.Max.X], b.Cr[bo+c.Min.X:bo+c.Max.X]) {
			return false
		}
	}
	return true
}

// tablesMessage encodes the tables message for the scans of subsampling sub at
// quality q: the header of docs/PROTOCOL.md §4 for a 0 x 0 picture, and where its
// size goes.
func tablesMessage(sub uint8, q int) ([]byte, error) {
	hdr := fastjpeg.AppendHeader(nil, 0, 0, q, fastjpeg.Subsampling(sub))
	at := sofSizeAt(hdr)
	if at < 0 {
		return nil, fmt.Errorf("the JPEG header for subsampling %d quality %d has no SOF0", sub, q)
	}
	return AppendTables(nil, &TablesMsg{Version: WSVersion, ID: sub, Subsampling: sub, Quality: uint8(q),
		SizeAt: uint16(at), Header: hdr}), nil
}

// sofSizeAt walks the header's segments (ITU T.81 §B.1.1.4) to SOF0 and returns the
// offset of its height field: marker (2), length (2), precision (1), then height;
// -1 if there is none.
func sofSizeAt(hdr []byte) int {
	for p := 2; p+4 <= len(hdr) && hdr[p] == 0xff; p += 2 + int(binary.BigEndian.Uint16(hdr[p+2:])) {
		if hdr[p+1] == 0xc0 {
			return p + 5
		}
	}
	return -1
}
