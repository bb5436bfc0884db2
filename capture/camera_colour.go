package capture

// camColour is how a camera's Y'CbCr samples map to R'G'B': the matrix and the
// quantization range, from the driver's struct v4l2_pix_format (V4L2 userspace
// API, "Colorspaces" and "Defining Colorspaces in V4L2").
type camColour struct {
	Matrix string // "601", "709", "2020" or "240m"
	Full   bool   // full range (0-255); else limited (Y' 16-235, CbCr 16-240)
}

func (c camColour) String() string {
	r := "limited range"
	if c.Full {
		r = "full range"
	}
	switch c.Matrix {
	case "240m":
		return "SMPTE 240M " + r
	case "2020":
		return "BT.2020 " + r
	}
	return "BT." + c.Matrix + " " + r
}

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
// BT.2020 and SMPTE 240M their own, anything else BT.601; Y'CbCr is limited range
// unless the colorspace is JPEG. (xvYCC is limited range by definition.)
func camColourOf(colorspace, enc, quant uint32) camColour {
	var c camColour
	switch enc {
	case v4l2Enc601, v4l2EncXV601, v4l2EncSYCC:
		c.Matrix = "601"
	case v4l2Enc709, v4l2EncXV709:
		c.Matrix = "709"
	case v4l2EncBT2020, v4l2EncBT2020Const:
		c.Matrix = "2020"
	case v4l2EncSMPTE240M:
		c.Matrix = "240m"
	default:
		switch colorspace {
		case v4l2ColorspaceRec709, v4l2ColorspaceDCIP3:
			c.Matrix = "709"
		case v4l2ColorspaceBT2020:
			c.Matrix = "2020"
		case v4l2ColorspaceSMPTE240M:
			c.Matrix = "240m"
		default:
			c.Matrix = "601"
		}
	}
	switch quant {
	case v4l2QuantFull:
		c.Full = true
	case v4l2QuantLimited:
	default:
		c.Full = colorspace == v4l2ColorspaceJPEG && enc != v4l2EncXV601 && enc != v4l2EncXV709
	}
	return c
}

// jfifColour is what a JPEG frame holds whatever the driver reports: JFIF
// defines its Y'CbCr as full-range BT.601.
var jfifColour = camColour{Matrix: "601", Full: true}
