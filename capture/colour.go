package capture

import (
	"fmt"
	"image"
	"math"

	"github.com/hrvs/hrvs/internal/ycbcr"
)

// Every frame leaves capture as what the JPEG tiles declare: JFIF's Y'CbCr, full
// range BT.601 (JFIF 1.02 section 7; ITU-T T.871). Sources whose samples mean
// something else (limited "TV" range, the BT.709 matrix of HD video) are converted
// here, in one place shared by the file sources and the camera path.

// Range is the span of code values a source's 8-bit Y'CbCr samples use (H.273
// VideoFullRangeFlag; V4L2 quantization; ffmpeg color_range).
type Range uint8

const (
	// RangeFull uses every code value: Y' = 255·E'Y, Cb/Cr = 128 + 255·E'C (JFIF,
	// H.273 equations with VideoFullRangeFlag 1). It is the zero value.
	RangeFull Range = iota
	// RangeLimited keeps head- and footroom: Y' = 16 + 219·E'Y (black 16, white
	// 235), Cb/Cr = 128 + 224·E'C (16..240) (ITU-R BT.601-7 and BT.709-6 section 4,
	// H.273 with VideoFullRangeFlag 0). Y4M, raw video and YUYV cameras use it
	// unless they say otherwise.
	RangeLimited
)

// Matrix is the Y'CbCr colour matrix: the weights KR and KB that make luma from
// R'G'B' (H.273 MatrixCoefficients).
type Matrix uint8

const (
	// MatrixBT601 is KR 0.299, KB 0.114: ITU-R BT.601, JFIF, H.273 values 5 and 6.
	// It is the zero value.
	MatrixBT601 Matrix = iota
	// MatrixBT709 is KR 0.2126, KB 0.0722: ITU-R BT.709 (HD video), H.273 value 1.
	MatrixBT709
	// MatrixBT2020 is KR 0.2627, KB 0.0593: ITU-R BT.2020 non-constant luminance,
	// H.273 value 9.
	MatrixBT2020
)

// Colour says how to read a source's Y'CbCr code values. The zero Colour is what
// JPEG/JFIF declares (full range BT.601), so frames in it need no conversion.
//
// For a V4L2 camera it follows from the format's fields (kernel docs,
// "Colorspaces" and "Detailed Colorspace Descriptions"): quantization
// V4L2_QUANTIZATION_FULL_RANGE is RangeFull, LIM_RANGE RangeLimited, and DEFAULT
// is full range for the JPEG colorspace (MJPEG) and limited for Y'CbCr formats
// such as YUYV; ycbcr_enc V4L2_YCBCR_ENC_709 is MatrixBT709, BT2020 MatrixBT2020,
// 601 (and DEFAULT for the SMPTE 170M, JPEG and sRGB colorspaces) MatrixBT601.
type Colour struct {
	Range  Range
	Matrix Matrix
}

// IsJPEG reports whether samples in c are already what the tiles declare.
func (c Colour) IsJPEG() bool { return c == Colour{} }

func (c Colour) String() string {
	r := "full range"
	if c.Range == RangeLimited {
		r = "limited range"
	}
	m := "BT.601"
	switch c.Matrix {
	case MatrixBT709:
		m = "BT.709"
	case MatrixBT2020:
		m = "BT.2020"
	}
	return r + " " + m
}

// weights returns KR and KB of the matrix.
func (m Matrix) weights() (kr, kb float64, err error) {
	switch m {
	case MatrixBT601:
		return 0.299, 0.114, nil
	case MatrixBT709:
		return 0.2126, 0.0722, nil
	case MatrixBT2020:
		return 0.2627, 0.0593, nil
	}
	return 0, 0, fmt.Errorf("unknown colour matrix %d", m)
}

