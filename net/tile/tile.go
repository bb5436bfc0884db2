// Package tile cuts frames into a grid of tiles and turns each tile into the payload
// HRVS sends: the entropy-coded scan of a baseline JPEG without its ~600 bytes of
// tables, which the receiver rebuilds from the quality and size in the datagram.
package tile

import (
	"errors"
	"fmt"
	"image"

	"github.com/hrvs/hrvs/net/wire"
)

// Grid is a row-major tiling of a W x H frame into tiles of at most TW x TH pixels.
// Tile corners sit on the JPEG MCU grid so a tile's scan is a valid JPEG of its own.
type Grid struct {
	W, H, TW, TH, Cols, Rows int
}

// The default tile size, chosen by measurement (docs/PROTOCOL.md, "Tile size"):
// the smallest tiles whose datagram headers stay within the 5% byte budget.
const (
	DefaultW = 256
	DefaultH = 128
)

// MaxTiles is the most tiles a grid may have: the tile index is 16 bits on the wire.
const MaxTiles = 65535

// NewGrid checks the sizes and returns the grid.
func NewGrid(w, h, tw, th int, sub uint8) (Grid, error) {
	mw, mh := wire.MCUSize(sub)
	if w <= 0 || h <= 0 || w > 65535 || h > 65535 {
		return Grid{}, fmt.Errorf("frame size %dx%d out of range", w, h)
	}
	if tw <= 0 || th <= 0 || tw%mw != 0 || th%mh != 0 || tw > wire.MaxTileW || th > wire.MaxTileH {
		return Grid{}, fmt.Errorf("tile size %dx%d: width must be a multiple of %d up to %d, height of %d up to %d",
			tw, th, mw, wire.MaxTileW, mh, wire.MaxTileH)
	}
	g := Grid{W: w, H: h, TW: min(tw, roundUp(w, mw)), TH: min(th, roundUp(h, mh))}
	g.Cols, g.Rows = (w+g.TW-1)/g.TW, (h+g.TH-1)/g.TH
	if g.Len() > MaxTiles {
		return Grid{}, fmt.Errorf("tile size %dx%d cuts %dx%d into %d tiles, more than %d", tw, th, w, h, g.Len(), MaxTiles)
	}
	return g, nil
}

func roundUp(v, m int) int { return (v + m - 1) / m * m }

// Len is the number of tiles.
func (g Grid) Len() int { return g.Cols * g.Rows }

// Rect is tile i's rectangle, clipped to the frame.
func (g Grid) Rect(i int) image.Rectangle {
	x, y := i%g.Cols*g.TW, i/g.Cols*g.TH
	return image.Rect(x, y, min(x+g.TW, g.W), min(y+g.TH, g.H))
}

// SubsampleCode maps a Go subsampling ratio to the wire's, and reports whether the
// scan format carries it (4:2:0 and 4:2:2).
func SubsampleCode(r image.YCbCrSubsampleRatio) (uint8, bool) {
	switch r {
	case image.YCbCrSubsampleRatio420:
		return wire.Sub420, true
	case image.YCbCrSubsampleRatio422:
		return wire.Sub422, true
	}
	return 0, false
}

// SubsampleRatio maps the wire's subsampling code back to Go's.
func SubsampleRatio(code uint8) image.YCbCrSubsampleRatio {
	if code == wire.Sub422 {
		return image.YCbCrSubsampleRatio422
	}
	return image.YCbCrSubsampleRatio420
}

// ErrPayload is wrapped by every failure to turn a payload back into pixels.
var ErrPayload = errors.New("tile: undecodable payload")

// CopyRect copies rectangle r of src into the same place in dst; both have the same
// size and subsampling. The receiver uses it to conceal a missing tile.
func CopyRect(dst, src *image.YCbCr, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		o := y*dst.YStride + r.Min.X
		copy(dst.Y[o:o+r.Dx()], src.Y[y*src.YStride+r.Min.X:])
	}
	cr := chromaRect(r, dst.SubsampleRatio)
	for y := cr.Min.Y; y < cr.Max.Y; y++ {
		o := y*dst.CStride + cr.Min.X
		so := y*src.CStride + cr.Min.X
		copy(dst.Cb[o:o+cr.Dx()], src.Cb[so:])
		copy(dst.Cr[o:o+cr.Dx()], src.Cr[so:])
	}
}

// chromaRect is the chroma-plane rectangle covering luma rectangle r.
func chromaRect(r image.Rectangle, sub image.YCbCrSubsampleRatio) image.Rectangle {
	switch sub {
	case image.YCbCrSubsampleRatio420:
		return image.Rect(r.Min.X/2, r.Min.Y/2, (r.Max.X+1)/2, (r.Max.Y+1)/2)
	case image.YCbCrSubsampleRatio422:
		return image.Rect(r.Min.X/2, r.Min.Y, (r.Max.X+1)/2, r.Max.Y)
	}
	return r
}
