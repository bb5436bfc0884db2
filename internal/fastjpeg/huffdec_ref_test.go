package fastjpeg

import "fmt"

// refCoefs is the entropy part of Decoder.block before the combined AC table
// (decTable.ac), kept as the reference the fast decoders are tested against:
// one block's coefficients (§F.2.2), dequantised by q into blk in natural
// order, returning the DC and whether any AC coefficient was coded.
func refCoefs(br *bitReader, blk *[blockSize]int32, q *decQuant, dcT, acT *decTable, prevDC int32) (int32, bool, error) {
	*blk = [blockSize]int32{}

	seg, pos, acc, n := br.seg, br.pos, br.acc, br.n
	if n < 32 {
		acc, n, pos = refill(seg, pos, acc, n)
	}

	var sym uint8
	if e := dcT.lookup[acc>>(64-lookupBits)]; e != 0 {
		l := uint(e>>8) & 63
		acc <<= l
		n -= l
		sym = uint8(e)
	} else {
		var l uint
		if sym, l = dcT.slow(acc); l == 0 {
			return 0, false, fmt.Errorf("%w: invalid DC code", ErrCorrupt)
		}
		acc <<= l
		n -= l
	}
	if sym > 11 {
		return 0, false, fmt.Errorf("%w: DC size %d", ErrCorrupt, sym)
	}
	dc := prevDC
	if sym != 0 {
		s := uint(sym) & 15
		dc += extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
	}
	blk[0] = dc * q[0]

	ac := false
	for k := 1; k < blockSize; k++ {
		if n < 32 {
			acc, n, pos = refill(seg, pos, acc, n)
		}
		if f := acT.fast[acc>>(64-fastBits)]; f != 0 {
			k += int(f>>8) & 15
			l := uint(f) & 31
			acc <<= l
			n -= l
			if k >= blockSize {
				return 0, false, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
			}
			blk[unzig[k&63]] = int32(f>>16) * q[k&63]
			ac = true
			continue
		}
		var rs uint8
		if e := acT.lookup[acc>>(64-lookupBits)]; e != 0 {
			l := uint(e>>8) & 63
			acc <<= l
			n -= l
			rs = uint8(e)
		} else {
			var l uint
			if rs, l = acT.slow(acc); l == 0 {
				return 0, false, fmt.Errorf("%w: invalid AC code", ErrCorrupt)
			}
			acc <<= l
			n -= l
		}
		run, size := int(rs>>4), uint(rs&15)
		if size == 0 {
			if run != 15 {
				break // EOB
			}
			k += 15 // ZRL
			continue
		}
		k += run
		if k >= blockSize {
			return 0, false, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
		}
		blk[unzig[k&63]] = extend(int32(acc>>(64-size)), size) * q[k&63]
		acc <<= size
		n -= size
		ac = true
	}
	br.acc, br.n, br.pos = acc, n, pos
	return dc, ac, nil
}