// ycbcrFromRGB is the matrix taking (E'R, E'G, E'B) to (E'Y, E'Cb, E'Cr) for the
// weights: E'Y = KR·R + (1-KR-KB)·G + KB·B, E'Cb = (B-E'Y)/(2(1-KB)),
// E'Cr = (R-E'Y)/(2(1-KR)) (BT.601-7 section 2.5, BT.709-6 items 3.2-3.3, H.273
// equations 38-40).
func ycbcrFromRGB(kr, kb float64) [3][3]float64 {
	kg := 1 - kr - kb
	cb, cr := 2*(1-kb), 2*(1-kr)
	return [3][3]float64{
		{kr, kg, kb},
		{-kr / cb, -kg / cb, (1 - kb) / cb},
		{(1 - kr) / cr, -kg / cr, -kb / cr},
	}
}

// rgbFromYCbCr inverts ycbcrFromRGB: R = Y + 2(1-KR)·Cr, B = Y + 2(1-KB)·Cb,
// G = (Y - KR·R - KB·B)/KG.
func rgbFromYCbCr(kr, kb float64) [3][3]float64 {
	kg := 1 - kr - kb
	rcr, bcb := 2*(1-kr), 2*(1-kb)
	return [3][3]float64{
		{1, 0, rcr},
		{1, -kb * bcb / kg, -kr * rcr / kg},
		{1, bcb, 0},
	}
}

