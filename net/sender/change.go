package sender

import (
	"bytes"
	"encoding/binary"
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
// unchanged tile costs about one memcmp of its pixels. A block's sum only grows
// down its band, so the test returns as soon as one sum passes its block's limit:
// a tile that changed much usually returns within its first few rows.
func changed(cur, ref *image.YCbCr, r image.Rectangle, threshold int) bool {
	var sums [4096/changeBlock + 1]int
	cw, chH := chromaScale(cur.SubsampleRatio)
	for by := r.Min.Y; by < r.Max.Y; by += changeBlock {
		band := image.Rect(r.Min.X, by, r.Max.X, min(by+changeBlock, r.Max.Y))
		nb := (band.Dx() + changeBlock - 1) / changeBlock
		clear(sums[:nb])
		for y := band.Min.Y; y < band.Max.Y; y++ {
			a := cur.Y[cur.YOffset(band.Min.X, y):][:band.Dx()]
			b := ref.Y[ref.YOffset(band.Min.X, y):][:band.Dx()]
			if bytes.Equal(a, b) {
				continue
			}
			if addDiffs(sums[:nb], a, b, changeBlock, band.Dy(), threshold) {
				return true
			}
		}
		// Chroma rows covering this band, in chroma sample units.
		cx0, cx1 := band.Min.X/cw, (band.Max.X+cw-1)/cw
		cy0, cy1 := band.Min.Y/chH, (band.Max.Y+chH-1)/chH
		cbw := changeBlock / cw
		clear(sums[:nb])
		for y := cy0; y < cy1; y++ {
			oc, or := y*cur.CStride, y*ref.CStride
			for _, pl := range [2][2][]uint8{{cur.Cb, ref.Cb}, {cur.Cr, ref.Cr}} {
				a, b := pl[0][oc+cx0:oc+cx1], pl[1][or+cx0:or+cx1]
				if bytes.Equal(a, b) {
					continue
				}
				if addDiffs(sums[:nb], a, b, cbw, cy1-cy0, 2*threshold) {
					return true
				}
			}
		}
	}
	return false
}

// addDiffs adds the absolute differences of rows a and b to the sums of their
// blocks, bw samples wide (the last one may be narrower), and reports whether a
// block's sum now exceeds threshold times its samples over a band h rows high.
func addDiffs(sums []int, a, b []uint8, bw, h, threshold int) bool {
	b = b[:len(a)]
	for i := range sums {
		lo := i * bw
		if lo >= len(a) {
			break
		}
		hi := min(lo+bw, len(a)) // bw is at most changeBlock, as sad needs
		sums[i] += sad(a[lo:hi], b[lo:hi])
		if sums[i] > threshold*(hi-lo)*h {
			return true
		}
	}
	return false
}

// SWAR lanes for sad: four 16-bit lanes in a 64-bit word.
const (
	lanes16Low  = 0x00ff00ff00ff00ff // the low byte of each lane
	lanes16One  = 0x0001000100010001 // 1 in each lane
	lanes16Bias = 0x0100010001000100 // 256 in each lane
)

// sad is the sum of absolute differences of a and b (as long as a), eight
// samples at a time in 16-bit lanes of a word (SWAR), the rest one by one. a is
// one block of the change test, at most 16 samples wide, so no lane overflows.
func sad(a, b []uint8) int {
	b = b[:len(a)]
	var acc uint64 // per lane at most 2*255 a word
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x, y := binary.LittleEndian.Uint64(a[i:]), binary.LittleEndian.Uint64(b[i:])
		acc += absLanes(x&lanes16Low, y&lanes16Low) + absLanes(x>>8&lanes16Low, y>>8&lanes16Low)
	}
	s := int(acc * lanes16One >> 48) // the lanes' sum lands in the top lane
	for ; i < len(a); i++ {
		s += absDiff(a[i], b[i])
	}
	return s
}

// absLanes is |x-y| in each 16-bit lane of bytes x and y: 256+x-y cannot borrow
// from the next lane, its bit 8 says x >= y, and where it is clear the low byte,
// 256-|x-y|, is negated in 8 bits.
func absLanes(x, y uint64) uint64 {
	d := (x | lanes16Bias) - y
	neg := (d >> 8 & lanes16One) ^ lanes16One // 1 where x < y
	return (d&lanes16Low ^ (neg<<8 - neg)) + neg
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
