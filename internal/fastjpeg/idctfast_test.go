package fastjpeg

import (
	"fmt"
	"image"
	"testing"
)

// decodeWithPath decodes scan (coded at quality q) with every table forced to the
// given inverse DCT.
func decodeWithPath(t testing.TB, scan []byte, r image.Rectangle, ratio image.YCbCrSubsampleRatio, q int, fast bool) *image.YCbCr {
	t.Helper()
	s, _ := SubsamplingOf(ratio)
	var d Decoder
	tables := quantTables(clampQuality(q))
	for i := range d.quant {
		var steps [blockSize]uint16
		for k, v := range tables[i] {
			steps[k] = uint16(v)
		}
		d.quant[i] = decQuantPath(&steps, fast)
	}
	d.quality = clampQuality(q)
	out := image.NewYCbCr(r, ratio)
	if err := d.DecodeScan(out, r, q, s, scan); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFastIDCTQualityMeasure(t *testing.T) {
	var e Encoder
	for _, c := range contents[:2] {
		src := toYCbCr(c.rgba(t, 1024, 768), image.YCbCrSubsampleRatio420)
		for _, q := range []int{30, 50, 70, 75, 80, 85, 88, 90, 92, 95} {
			scan, err := e.AppendScan(nil, src, src.Rect, q)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := SubsamplingOf(src.SubsampleRatio)
			std := stdDecode(t, AppendEOI(append(AppendHeader(nil, 1024, 768, q, s), scan...)))
			ex := decodeWithPath(t, scan, src.Rect, src.SubsampleRatio, q, false)
			fa := decodeWithPath(t, scan, src.Rect, src.SubsampleRatio, q, true)
			tb := quantTables(q)
			mn := 255
			for _, tt := range tb {
				for _, v := range tt {
					mn = min(mn, int(v))
				}
			}
			fmt.Printf("%s q%d minstep %d: src exact %.2f fast %.2f | std exact %.2f (max %d) fast %.2f (max %d) | fast vs exact %.2f\n",
				c.name, q, mn, psnr(ex, src), psnr(fa, src), psnr(ex, std), maxDiff(ex, std), psnr(fa, std), maxDiff(fa, std), psnr(fa, ex))
		}
	}
}
