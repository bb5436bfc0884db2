package tile

import (
	"fmt"
	"image"

	"github.com/hrvs/hrvs/internal/fastjpeg"
)

// FastEncoder encodes tiles with the project's own JPEG encoder, straight from the
// frame's planes and in the frame's own subsampling (a 4:2:2 camera frame stays 4:2:2).
type FastEncoder struct {
	enc fastjpeg.Encoder
}

// AppendTile implements Encoder.
func (e *FastEncoder) AppendTile(dst []byte, img *image.YCbCr, r image.Rectangle, q int) ([]byte, uint8, error) {
	sub, ok := SubsampleCode(img.SubsampleRatio)
	if !ok {
		return dst, 0, fmt.Errorf("encode tile %v: subsampling %v is not 4:2:0 or 4:2:2", r, img.SubsampleRatio)
	}
	out, err := e.enc.AppendScan(dst, img, r, q)
	if err != nil {
		return dst, 0, fmt.Errorf("encode tile %v: %w", r, err)
	}
	return out, sub, nil
}

// FastDecoder decodes payloads straight into the frame's planes with the project's
// own decoder. A tile whose subsampling differs from the frame's goes through the
// image/jpeg path, which resamples.
type FastDecoder struct {
	dec fastjpeg.Decoder
	std StdDecoder
}

// NewFastDecoder returns a decoder whose fallback shares the header cache hs.
func NewFastDecoder(hs *Headers) *FastDecoder {
	return &FastDecoder{std: StdDecoder{Headers: hs}}
}

// DecodeTile implements Decoder.
func (d *FastDecoder) DecodeTile(dst *image.YCbCr, r image.Rectangle, q int, sub uint8, scan []byte) error {
	if frameSub, _ := SubsampleCode(dst.SubsampleRatio); frameSub != sub {
		return d.std.DecodeTile(dst, r, q, sub, scan)
	}
	if !r.In(dst.Rect) {
		return fmt.Errorf("%w: tile %v outside the frame %v", ErrPayload, r, dst.Rect)
	}
	if err := d.dec.DecodeScan(dst, r, q, fastjpeg.Subsampling(sub), scan); err != nil {
		return fmt.Errorf("%w: %v", ErrPayload, err)
	}
	return nil
}
