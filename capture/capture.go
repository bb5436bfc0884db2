// Package capture yields video frames from a camera, a video file or the built-in test pattern.
// Every source delivers planar Y'CbCr frames so the tiler can encode them without an RGB detour.
package capture

import (
	"context"
	"errors"
	"image"
	"time"
)

// ErrEnd is returned by Source.Next when a finite source (a file without --loop, a
// --frames limit) has no more frames. It is not a failure.
var ErrEnd = errors.New("capture: end of stream")

// Frame is one captured picture. Image is 4:2:0 or 4:2:2 Y'CbCr; sources keep that
// subsampling from the device or file so it is never resampled twice. Its samples
// are JFIF's: full range, BT.601 matrix (sources convert others, see Colour).
type Frame struct {
	Image *image.YCbCr
	Seq   uint64    // source frame number, counting from 0
	Time  time.Time // capture instant on the local clock

	release func(*Frame)
}

// NewFrame returns a frame whose Release hands it back through release (may be nil).
// Sources that recycle buffers use it; everyone else builds Frame literals.
func NewFrame(img *image.YCbCr, seq uint64, t time.Time, release func(*Frame)) *Frame {
	return &Frame{Image: img, Seq: seq, Time: t, release: release}
}

// Release tells the source the caller is done with the frame so its buffers can be
// reused. Calling it is optional; a frame must not be used after Release.
func (f *Frame) Release() {
	if f != nil && f.release != nil {
		f.release(f)
	}
}

// Info describes a source's stream as negotiated (a camera may pick a size or rate
// other than the one asked for).
type Info struct {
	Name      string // what the user named: "pattern", "/dev/video0", a file path
	Width     int
	Height    int
	FPS       float64 // nominal frame rate; 0 means as fast as frames can be made
	Subsample image.YCbCrSubsampleRatio
	// Colour is how the source's own samples are read, as it declared them or as
	// assumed (see Colour). Frames are delivered converted to JFIF's full-range
	// BT.601 whatever it is, so the tiles can declare that.
	Colour Colour
	Detail string // free text for logs: negotiated pixel format, codec, etc.
}

// Source yields frames. Next blocks until the next frame is due (sources pace
// themselves at Info().FPS) or ctx ends. Close releases the device or file and
// stops any helper process; it is safe to call more than once.
type Source interface {
	Info() Info
	Next(ctx context.Context) (*Frame, error)
	Close() error
}
