package fastjpeg

// JPEG markers (ITU T.81 Table B.1).
const (
	markerSOI  = 0xd8
	markerEOI  = 0xd9
	markerDQT  = 0xdb
	markerSOF0 = 0xc0
	markerDHT  = 0xc4
	markerSOS  = 0xda
)

// sosYCbCr is the SOS segment image/jpeg writes: three components, Y with DC/AC
// tables 0/0, Cb and Cr with 1/1, spectral selection 0..63, no approximation.
var sosYCbCr = [...]byte{
	0xff, markerSOS, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02,
	0x11, 0x03, 0x11, 0x00, 0x3f, 0x00,
}

// AppendHeader appends SOI, DQT, SOF0, DHT and SOS for a w x h image at the given
// quality and subsampling, byte for byte as image/jpeg writes them for 4:2:0 (4:2:2
// differs only in Y's sampling factors). Header + scan + EOI is a JPEG file.
func AppendHeader(dst []byte, w, h, quality int, s Subsampling) []byte {
	qt := quantTables(quality)
	dst = append(dst, 0xff, markerSOI)

	// DQT: Pq/Tq byte then 64 entries in zig-zag order, per table (§B.2.4.1).
	dst = append(dst, 0xff, markerDQT, 0x00, 2+2*(1+blockSize))
	for i := range qt {
		dst = append(dst, byte(i))
		dst = append(dst, qt[i][:]...)
	}

	// SOF0 (§B.2.2): precision, height, width, then id, sampling HV, table per component.
	ySampling := byte(0x22)
	if s == S422 {
		ySampling = 0x21
	}
	dst = append(dst, 0xff, markerSOF0, 0x00, 8+3*3, 8,
		byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, ySampling, 0,
		2, 0x11, 1,
		3, 0x11, 1)

	// DHT (§B.2.4.2): all four tables in one segment, as image/jpeg does.
	n := 2
	for _, t := range huffSpecs {
		n += 1 + 16 + len(t.value)
	}
	dst = append(dst, 0xff, markerDHT, byte(n>>8), byte(n))
	for i, t := range huffSpecs {
		dst = append(dst, "\x00\x10\x01\x11"[i])
		dst = append(dst, t.count[:]...)
		dst = append(dst, t.value...)
	}
	return append(dst, sosYCbCr[:]...)
}

// AppendEOI appends the End Of Image marker that closes a file after its scan.
func AppendEOI(dst []byte) []byte { return append(dst, 0xff, markerEOI) }
