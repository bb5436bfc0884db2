package fastjpeg

import (
	"fmt"
	"image"
	"math"
)

// SummaryPerBlock is how many values AppendSummary keeps per 8x8 block: the
// dequantised DC and the two lowest AC coefficients (zigzag 1 and 2: the first
// horizontal and vertical cosines).
const SummaryPerBlock = 3

// AppendSummary appends tile r's low-frequency summary to dst: for each block in
// coding order (MCU by MCU; Y blocks, then Cb, then Cr), SummaryPerBlock
// dequantised coefficients (the coefficient times its step, the scale of ITU
// T.81 §A.3.3, where DC is 8 times the block's mean sample). It is what the
// sender keeps of the tile it last sent, for SummaryChange. r follows
// AppendTile's rules.
func (f *CoefFrame) AppendSummary(dst []int32, r image.Rectangle) ([]int32, error) {
	if err := f.checkTile(r); err != nil {
		return dst, err
	}
	mw, mh := f.sub.MCUSize()
	fromLow := f.decodedTo == 0
	if fromLow && (r.Max.Y+mh-1)/mh > f.summaryTo {
		return dst, fmt.Errorf("%w: tile %v of a frame not decoded", ErrArgs, r)
	}
	nY := f.bpm - 2
	for my := r.Min.Y / mh; my < (r.Max.Y+mh-1)/mh; my++ {
		for mx := r.Min.X / mw; mx < (r.Max.X+mw-1)/mw; mx++ {
			for i := 0; i < f.bpm; i++ {
				q := &f.quant[min(max(i-nY+1, 0), 2)]
				var zz []int16
				if fromLow {
					b := (my*f.mcusX+mx)*f.bpm + i
					zz = f.low[b*SummaryPerBlock : (b+1)*SummaryPerBlock]
				} else {
					zz = f.block64((my*f.stride+mx)*f.bpm + i)[:SummaryPerBlock]
				}
				dst = append(dst, int32(zz[0])*int32(q[0]), int32(zz[1])*int32(q[1]), int32(zz[2])*int32(q[2]))
			}
		}
	}
	return dst, nil
}

// SummaryChange compares two summaries of the same tile (AppendSummary, same
// rectangle and layout) and returns, in sample levels, the largest change of
// any block and the mean change over the blocks. A block's change is how far its
// mean moved (|ΔDC|/8) plus the peak amplitude of its two lowest cosines
// (|ΔAC|/(4√2) each, §A.3.3): a slow change in brightness or an edge moving
// shows at once, while sensor noise, which lives in the high frequencies and
// averages out over a block's 64 samples, barely moves these. Summaries of
// different lengths (the tile changed shape) are an infinite change.
func SummaryChange(a, b []int32) (peak, mean float64) {
	if len(a) != len(b) || len(a)%SummaryPerBlock != 0 {
		return math.Inf(1), math.Inf(1)
	}
	if len(a) == 0 {
		return 0, 0
	}
	var sum float64
	for i := 0; i < len(a); i += SummaryPerBlock {
		d := float64(abs32(a[i]-b[i]))/8 +
			float64(abs32(a[i+1]-b[i+1])+abs32(a[i+2]-b[i+2]))/(4*math.Sqrt2)
		peak = max(peak, d)
		sum += d
	}
	return peak, sum / float64(len(a)/SummaryPerBlock)
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// Requantize recodes f's coefficients for coarser quantisation, for a rate
// control that must cut bytes without decoding: every step becomes
// step*scale/100 (scale >= 100; never finer than the camera's, and at most 255
// unless the camera's step is already larger), and coefficients from zigzag
// index keep on (1..64; 64 keeps all) are dropped. Each coefficient becomes
// c*old/new rounded to the nearest integer, halves toward zero: requantising
// integers meets exact halves often (a 1 at twice the step), and dropping them
// is what saves the bytes. It
// returns the new tables, which the stream's table set must carry before tiles
// of the requantised frame are decoded. The frame must be decoded by Decode
// (Transcode keeps no coefficients): otherwise it is an error wrapping ErrArgs.
func (f *CoefFrame) Requantize(scale, keep int) ([3]QuantTable, error) {
	if f.decodedTo < f.mcusY || f.mcusY == 0 {
		return f.quant, fmt.Errorf("%w: requantising a frame whose coefficients are not decoded", ErrArgs)
	}
	scale = max(scale, 100)
	keep = min(max(keep, 1), blockSize)
	var nq [3]QuantTable
	for c := range nq {
		for k, old := range f.quant[c] {
			s := (int(old)*scale + 50) / 100
			nq[c][k] = uint16(max(int(old), min(s, max(255, int(old)))))
		}
	}
	nY := f.bpm - 2
	var mul [3][blockSize]int32 // old/new in 16-bit fixed point, 0 for dropped
	for c := range mul {
		for k := 0; k < keep; k++ {
			mul[c][k] = int32((int64(f.quant[c][k])<<16 + int64(nq[c][k])/2) / int64(nq[c][k]))
		}
	}
	rows := f.decodedTo
	for my := 0; my < rows; my++ {
		for mx := 0; mx < f.stride; mx++ {
			b := (my*f.stride + mx) * f.bpm
			for i := 0; i < f.bpm; i++ {
				m := &mul[min(max(i-nY+1, 0), 2)]
				zz := f.block64(b + i)
				var nz uint64
				for k := range zz {
					v := int32(zz[k])
					if v == 0 {
						continue
					}
					// Round to nearest, halves toward zero, in 16-bit fixed point.
					r := (abs32(v)*m[k] + 1<<15 - 1) >> 16
					if v < 0 {
						r = -r
					}
					zz[k] = int16(r)
					if r != 0 {
						nz |= 1 << k
					}
				}
				f.nz[b+i] = nz &^ 1
			}
		}
	}
	f.quant = nq
	return nq, nil
}
