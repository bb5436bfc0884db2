package fastjpeg

import "fmt"

// Decoder's Huffman decoding (ITU T.81 §F.2.2) takes most AC coefficients with
// one load from decTable.ac: the code and the value bits after it resolve
// together (as stb_image's fast_ac and libjpeg-turbo's HUFF_DECODE_FAST with
// its value bits), and so does the end of block. A coefficient's position
// past the block is not tested per coefficient: positions 64 and on write
// into a spare natural index (unzigPad) and the loop's end tells them apart.

// acBits is the width of the combined AC lookup decTable.ac: with 11 bits the
// Annex K.3 tables resolve 98.8% of a 1080p q75 photo's AC symbols at once.
const acBits = 11

// acEOBStep is the step of an end-of-block entry of decTable.ac: it moves the
// position past the block, and further than any coefficient's step (at most
// 16) can, so the loop ends and the position it ends at tells an end of block
// (past 64+16) from a coefficient written past the block (65..79).
const acEOBStep = 81

// unzigPad is unzig for the positions the combined loop can write at: 0..63
// as unzig, and 63 beyond, where only an end of block's zero (position 63 is
// still zero then) or a coefficient past the block (an error) is written.
var unzigPad = func() (u [256]uint8) {
	for k := range u {
		u[k] = 63
	}
	copy(u[:], unzig[:])
	return u
}()

// acEntry is decTable.ac's entry for an AC code at the top of acc (the bits
// below acBits zero): value<<16 | step<<8 | bits consumed for a coefficient
// whose code and value fit in acBits, where step is its run of zeros plus one;
// acEOBStep<<8 | code length for an end of block (any size-0 symbol but ZRL, as
// the general loop reads it); 0 for the rest (ZRL, longer codes and values, no
// code), which the general path takes. The assembly knows this layout.
func (t *decTable) acEntry(acc uint64) int32 {
	var rs uint8
	var l uint
	if e := t.lookup[acc>>(64-lookupBits)]; e != 0 {
		rs, l = uint8(e), uint(e>>8)
	} else {
		rs, l = t.slow(acc)
	}
	if l == 0 || l > acBits {
		return 0
	}
	run, size := int32(rs>>4), uint(rs&15)
	if size == 0 {
		if run == 15 {
			return 0
		}
		return acEOBStep<<8 | int32(l)
	}
	if l+size > acBits {
		return 0
	}
	v := int32(acc<<l>>(64-size)) & (1<<size - 1)
	return extend(v, size)<<16 | (run+1)<<8 | int32(l+size)
}

// slowAC decodes the one AC symbol at zig-zag position k that the assembly
// loop left (acSlow: a code and value longer than acBits, a ZRL, or corrupt
// data), refilling br first, and returns the next position and the value.
// On an error br is left as it was.
func (br *bitReader) slowAC(acT *decTable, blk *[blockSize]int32, q *decQuant, k int) (int, int32, error) {
	acc, n, pos := br.acc, br.n, br.pos
	if n < 32 {
		acc, n, pos = refill(br.seg, pos, acc, n)
	}
	acc, n, k, v, err := acSlow(acT, blk, q, acc, n, k)
	if err != nil {
		return k, 0, err
	}
	br.acc, br.n, br.pos = acc, n, pos
	return k, v, nil
}

// huffCoefs decodes one block's coefficients from br (§F.2.2), dequantised by
// q into blk in natural order, returning the DC (the difference added to
// prevDC) and whether any AC coefficient was coded. Corrupt data is an error
// wrapping ErrCorrupt; blk is then undefined. Where the assembly loop runs it
// decodes the block, and Go decodes each symbol it leaves (acSlow).
func huffCoefs(br *bitReader, blk *[blockSize]int32, q *decQuant, dcT, acT *decTable, prevDC int32) (int32, bool, error) {
	if !coefsAsm || !useSIMD {
		return huffCoefsGo(br, blk, q, dcT, acT, prevDC)
	}
	k, dc, any := coefsLoop(br, blk, q, dcT, acT, prevDC, 0)
	if k == 0 {
		// The DC's code is longer than lookupBits, or corrupt; the assembly
		// consumed nothing (a refill at most).
		return huffCoefsGo(br, blk, q, dcT, acT, prevDC)
	}
	for k < blockSize {
		var v int32
		var err error
		if k, v, err = br.slowAC(acT, blk, q, k); err != nil {
			return 0, false, err
		}
		any = any || v != 0
		if k < blockSize {
			var wrote bool
			k, _, wrote = coefsLoop(br, blk, q, dcT, acT, dc, k)
			any = any || wrote
		}
	}
	if k > blockSize && k <= blockSize+15 {
		return 0, false, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k-1)
	}
	return dc, any, nil
}

