package sender

import (
	"bytes"
	"fmt"
	"time"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

// The split path: a camera frame whose restart intervals line up with the tile
// grid (each interval inside one MCU row of one tile: fastjpeg.SplitLayout) is
// cut at its RSTn markers with a byte scan, no Huffman decoding, and each tile
// travels as its intervals joined by RST markers (codec 2, docs/PROTOCOL.md
// §4.1), coded with the camera's own quantisation and Huffman tables (Annex K.3
// where the camera sends no DHT) and the camera's restart interval.
//
// Without coefficients there is nothing to requantise and no summary to test
// change on, so the rule is:
//
//   - the frame is split only while rate control is at --quality (the camera's
//     own tables stand); below it the frame's coefficients are requantised on
//     the coefficient path, as before;
//   - with --mjpeg retile, only when the change test is off (--change-threshold
//     below 0: every tile goes every frame, so nothing is lost by not testing);
//   - with --mjpeg split, also with the change test on: a tile counts as
//     unchanged only when its bytes and table set are those last sent, so a
//     still synthetic picture sends nothing but a noisy camera sends every tile
//     (more bytes than retile's coefficient test, far less CPU);
//   - a frame with restart markers that the split cannot take (an interval that
//     does not line up with the tiles, a layout other than the webcams' 4:2:2
//     and 4:2:0, corrupt markers) goes the coefficient path and is counted
//     (Stats.FramesSplitFellBack); a frame without restart markers simply goes
//     the coefficient path.
//
// A frame split this way is the camera's bits, so it decodes to exactly what the
// coefficient path's tiles decode to.

// prepareSplit cuts frame data at its restart markers on the grid of tw x th
// tiles and picks the frame's table set (the camera's tables with its restart
// interval). An error wrapping fastjpeg.ErrUnsupported, ErrCorrupt or ErrShort
// means the coefficient path must take the frame.
func (r *retiler) prepareSplit(data []byte, tw, th int, now time.Time) error {
	tiles, err := r.splitter.Split(data, tw, th, r.cutTiles)
	r.cutTiles = tiles
	if err != nil {
		return err
	}
	w, h := r.splitter.Size()
	sub := uint8(r.splitter.Subsampling())
	g, err := tile.NewGrid(w, h, tw, th, sub)
	if err != nil {
		return fmt.Errorf("%w: %v", fastjpeg.ErrUnsupported, err)
	}
	set, err := r.setFor(r.splitter.Tables(), r.splitter.Restart(), now)
	if err != nil {
		return err
	}
	r.grid, r.sub, r.set, r.cut = g, sub, set, true
	return nil
}

// changedBytes is the split path's change test of grid tile i: changed unless
// the tile's payload and table set are the ones last sent by the split path.
// With the change test off every tile changed.
func (r *retiler) changedBytes(i int) bool {
	if r.threshold < 0 || i >= len(r.sentBytes) || r.sentBytes[i] == nil {
		return true
	}
	return r.sentSet[i] != r.set || !bytes.Equal(r.sentBytes[i], r.cutTiles[i])
}

// sentCut records that grid tile i went by the split path as payload: the
// coefficient path's summary of it is forgotten (the receiver now holds a
// version that summary does not describe).
func (r *retiler) sentCut(i int, payload []byte) {
	r.sent[i] = nil
	if r.threshold < 0 {
		return // no change test: nothing to compare with later
	}
	if r.sentBytes[i] == nil {
		r.sentBytes[i] = make([]byte, 0, len(payload))
	}
	r.sentBytes[i], r.sentSet[i] = append(r.sentBytes[i][:0], payload...), r.set
}

// retiledFormats reports whether a and b are the formats of re-tiled frames of
// one subsampling (codec 1 and codec 2): a stream moving between the split and
// the coefficient path keeps its grid, its ledger and what it sent.
func retiledFormats(a, b uint8) bool {
	retiled := func(f uint8) bool { return f>>4 == wire.CodecTableScan || f>>4 == wire.CodecRestartScan }
	return retiled(a) && retiled(b) && a&0xf == b&0xf
}
