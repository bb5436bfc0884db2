package impair

import (
	"image"

	"github.com/hrvs/hrvs/capture"
)

// drawer regenerates frame seq of a clip, so the display can compare what it shows
// with exactly what was captured.
type drawer interface {
	capture.Source
	Draw(img *image.YCbCr, seq uint64)
}
