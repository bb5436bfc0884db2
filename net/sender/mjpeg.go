package sender

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// What the sender does with a frame a source hands through compressed
// (capture.Frame.JPEG, an MJPEG camera or file): Config.MJPEG.
const (
	// MJPEGRetile cuts the camera's JPEG into tiles in the DCT domain: no IDCT, no
	// colour conversion, no second generation of loss (docs/JPEG.md, Re-tiling).
	// The tiles keep the camera's quantisation tables, which travel in the
	// stream's table sets (codec 1, docs/PROTOCOL.md §4.1).
	MJPEGRetile = "retile"
	// MJPEGSplit is MJPEGRetile that cuts a frame whose restart intervals line up
	// with the tiles at its restart markers, with no Huffman decoding at all
	// (codec 2; split.go has the rule), whether or not the change test is on.
	MJPEGSplit = "split"
	// MJPEGDecode decodes the frame and encodes its tiles again, as for any source.
	MJPEGDecode = "decode"
)

// Table sets are repeated (docs/PROTOCOL.md §4.1): with every frame for
// tablesFresh after a set comes into use, then at least every tablesEvery, so a
// receiver that joined late or lost the datagram decodes within that.
const (
	tablesFresh = time.Second
	tablesEvery = 100 * time.Millisecond
	// maxSets bounds the table sets the sender remembers for reuse: rate control
	// moving between a few qualities reuses their ids instead of taking new ones.
	maxSets = 8
)

// The stream's Huffman tables follow its pictures (docs/JPEG.md, Re-tiling):
// built optimal from a frame's symbols, they are rebuilt when a frame codes
// huffDrift larger, per byte of the camera's own JPEG, than the frame they were
// built from promised, at most once every huffEvery frames; a frame huffJump
// larger (a cut to another scene) rebuilds them at once and is coded again
// with the new ones.
const (
	huffDrift = 0.03
	huffJump  = 0.25
	// huffEvery bounds the rebuilds' cost: each is a second pass over the
	// camera's scan (Decode, then CountTile over every tile).
	huffEvery = 4
)

// retiler re-tiles the frames of an MJPEG source. It holds the coefficients of
// the frame being sent, its tile payloads, each tile's change summary as last
// sent, and the stream's table sets. Run's goroutine prepares a frame while no
// other is being encoded (the pool is idle); the encoders then only read it, each
// writing its own tiles' entries of sent.
type retiler struct {
	threshold float64 // SummaryChange peak, in levels, above which a tile changed; negative: every tile
	mtu       int     // the clear datagram's largest size: a table datagram must fit
	mode      string  // Config.MJPEG, for the stats
	trySplit  bool    // cut frames at their restart markers where they allow it (split.go)

	coef  fastjpeg.CoefFrame
	tiles [][]byte // Transcode's payloads by grid tile, when coded is set
	coded bool     // tiles holds the frame's payloads; otherwise encoders code them from coef (AppendTile)
	cur   [][]int32
	sent  [][]int32 // the summary of the version last sent, nil for never
	grid  tile.Grid
	sub   uint8

	// The stream's Huffman tables: optimal (T.81 Annex K.2) for the symbols
	// counted in huffCounts (the frame they were built from, with half the weight
	// of the counts before it), complete, so every later frame of the camera's
	// quantisation tables huffFor codes with them until one drifts (drift).
	huff       [4]fastjpeg.HuffTable
	huffFor    [3]fastjpeg.QuantTable
	haveHuff   bool
	huffCounts fastjpeg.SymbolCounts
	huffRatio  float64      // tile bytes per byte of the camera's JPEG the tables promised on their frame
	huffAge    int          // frames coded with them
	sets       []*streamSet // newest last
	nextID     uint8
	set        *streamSet // the frame's
	lastSet    *streamSet // the previous frame's

	// The split path (split.go): the frame's payloads cut at its restart
	// markers when cut is set, and what was sent of each tile by it.
	splitter  fastjpeg.Splitter
	cutTiles  [][]byte
	cut       bool
	sentBytes [][]byte     // the payload last sent by the split path, nil for none
	sentSet   []*streamSet // and the set it was coded with

	retiled, fellBack, split, splitFellBack, huffRebuilt atomic.Uint64
}

