package sender

import (
	"bytes"
	"image"
)

// changeBlock is the side of the luma blocks the change test averages over: one
// JPEG macroblock, small enough that a moving object the size of a finger still
// shows, large enough that sensor noise averages out.
const changeBlock = 16

// changed reports whether rectangle r of cur differs from the same rectangle of ref
// (the pixels last sent) enough to be worth sending again: whether the mean
// absolute difference over any 16x16 luma block, or over the chroma samples of
// that block, exceeds threshold levels. A threshold of 0 sends every change.
//
// Identical rows are skipped with bytes.Equal, which runs at memory speed, so an
// unchanged tile costs about one memcmp of its pixels; a changed one usually
// returns at the end of its first band of blocks.
func changed(cur, ref *image.YCbCr, r image.Rectangle, threshold int) bool {
	var sums [4096/changeBlock + 1]int
	cw, chH := chromaScale(cur.SubsampleRatio)
	for by := r.Min.Y; by < r.Max.Y; by += changeBlock {
		band := image.Rect(r.Min.X, by, r.Max.X, min(by+changeBlock, r.Max.Y))
		nb := (band.Dx() + changeBlock - 1) / changeBlock
		clear(sums[:nb])
		dirty := false
		for y := band.Min.Y; y < band.Max.Y; y++ {
			a := cur.Y[cur.YOffset(band.Min.X, y):][:band.Dx()]
			b := ref.Y[ref.YOffset(band.Min.X, y):][:band.Dx()]
			if bytes.Equal(a, b) {
				continue
			}
			dirty = true
			for x := range a {
				sums[x/changeBlock] += absDiff(a[x], b[x])
			}
		}
		if dirty && over(sums[:nb], band, changeBlock, threshold) {
			return true
		}
		// Chroma rows covering this band, in chroma sample units.
		cx0, cx1 := band.Min.X/cw, (band.Max.X+cw-1)/cw
		cy0, cy1 := band.Min.Y/chH, (band.Max.Y+chH-1)/chH
		cbw := changeBlock / cw
		clear(sums[:nb])
		dirty = false
		for y := cy0; y < cy1; y++ {
			oc, or := y*cur.CStride, y*ref.CStride
			for _, pl := range [2][2][]uint8{{cur.Cb, ref.Cb}, {cur.Cr, ref.Cr}} {
				a, b := pl[0][oc+cx0:oc+cx1], pl[1][or+cx0:or+cx1]
				if bytes.Equal(a, b) {
					continue
				}
				dirty = true
				for x := range a {
					sums[x/cbw] += absDiff(a[x], b[x])
				}
			}
		}
		if dirty && over(sums[:nb], image.Rect(cx0, cy0, cx1, cy1), cbw, 2*threshold) {
			return true
		}
	}
	return false
}

// over reports whether any block's sum of differences exceeds threshold times its
// sample count; blocks are bw samples wide and span the band's height (the last one
// may be narrower).
func over(sums []int, band image.Rectangle, bw, threshold int) bool {
	h := band.Dy()
	for i, s := range sums {
		w := min(bw, band.Dx()-i*bw)
		if s > threshold*w*h {
			return true
		}
	}
	return false
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// chromaScale is how many luma samples one chroma sample spans, across and down.
func chromaScale(sub image.YCbCrSubsampleRatio) (int, int) {
	switch sub {
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	}
	return 1, 1
}
