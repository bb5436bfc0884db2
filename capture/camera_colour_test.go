package capture

import "testing"

func TestCamColourOf(t *testing.T) {
	lim601, lim709 := Colour{Range: RangeLimited}, Colour{Range: RangeLimited, Matrix: MatrixBT709}
	for _, tc := range []struct {
		name                   string
		colorspace, enc, quant uint32
		want                   Colour
	}{
		{"sRGB defaults to BT.601 limited (vivid, most webcams' YUYV)", 8, 0, 0, lim601},
		{"SMPTE 170M defaults to BT.601 limited", 1, 0, 0, lim601},
		{"Rec.709 defaults to the BT.709 matrix (HDMI capture)", 3, 0, 0, lim709},
		{"JPEG colorspace defaults to full range", 7, 0, 0, Colour{}},
		{"BT.2020 defaults to its own matrix", 10, 0, 0, Colour{Range: RangeLimited, Matrix: MatrixBT2020}},
		{"an explicit full range wins", 8, 1, 1, Colour{}},
		{"an explicit 709 matrix wins over sRGB", 8, 2, 2, lim709},
		{"xvYCC 709 is limited range by default", 7, 4, 0, lim709},
		{"SMPTE 240M is read as its nearest, BT.709", 2, 0, 0, lim709},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := camColourOf(tc.colorspace, tc.enc, tc.quant); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
func TestNodeCanCapture(t *testing.T) {
	for _, tc := range []struct {
		name             string
		caps, deviceCaps uint32
		want             bool
	}{
		{"a capture node says so in device_caps", 0x85200001 | 0x04000000, 0x05200001, true},
		{"a metadata node of the same device is not one, whatever the device can do", 0x85a00001 | 0x04000000, 0x04800000, false},
		{"an output node is not one", 0x85200003 | 0x04000000, 0x04200002, false},
		{"an old driver without device_caps is judged by its capabilities", 0x05000001, 0, true},
		{"capture without streaming I/O is refused", 0x80000001, 0x00000001, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodeCanCapture(tc.caps, tc.deviceCaps); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestFourCCNames(t *testing.T) {
	for _, tc := range []struct {
		code uint32
		want string
	}{
		{fourccCode("YUYV"), "YUYV"},
		{fourccCode("Y16 ") | 1<<31, "Y16 -BE"},
		{fourccCode("XR15") | 1<<31, "XR15-BE"},
		{fourccCode("Y10"), "Y10"},
		{0x00000001, "0x00000001"},
	} {
		if got := fourccName(tc.code); got != tc.want {
			t.Errorf("fourccName(%#x) = %q, want %q", tc.code, got, tc.want)
		}
		if tc.want[0] != '0' && fourccCode(tc.want) != tc.code {
			t.Errorf("fourccCode(%q) = %#x, want %#x", tc.want, fourccCode(tc.want), tc.code)
		}
	}
}

func TestSeqGap(t *testing.T) {
	for _, tc := range []struct {
		name      string
		last, seq uint32
		have      bool
		want      uint64
	}{
		{"the first buffer of a stream has no gap", 0, 57, false, 0},
		{"consecutive buffers have none", 7, 8, true, 0},
		{"two skipped numbers are two lost frames", 7, 10, true, 2},
		{"the count wrapping around is no gap", 0xffffffff, 0, true, 0},
		{"a count that went backwards (a restart) is no gap", 100, 3, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqGap(tc.last, tc.seq, tc.have); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}