// streamSet is one table set of the stream (docs/PROTOCOL.md §4.1).
type streamSet struct {
	id      uint8
	tables  fastjpeg.Tables
	restart int // codec 2's restart interval (MCUs), 0 for a codec 1 set
	ts      *fastjpeg.TableSet
	since   time.Time // came into use (again)
	last    time.Time // table datagram last sent
}

// canRetile reports whether the path can carry table datagrams at all.
func (r *retiler) canRetile() bool { return r.mtu >= wire.HeaderSize+wire.MaxTableSet }

// ijgScale is the Independent JPEG Group's quality curve (docs/PROTOCOL.md §4):
// the percentage the Annex K.1 tables are scaled by at quality q.
func ijgScale(q int) int {
	q = min(max(q, 1), 100)
	if q < 50 {
		return 5000 / q
	}
	return max(200-2*q, 1)
}

// requant is how rate control's quality q (of at most qMax, where the camera's
// own tables stand) becomes a requantisation: the steps scaled as the IJG curve
// scales them from qMax to q, and high frequencies dropped once the steps double.
func requant(q, qMax int) (scale, keep int) {
	scale = 100 * ijgScale(q) / ijgScale(qMax)
	switch {
	case scale <= 100:
		return 100, 64
	case scale <= 200:
		return scale, 64
	case scale <= 400:
		return scale, 28
	}
	return scale, 15
}

// prepare re-tiles frame data on the grid of tw x th tiles at rate control's
// quality q (of qMax): it parses and codes the frame (one pass when the
// camera's tables and q allow; otherwise coefficients the encoders code), fills
// each tile's summary, and picks the frame's table set. An error wrapping
// fastjpeg.ErrUnsupported, ErrCorrupt or ErrShort means the frame must be
// decoded instead.
func (r *retiler) prepare(data []byte, tw, th, q, qMax int, now time.Time) error {
	scale, keep := requant(q, qMax)
	r.coded, r.cut = false, false
	if r.trySplit && scale == 100 {
		err := r.prepareSplit(data, tw, th, now)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fastjpeg.ErrUnsupported) && !errors.Is(err, fastjpeg.ErrCorrupt) && !errors.Is(err, fastjpeg.ErrShort) {
			return err
		}
		if r.splitter.Restart() > 0 { // restart markers that could not be cut at
			r.splitFellBack.Add(1)
		}
	}
	rebuild := false
	if r.haveHuff && scale == 100 {
		set, err := r.setFor(r.quantSet(r.huffFor), 0, now)
		if err != nil {
			return err
		}
		tiles, err := r.coef.Transcode(data, tw, th, set.ts, r.tiles)
		r.tiles = tiles
		if err != nil {
			return err
		}
		r.coded = r.coef.Quant() == r.huffFor // else the camera's tables changed: count again below
		r.set = set
		// A drifted frame still goes with the tables it was coded with; the
		// rebuilt ones serve from the next frame, so the drift costs a pass, not
		// an encode. A jump is worth the encode: the encoders code the frame
		// again from its coefficients with the rebuilt tables.
		if r.coded {
			drift := r.drift(len(data))
			rebuild = drift > huffJump || drift > huffDrift && r.huffAge >= huffEvery
			r.coded = drift <= huffJump
		}
	}
	if !r.coded {
		if err := r.coef.Decode(data); err != nil {
			return err
		}
	}
	w, h := r.coef.Size()
	sub := uint8(r.coef.Subsampling())
	g, err := tile.NewGrid(w, h, tw, th, sub)
	if err != nil {
		return fmt.Errorf("%w: %v", fastjpeg.ErrUnsupported, err)
	}
	r.grid, r.sub = g, sub
	if fresh := !rebuild && !r.coded && (!r.haveHuff || r.coef.Quant() != r.huffFor); fresh || rebuild {
		if err := r.buildHuff(g, data, fresh); err != nil {
			return err
		}
	}
	if !r.coded && scale > 100 {
		if _, err := r.coef.Requantize(scale, keep); err != nil {
			return err
		}
	}
	if !r.coded {
		if r.set, err = r.setFor(r.quantSet(r.coef.Quant()), 0, now); err != nil {
			return err
		}
	}
	for len(r.cur) < g.Len() {
		r.cur = append(r.cur, nil)
	}
	for i := range g.Len() {
		if r.cur[i], err = r.coef.AppendSummary(r.cur[i][:0], g.Rect(i)); err != nil {
			return err
		}
	}
	return nil
}

