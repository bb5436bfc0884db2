package receiver

import (
	"image"

	"github.com/hrvs/hrvs/net/tile"
)

// Concealment works on a coverage map of 16x8 blocks, the smallest unit every tile
// rectangle is aligned to, because the rectangles of tiles that never arrived are
// unknown: whatever no decoded tile covered takes the previous frame's pixels (or
// black before the first frame). Tiles a frame did not carry are covered the same way.
const blockW, blockH = 16, 8

func (pf *pendingFrame) cover(r image.Rectangle) {
	bw := (pf.w + blockW - 1) / blockW
	for by := r.Min.Y / blockH; by < (r.Max.Y+blockH-1)/blockH; by++ {
		for bx := r.Min.X / blockW; bx < (r.Max.X+blockW-1)/blockW; bx++ {
			pf.covered[by*bw+bx] = true
		}
	}
}

// conceal fills what no decoded tile of pf covered from last, the frame released
// before it (nil before the first).
func conceal(pf *pendingFrame, last *Frame) {
	img := pf.f.Image
	var prev *image.YCbCr
	if last != nil && last.Image.Rect == img.Rect && last.Image.SubsampleRatio == img.SubsampleRatio {
		prev = last.Image
	}
	bw, bh := (pf.w+blockW-1)/blockW, (pf.h+blockH-1)/blockH
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; {
			if pf.covered[by*bw+bx] {
				bx++
				continue
			}
			run := bx
			for run < bw && !pf.covered[by*bw+run] {
				run++
			}
			r := image.Rect(bx*blockW, by*blockH, run*blockW, (by+1)*blockH).Intersect(img.Rect)
			if prev != nil {
				tile.CopyRect(img, prev, r)
			} else {
				fillBlack(img, r)
			}
			bx = run
		}
	}
}

func fillBlack(img *image.YCbCr, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Y[y*img.YStride+r.Min.X : y*img.YStride+r.Max.X]
		for i := range row {
			row[i] = 0 // black in the full-range JFIF levels tiles use (docs/PROTOCOL.md §4)
		}
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i := img.COffset(x, y)
			img.Cb[i], img.Cr[i] = 128, 128
		}
	}
}
