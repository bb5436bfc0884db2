package capture

// The colour of a camera's raw frames, from the driver's struct v4l2_pix_format
// (V4L2 userspace API, "Colorspaces" and "Defining Colorspaces in V4L2"), for the
// ColourConverter that turns every frame into JFIF's full-range BT.601.

// V4L2 enum values (linux/videodev2.h).
const (
	v4l2ColorspaceSMPTE240M = 2
	v4l2ColorspaceRec709    = 3
	v4l2ColorspaceJPEG      = 7
	v4l2ColorspaceBT2020    = 10
	v4l2ColorspaceDCIP3     = 12

	v4l2Enc601         = 1
	v4l2Enc709         = 2
	v4l2EncXV601       = 3
	v4l2EncXV709       = 4
	v4l2EncSYCC        = 5
	v4l2EncBT2020      = 6
	v4l2EncBT2020Const = 7
	v4l2EncSMPTE240M   = 8

	v4l2QuantFull    = 1
	v4l2QuantLimited = 2
)

// camColourOf reads a raw format's colorspace, ycbcr_enc and quantization,
// resolving the defaults as V4L2_MAP_YCBCR_ENC_DEFAULT and
// V4L2_MAP_QUANTIZATION_DEFAULT do: Rec.709 and DCI-P3 imply the BT.709 matrix,
// BT.2020 its own, anything else BT.601; Y'CbCr is limited range unless the
// colorspace is JPEG (xvYCC is limited range by definition). Two encodings have
// no converter of their own and take the nearest: SMPTE 240M (KR 0.212, KB 0.087)
// is read as BT.709 (0.2126, 0.0722), BT.2020 constant luminance as BT.2020.
func camColourOf(colorspace, enc, quant uint32) Colour {
	c := Colour{Range: RangeLimited}
	switch enc {
	case v4l2Enc601, v4l2EncXV601, v4l2EncSYCC:
		c.Matrix = MatrixBT601
	case v4l2Enc709, v4l2EncXV709, v4l2EncSMPTE240M:
		c.Matrix = MatrixBT709
	case v4l2EncBT2020, v4l2EncBT2020Const:
		c.Matrix = MatrixBT2020
	default:
		switch colorspace {
		case v4l2ColorspaceRec709, v4l2ColorspaceDCIP3, v4l2ColorspaceSMPTE240M:
			c.Matrix = MatrixBT709
		case v4l2ColorspaceBT2020:
			c.Matrix = MatrixBT2020
		default:
			c.Matrix = MatrixBT601
		}
	}
	switch quant {
	case v4l2QuantFull:
		c.Range = RangeFull
	case v4l2QuantLimited:
	default:
		if colorspace == v4l2ColorspaceJPEG && enc != v4l2EncXV601 && enc != v4l2EncXV709 {
			c.Range = RangeFull
		}
	}
	return c
}

// jfifColour is what a JPEG frame holds whatever the driver reports: JFIF
// defines its Y'CbCr as full-range BT.601 (the zero Colour).
var jfifColour = Colour{}