// drift is how much larger the frame just coded (Transcode's tiles, of a
// camera JPEG of n bytes) came out than the stream's Huffman tables promised on
// the frame they were built from, per byte of the camera's: 0.1 is 10% larger.
// The camera's own bytes are the yardstick because they follow the picture's
// detail whatever tables the camera uses.
func (r *retiler) drift(n int) float64 {
	r.huffAge++
	if n <= 0 || r.huffRatio <= 0 {
		return 0
	}
	coded := 0
	for _, p := range r.tiles {
		coded += len(p)
	}
	return float64(coded)/(float64(n)*r.huffRatio) - 1
}

// buildHuff builds the stream's Huffman tables from the frame of camera JPEG
// data on grid g: from its symbols alone when fresh (the stream's first frame,
// or the camera's quantisation changed), else from its symbols and half the
// weight of those the tables were built from, so a stream whose frames
// alternate between two kinds of picture settles on tables for both.
func (r *retiler) buildHuff(g tile.Grid, data []byte, fresh bool) error {
	count := func() (c fastjpeg.SymbolCounts, err error) {
		for i := range g.Len() {
			if err = r.coef.CountTile(&c, g.Rect(i)); err != nil {
				break
			}
		}
		return c, err
	}
	counts, err := count()
	if errors.Is(err, fastjpeg.ErrArgs) {
		// Transcode coded the frame in one pass without keeping coefficients
		// (the layouts it decodes first keep them: no second Decode for those).
		if err = r.coef.Decode(data); err == nil {
			counts, err = count()
		}
	}
	if err != nil {
		return err
	}
	n := len(data)
	merged := counts
	if !fresh {
		for t := range merged {
			for s := range merged[t] {
				merged[t][s] += r.huffCounts[t][s] / 2
			}
		}
		r.huffRebuilt.Add(1)
	}
	r.huff, r.huffFor, r.haveHuff = fastjpeg.OptimalHuffman(&merged), r.coef.Quant(), true
	r.huffCounts, r.huffAge = merged, 0
	r.huffRatio = float64(codedBytes(&counts, &r.huff, g.Len())) / float64(max(n, 1))
	if fresh {
		r.sets = r.sets[:0] // Huffman tables of another stream's making: every set is new
	}
	return nil
}

// codedBytes is how many bytes tiles of counted symbols c take coded with
// Huffman tables h, in ntiles scans: each symbol's code and its value bits (the
// low four bits of a symbol are the size category, ITU T.81 §F.1.2), each scan
// padded to a byte. Byte stuffing (0xFF 0x00) is left out: it adds about 1/256.
func codedBytes(c *fastjpeg.SymbolCounts, h *[4]fastjpeg.HuffTable, ntiles int) int {
	bits := 0
	for t := range h {
		k := 0
		for l, m := range h[t].Count {
			for range m {
				s := h[t].Symbol[k]
				k++
				bits += int(c[t][s]) * (l + 1 + int(s&15))
			}
		}
	}
	return bits/8 + ntiles
}

// quantSet is the coefficient path's tables: quant and the stream's Huffman tables.
func (r *retiler) quantSet(quant [3]fastjpeg.QuantTable) fastjpeg.Tables {
	return fastjpeg.Tables{Quant: quant, Huff: r.huff}
}

