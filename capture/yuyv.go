package capture

import (
	"encoding/binary"
	"fmt"
	"image"
)

// yuyvToYCbCr unpacks a V4L2_PIX_FMT_YUYV picture into dst's planes without an RGB
// detour. YUYV is 4:2:2 packed as Y0 Cb Y1 Cr for each pair of pixels
// (https://www.kernel.org/doc/html/latest/userspace-api/media/v4l/pixfmt-packed-yuv.html),
// so it maps onto a 4:2:2 image sample for sample. stride is the driver's
// bytesperline (at least 2*width; 0 means exactly that). Rows are split over the CPUs.
func yuyvToYCbCr(dst *image.YCbCr, src []byte, stride int) error {
	if dst.SubsampleRatio != image.YCbCrSubsampleRatio422 {
		return fmt.Errorf("yuyv: destination is %v, want 4:2:2", dst.SubsampleRatio)
	}
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	pairs := (w + 1) / 2 // YUYV rows hold whole pixel pairs, even for an odd width
	rowBytes := 4 * pairs
	if stride == 0 {
		stride = rowBytes
	}
	if stride < rowBytes {
		return fmt.Errorf("yuyv: bytes per line %d is less than %d for width %d", stride, rowBytes, w)
	}
	if need := stride*(h-1) + rowBytes; h > 0 && len(src) < need {
		return fmt.Errorf("yuyv: frame has %d bytes, want %d for %dx%d: %w", len(src), need, w, h, errShortFrame)
	}
	parallelRows(h, 64, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			in := src[y*stride : y*stride+rowBytes]
			yo := dst.YOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y)
			co := dst.COffset(dst.Rect.Min.X, dst.Rect.Min.Y+y)
			ys := dst.Y[yo : yo+w]
			cb := dst.Cb[co : co+pairs]
			cr := dst.Cr[co : co+pairs]
			full := w / 2
			// Two pixel pairs per 8-byte load: Y0 Cb0 Y1 Cr0 Y2 Cb1 Y3 Cr1.
			i := 0
			for ; i+2 <= full; i += 2 {
				v := binary.LittleEndian.Uint64(in[4*i : 4*i+8])
				binary.LittleEndian.PutUint32(ys[2*i:2*i+4],
					uint32(v&0xff)|uint32(v>>16&0xff)<<8|uint32(v>>32&0xff)<<16|uint32(v>>48&0xff)<<24)
				binary.LittleEndian.PutUint16(cb[i:i+2], uint16(v>>8&0xff)|uint16(v>>40&0xff)<<8)
				binary.LittleEndian.PutUint16(cr[i:i+2], uint16(v>>24&0xff)|uint16(v>>56&0xff)<<8)
			}
			for ; i < full; i++ {
				p := in[4*i : 4*i+4 : 4*i+4]
				ys[2*i] = p[0]
				cb[i] = p[1]
				ys[2*i+1] = p[2]
				cr[i] = p[3]
			}
			if w&1 == 1 { // the last pair has only its first pixel in the picture
				p := in[4*full : 4*full+4]
				ys[w-1] = p[0]
				cb[full] = p[1]
				cr[full] = p[3]
			}
		}
	})
	return nil
}
