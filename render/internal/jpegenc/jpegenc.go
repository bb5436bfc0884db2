// Package jpegenc turns received frames back into JPEG for the browser view and the
// recorder, with the project's fast encoder; it is one function so every output
// encodes the same way.
package jpegenc

import (
	"image"
	"sync"

	"github.com/hrvs/hrvs/internal/fastjpeg"
)

// encoders recycles encoders (each keeps its scratch buffers) across calls from
// different outputs' goroutines.
var encoders = sync.Pool{New: func() any { return new(fastjpeg.Encoder) }}

// Encode writes img as a baseline JPEG at quality (1..100) into dst, reusing its
// storage, and returns the bytes.
func Encode(dst []byte, img image.Image, quality int) ([]byte, error) {
	e := encoders.Get().(*fastjpeg.Encoder)
	defer encoders.Put(e)
	return e.AppendJPEG(dst[:0], img, quality)
}
