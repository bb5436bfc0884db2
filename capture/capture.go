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
	// JPEG is the frame as the camera or file compressed it (one whole JPEG, SOI to
	// EOI or to the end of its scan), set by MJPEG sources opened with
	// Options.JPEG: a sender can cut it into tiles without decoding it. Image is
	// then nil until Decode. It is valid until Release.
	JPEG []byte

	decode  func(jpeg []byte) (*image.YCbCr, error)
	release func(*Frame)
}

// Decode returns the frame's picture, decoding JPEG the first time when the
// source handed the frame through undecoded. The picture is in JFIF's colour, of
// the stream's size and subsampling; a frame that does not decode to that is an
// error.
func (f *Frame) Decode() (*image.YCbCr, error) {
	if f.Image != nil || f.decode == nil {
		if f.Image == nil {
			return nil, errors.New("capture: frame has no picture")
		}
		return f.Image, nil
	}
	img, err := f.decode(f.JPEG)
	if err != nil {
		return nil, err
	}
	f.Image = img
	return img, nil
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
	Name   string // what the user named: "pattern", "/dev/video0", a file path
	Width  int
	Height int
	FPS    float64 // nominal frame rate; 0 means as fast as frames can be made
	// Stored is true for frames read from storage (a file) rather than happening in
	// real time: the source can wait for its caller, so a caller that waits for its
	// path loses no frame. A live source (a camera, the pattern at a set rate) leaves
	// it false: its frames pass whether or not they are taken.
	Stored    bool
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