// huffCoefsGo is huffCoefs in Go alone: the path of machines without the
// assembly loop.
func huffCoefsGo(br *bitReader, blk *[blockSize]int32, q *decQuant, dcT, acT *decTable, prevDC int32) (int32, bool, error) {
	// The bit state lives in locals for the block.
	seg, pos, acc, n := br.seg, br.pos, br.acc, br.n
	dc := prevDC
	*blk = [blockSize]int32{}
	if n < 32 {
		acc, n, pos = refill(seg, pos, acc, n)
	}
	// DC: a size category, then that many bits of difference (§F.2.2.1).
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
	if sym != 0 {
		s := uint(sym) & 15
		dc += extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
	}
	blk[0] = dc * q[0]

	// AC (§F.2.2.2): k is the next coefficient's zig-zag position; or is the
	// OR of the coded values, non-zero once one was coded.
	var or int32
	k := 1
	for k < blockSize {
		if n < 32 {
			acc, n, pos = refill(seg, pos, acc, n)
		}
		if f := acT.ac[acc>>(64-acBits)]; f != 0 {
			l := uint(f) & 31
			acc <<= l
			n -= l
			k += int(f>>8) & 127
			v, at := f>>16, k-1
			or |= v
			blk[unzigPad[at&255]&63] = v * q[at&63]
			continue
		}
		// The rest (long codes or values, ZRL, corrupt data) out of line, so
		// that the loop above keeps its state in registers.
		var v int32
		var err error
		if acc, n, k, v, err = acSlow(acT, blk, q, acc, n, k); err != nil {
			return 0, false, err
		}
		or |= v
	}
	if k > blockSize && k <= blockSize+15 {
		return 0, false, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k-1)
	}
	br.acc, br.n, br.pos = acc, n, pos
	return dc, or != 0, nil
}

// acSlow decodes the AC symbol at the top of acc (n >= 32 bits) that
// decTable.ac does not resolve, and its value, for huffCoefs at position k:
// it stores the coefficient, dequantised by q, in blk and returns the new acc,
// n and k and the value (0 for none). An end of block returns k past the block
// as decTable.ac's does.
//
//go:noinline
func acSlow(acT *decTable, blk *[blockSize]int32, q *decQuant, acc uint64, n uint, k int) (uint64, uint, int, int32, error) {
	var rs uint8
	if e := acT.lookup[acc>>(64-lookupBits)]; e != 0 {
		l := uint(e>>8) & 63
		acc <<= l
		n -= l
		rs = uint8(e)
	} else {
		var l uint
		if rs, l = acT.slow(acc); l == 0 {
			return 0, 0, 0, 0, fmt.Errorf("%w: invalid AC code", ErrCorrupt)
		}
		acc <<= l
		n -= l
	}
	run, size := int(rs>>4), uint(rs&15)
	if size == 0 {
		if run != 15 {
			return acc, n, k + acEOBStep, 0, nil // EOB
		}
		// ZRL: sixteen zeros; running off the block's end just ends it.
		return acc, n, min(k+16, blockSize), 0, nil
	}
	k += run
	if k >= blockSize {
		return 0, 0, 0, 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
	}
	v := extend(int32(acc>>(64-size)), size)
	blk[unzig[k&63]&63] = v * q[k&63]
	return acc << size, n - size, k + 1, v, nil
}

// mcuBlocks is the most blocks an MCU of a tile has: four luminance and two
// chrominance ones in 4:2:0.
const mcuBlocks = 6

// coefRun is one MCU's blocks as coefsMCU decodes them in a row (the layout
// the assembly reads): block i takes tables dcT[i] and acT[i], dequantiser
// q[i] and the DC prediction of component comp[i].
type coefRun struct {
	blk  *[mcuBlocks][blockSize]int32 // where block i's coefficients go, in natural order
	n    int                          // blocks in an MCU, at most mcuBlocks
	dcT  [mcuBlocks]*decTable
	acT  [mcuBlocks]*decTable
	q    [mcuBlocks]*decQuant
	comp [mcuBlocks]int
	pred [3]int32        // each component's DC prediction, updated block by block
	ac   [mcuBlocks]bool // whether block i had an AC coefficient coded

	// qz is each component's q with qzLen entries, so that the assembly
	// indexes it by any position it stores at (an end of block's zero up to
	// 62+acEOBStep) with no mask.
	qz [3][qzLen]int32
}

// qzLen is the length of coefRun.qz: positions up to 63+acEOBStep-1.
const qzLen = blockSize + acEOBStep - 1

// set makes block i of r take tables dcT and acT, dequantiser q and the
// prediction of component comp (the blocks of a component share one q).
func (r *coefRun) set(i int, dcT, acT *decTable, q *decQuant, comp int) {
	r.dcT[i], r.acT[i], r.q[i], r.comp[i] = dcT, acT, q, comp
	copy(r.qz[comp][:blockSize], q[:blockSize])
}

// coefsMCU decodes the r.n blocks of one MCU from br as huffCoefs does one
// at a time, updating r.pred and r.ac, and returns how many blocks it
// decoded: r.n, or on corrupt data the blocks before the one whose error it
// returns (huffCoefs's error). Where the assembly loop runs one call decodes
// the MCU and Go decodes only what it leaves: a DC code longer than
// lookupBits (or corrupt), and each symbol acSlow takes; a Go<->assembly
// transition a block cost a tenth of the decoder's time.
func coefsMCU(br *bitReader, r *coefRun) (int, error) {
	i, k := 0, 0
	for {
		if i, k = coefsRun(br, r, i, k); i >= r.n {
			return r.n, nil
		}
		blk, q, c := &r.blk[i], r.q[i], r.comp[i]
		if k == 0 {
			// The DC is the assembly's to leave (or there is no assembly loop
			// here): the whole block in Go.
			dc, ac, err := huffCoefsGo(br, blk, q, r.dcT[i], r.acT[i], r.pred[c])
			if err != nil {
				return i, err
			}
			r.pred[c], r.ac[i] = dc, ac
			i++
			continue
		}
		if k < blockSize {
			var v int32
			var err error
			if k, v, err = br.slowAC(r.acT[i], blk, q, k); err != nil {
				return i, err
			}
			r.ac[i] = r.ac[i] || v != 0
		}
		if k > blockSize && k <= blockSize+15 {
			return i, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k-1)
		}
		if k >= blockSize {
			i, k = i+1, 0
		}
	}
}