// setFor returns the set of tables t with restart interval restart (0: codec 1,
// coded by the coefficient path, so its Huffman tables must code every symbol),
// making it (with the next id) when the stream has none.
func (r *retiler) setFor(t fastjpeg.Tables, restart int, now time.Time) (*streamSet, error) {
	for _, s := range r.sets {
		if s.restart == restart && sameTables(&s.tables, &t) {
			return s, nil
		}
	}
	ts, err := fastjpeg.NewTableSet(&t)
	if err != nil { // the camera's tables parsed and OptimalHuffman is complete: not expected
		return nil, fmt.Errorf("the stream's table set: %w", err)
	}
	if restart == 0 && !ts.CanEncode() {
		return nil, fmt.Errorf("%w: the stream's Huffman tables cannot code every symbol", fastjpeg.ErrUnsupported)
	}
	s := &streamSet{id: r.nextID, tables: ts.Tables(), restart: restart, ts: ts, since: now}
	r.nextID++
	if len(r.sets) == maxSets {
		r.sets = append(r.sets[:0], r.sets[1:]...)
	}
	r.sets = append(r.sets, s)
	return s, nil
}

// sameTables reports whether a and b hold the same tables.
func sameTables(a, b *fastjpeg.Tables) bool {
	if a.Quant != b.Quant {
		return false
	}
	for i := range a.Huff {
		if a.Huff[i].Count != b.Huff[i].Count || !bytes.Equal(a.Huff[i].Symbol, b.Huff[i].Symbol) {
			return false
		}
	}
	return true
}

// reset forgets what was sent of a grid of n tiles: every tile goes again.
func (r *retiler) reset(n int) {
	for len(r.sent) < n {
		r.sent = append(r.sent, nil)
		r.sentBytes = append(r.sentBytes, nil)
		r.sentSet = append(r.sentSet, nil)
	}
	r.sent, r.sentBytes, r.sentSet = r.sent[:n], r.sentBytes[:n], r.sentSet[:n]
	for i := range r.sent {
		r.sent[i], r.sentBytes[i], r.sentSet[i] = nil, nil, nil
	}
}

// changedTile is the chooser's change test for grid tile i: its summary moved by
// more than the threshold since the version sent (docs/JPEG.md, Conditional
// replenishment: sensor noise peaks near 5 levels, a real change at 100 and more).
func (r *retiler) changedTile(i int) bool {
	if r.cut {
		return r.changedBytes(i)
	}
	if r.threshold < 0 || i >= len(r.sent) || r.sent[i] == nil {
		return true
	}
	peak, _ := fastjpeg.SummaryChange(r.cur[i], r.sent[i])
	return peak > r.threshold
}

// format is the format byte of the frame's tiles.
func (r *retiler) format() uint8 {
	if r.cut {
		return wire.CodecRestartScan<<4 | r.sub
	}
	return wire.CodecTableScan<<4 | r.sub
}

// retileFrame prepares frame f for sending re-tiled, and reports false (with the
// frame's picture decoded, for the ordinary path) when it cannot be: the frame is
// progressive, arithmetic-coded, of a layout the grid cannot take, or corrupt.
func (s *Sender) retileFrame(f *capture.Frame, now time.Time) (bool, error) {
	rt := s.mj
	if rt != nil && rt.canRetile() {
		s.mu.Lock()
		q := s.rc.quality
		s.mu.Unlock()
		err := rt.prepare(f.JPEG, s.cfg.TileW, s.cfg.TileH, q, s.cfg.Quality, now)
		if err == nil {
			rt.retiled.Add(1)
			if rt.cut {
				rt.split.Add(1)
			}
			return true, nil
		}
		if !errors.Is(err, fastjpeg.ErrUnsupported) && !errors.Is(err, fastjpeg.ErrCorrupt) && !errors.Is(err, fastjpeg.ErrShort) {
			return false, fmt.Errorf("re-tiling an MJPEG frame: %w", err)
		}
		if _, derr := f.Decode(); derr != nil {
			// Neither: the caller counts the frame unreadable. Not "decoded instead".
			s.unreadableWarn.Do(func() {
				s.cfg.Log.Warn("an MJPEG frame can be neither re-tiled nor decoded: it is left out (counted as unreadable; logged once)", "err", derr)
			})
			return false, derr
		}
		rt.fellBack.Add(1)
		s.fallbackWarn.Do(func() {
			s.cfg.Log.Warn("an MJPEG frame cannot be re-tiled: it is decoded and encoded instead (counted as fell back; logged once)", "err", err)
		})
		return false, nil
	}
	if _, err := f.Decode(); err != nil {
		return false, err
	}
	return false, nil
}