func mul3(a, b [3][3]float64) (m [3][3]float64) {
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				m[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return m
}

// matrixTo601 is the 3x3 matrix taking normalised (E'Y, E'Cb, E'Cr) in matrix from
// to BT.601's through the same R'G'B': M601 · M_from⁻¹. Only the matrix changes:
// primaries and transfer are left as they are, as every JPEG decoder reads JFIF's
// R'G'B' as sRGB, whose primaries are BT.709's. From BT.709 it is, to 4 places,
//
//	Y'601  = Y'709 + 0.1016·Cb709 + 0.1961·Cr709
//	Cb601  =         0.9899·Cb709 - 0.1107·Cr709
//	Cr601  =        -0.0725·Cb709 + 0.9834·Cr709
//
// Grey (Cb = Cr = 0) stays grey in every matrix, so the chroma rows have no luma
// term.
func matrixTo601(from Matrix) ([3][3]float64, error) {
	kr, kb, err := from.weights()
	if err != nil {
		return [3][3]float64{}, err
	}
	return mul3(ycbcrFromRGB(0.299, 0.114), rgbFromYCbCr(kr, kb)), nil
}

// colourFrac is the number of fraction bits of the fixed-point tables.
const colourFrac = 16

// ColourConverter turns frames from one source Colour into JFIF's (full range
// BT.601) in place, through lookup tables built once per stream: a range change is
// one table lookup per sample; a matrix change adds, per luma sample, the luma
// share of its chroma (precomputed once per chroma sample), and per chroma sample
// two lookups. A nil *ColourConverter converts nothing. Convert may be called from
// several goroutines at once on different images.
type ColourConverter struct {
	from Colour
	// rangeOnly: the matrix is BT.601 already, so each plane maps on its own.
	rangeOnly bool
	y, c      [256]uint8 // rangeOnly: luma and chroma tables

	// The matrix path, fixed point with colourFrac fraction bits, rounding offset
	// included in yy, cbcb and crcr:
	//	Y'  = yy[Y] + ycb[Cb] + ycr[Cr]
	//	Cb' = cbcb[Cb] + cbcr[Cr]
	//	Cr' = crcb[Cb] + crcr[Cr]
	yy, ycb, ycr, cbcb, cbcr, crcb, crcr [256]int32
}

// NewColourConverter returns the converter from source colour from to JFIF's, or
// nil (which converts nothing) when from is JFIF's already.
//
// The arithmetic, per sample: code values are normalised by the source range,
// E'Y = (Y-16)/219 and E'C = (C-128)/224 for limited range, E'Y = Y/255 and
// E'C = (C-128)/255 for full (BT.601-7 section 2.5.3, H.273 equations 23-28);
// the matrix of matrixTo601 is applied; and the result is quantised to full range,
// Y = round(255·E'Y), C = round(128 + 255·E'C), clamped to 0..255 (JFIF, T.871
// section 7). Limited-range black 16 becomes 0, white 235 becomes 255, 75% white
// 180 becomes 191.
func NewColourConverter(from Colour) (*ColourConverter, error) {
	if from.Range != RangeFull && from.Range != RangeLimited {
		return nil, fmt.Errorf("unknown colour range %d", from.Range)
	}
	m, err := matrixTo601(from.Matrix)
	if err != nil {
		return nil, err
	}
	if from.IsJPEG() {
		return nil, nil
	}
	luma := func(v int) float64 { return float64(v) / 255 }
	chroma := func(v int) float64 { return float64(v-128) / 255 }
	if from.Range == RangeLimited {
		luma = func(v int) float64 { return float64(v-16) / 219 }
		chroma = func(v int) float64 { return float64(v-128) / 224 }
	}
	cv := &ColourConverter{from: from, rangeOnly: from.Matrix == MatrixBT601}
	const one = 1 << colourFrac
	fixed := func(f float64) int32 { return int32(math.Round(f * one)) }
	for v := range 256 {
		yn, cn := luma(v), chroma(v)
		cv.y[v] = clampU8(int32(math.Round(255 * yn)))
		cv.c[v] = clampU8(int32(math.Round(128 + 255*cn)))
		cv.yy[v] = fixed(255*m[0][0]*yn) + one/2
		cv.ycb[v] = fixed(255 * m[0][1] * cn)
		cv.ycr[v] = fixed(255 * m[0][2] * cn)
		cv.cbcb[v] = fixed(128+255*m[1][1]*cn) + one/2
		cv.cbcr[v] = fixed(255 * m[1][2] * cn)
		cv.crcb[v] = fixed(255 * m[2][1] * cn)
		cv.crcr[v] = fixed(128+255*m[2][2]*cn) + one/2
	}
	return cv, nil
}

// From is the source colour the converter reads.
func (cv *ColourConverter) From() Colour {
	if cv == nil {
		return Colour{}
	}
	return cv.from
}

// clampU8 saturates v to a sample value.
func clampU8(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// Convert rewrites img's samples from the converter's source colour to JFIF's, in
// place. Rows are split over the CPUs. It never reads or writes outside img.Rect.
func (cv *ColourConverter) Convert(img *image.YCbCr) {
	if cv == nil || img == nil || img.Rect.Empty() {
		return
	}
	b := img.Rect
	hs, vs := ycbcr.Shift(img.SubsampleRatio)
	cy0, cy1 := b.Min.Y>>vs, (b.Max.Y-1)>>vs+1 // chroma rows
	cx0 := b.Min.X >> hs
	cw := (b.Max.X-1)>>hs + 1 - cx0
	w := b.Dx()
	parallelRows(cy1-cy0, 16, func(r0, r1 int) {
		var lumaShare []int32
		if !cv.rangeOnly {
			lumaShare = make([]int32, cw)
		}
		for cy := cy0 + r0; cy < cy0+r1; cy++ {
			ly0, ly1 := max(cy<<vs, b.Min.Y), min((cy+1)<<vs, b.Max.Y)
			co := img.COffset(b.Min.X, ly0)
			cb, cr := img.Cb[co:co+cw], img.Cr[co:co+cw]
			if cv.rangeOnly {
				for y := ly0; y < ly1; y++ {
					row := img.Y[img.YOffset(b.Min.X, y):][:w]
					for i, v := range row {
						row[i] = cv.y[v]
					}
				}
				for i := range cb {
					cb[i], cr[i] = cv.c[cb[i]], cv.c[cr[i]]
				}
				continue
			}
			// Luma first, while the chroma it depends on is still the source's.
			for i := range cb {
				lumaShare[i] = cv.ycb[cb[i]] + cv.ycr[cr[i]]
			}
			for y := ly0; y < ly1; y++ {
				row := img.Y[img.YOffset(b.Min.X, y):][:w]
				for i, v := range row {
					row[i] = clampU8((cv.yy[v] + lumaShare[(b.Min.X+i)>>hs-cx0]) >> colourFrac)
				}
			}
			for i := range cb {
				u, v := cb[i], cr[i]
				cb[i] = clampU8((cv.cbcb[u] + cv.cbcr[v]) >> colourFrac)
				cr[i] = clampU8((cv.crcb[u] + cv.crcr[v]) >> colourFrac)
			}
		}
	})
}