// sendTables sends the frame's table set before its tiles when it is due: the
// set is new or was not the previous frame's, it came into use within
// tablesFresh, or it was last sent tablesEvery ago.
func (s *Sender) sendTables(fj *frameJob, now time.Time) {
	rt := fj.rt
	set := rt.set
	if set != rt.lastSet {
		set.since = now
	}
	rt.lastSet = set
	if now.Sub(set.since) >= tablesFresh && now.Sub(set.last) < tablesEvery {
		return
	}
	d := make([]byte, 0, wire.HeaderSize+wire.MaxTableSet)
	var err error
	if set.restart > 0 {
		d, err = wire.AppendRestartTableDatagram(d, fj.hdr, set.id, &set.tables, set.restart)
	} else {
		d, err = wire.AppendTableDatagram(d, fj.hdr, set.id, &set.tables)
	}
	if err != nil || len(d) > s.pack.mtu {
		s.count.encErrs.Add(1)
		return
	}
	set.last = now
	// submit's own outbox: the encoders' outboxes belong to their goroutines.
	if s.tablesOut == nil {
		s.tablesOut = s.pack.newOutbox()
	}
	o := s.tablesOut
	o.add(copy(o.next(int(fj.hdr.Frame)%len(s.pack.conns), &fj.sent), d), kindTables)
	o.flush()
}

// sendRetiled is encodeTile for a re-tiled frame: the tile's payload is
// Transcode's, or coded now from the frame's coefficients, and what was sent of
// the tile becomes its summary.
func (s *Sender) sendRetiled(w *worker, j tileJob) {
	fj := j.fj
	rt := fj.rt
	var payload []byte
	var err error
	switch {
	case rt.cut:
		payload = rt.cutTiles[j.tile]
	case rt.coded:
		payload = rt.tiles[j.tile]
	default:
		start := time.Now()
		w.payload, err = rt.coef.AppendTile(w.payload[:0], rt.grid.Rect(j.tile), rt.set.ts)
		fj.sent.encoding.Add(int64(time.Since(start)))
		payload = w.payload
	}
	if err != nil || len(payload) == 0 {
		s.count.encErrs.Add(1)
	} else {
		w.sent++
		fj.sizes[j.pos] = int32(len(payload))
		s.pack.packTile(w.out, fj, j, payload, j.tile+w.sent)
	}
	// No other encoder touches this tile's entries, and submit reads them only
	// once the whole frame is done (busy). What one path sent, the other's change
	// test cannot compare with: it is forgotten there, so the tile counts as changed.
	if rt.cut {
		rt.sentCut(j.tile, payload)
	} else {
		rt.sent[j.tile] = append(rt.sent[j.tile][:0], rt.cur[j.tile]...)
		rt.sentBytes[j.tile], rt.sentSet[j.tile] = nil, nil
	}
	if fj.left.Add(-1) == 0 {
		s.frameDone(w.out, fj)
	}
}

// mjpegMode names what the sender does with handed-through frames, for the stats.
func (s *Sender) mjpegMode() string {
	switch {
	case s.mj == nil:
		return MJPEGDecode
	case !s.mj.canRetile():
		return MJPEGDecode + " (mtu too small for table sets)"
	}
	return s.mj.mode
}

// frameSize is the size and subsampling of the frame being submitted: the
// re-tiled JPEG's, or the picture's.
func frameSize(img *image.YCbCr, rt *retiler) (w, h int, ratio image.YCbCrSubsampleRatio) {
	if rt != nil {
		return rt.grid.W, rt.grid.H, tile.SubsampleRatio(rt.sub)
	}
	return img.Rect.Dx(), img.Rect.Dy(), img.SubsampleRatio
}
