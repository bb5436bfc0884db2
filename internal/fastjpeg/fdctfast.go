package fastjpeg

// The fast forward DCT follows libjpeg's JDCT_IFAST (jfdctfst.c, what GStreamer's
// jpegenc runs): the same AAN butterfly as fdctQuantGeneric, but in 16-bit lanes,
// quantised as libjpeg-turbo's SIMD quantiser does it (jquanti: a reciprocal
// multiply with a correction and a scale, divisors scaled by the AAN factors as
// jcdctmgr.c does for JDCT_IFAST). Eight lanes of 16 bits are one row or column
// of a block, so one SSE/NEON register holds what the 64-bit kernel spreads over
// four. Two changes cost nothing and buy most of the exact kernel's accuracy
// back: the multiplies round with 15-bit constants (a rounding multiply-high,
// VPMULHRSW or SQRDMULH, where jfdctfst truncates with 8-bit ones) and the samples
// carry one fraction bit. fastQuantOK decides which tables take it (docs/JPEG.md,
// "Fast forward DCT (JDCT_IFAST)").

const (
	// The multiplier constants in 15 fraction bits (jfdctfst.c has 8), for
	// a rounding multiply-high (ifmul). 1.306 does not fit a signed 16-bit lane;
	// z4 multiplies by 0.306 and adds the operand once.
	ifix0_382683433 = 12540 // cos(6pi/16) << 15
	ifix0_541196100 = 17734 // sqrt(2)*cos(6pi/16)
	ifix0_707106781 = 23170 // cos(4pi/16)
	ifix0_306562965 = 10045 // sqrt(2)*cos(2pi/16) - 1

	// ifastFracBits are the fraction bits the samples carry through both
	// passes: one more would overflow the second pass's 16 bits.
	ifastFracBits = 1

	// ifastColumnBias is the level shift of a column of 8 samples by 128 (ITU T.81
	// §A.3.1) as it shows in the column's DC output.
	ifastColumnBias = 128 * 8 << ifastFracBits

	// fastMinStep is the smallest quantiser step for which a table takes the fast
	// path: finer tables (luma from quality 88, chroma from 93) keep the exact
	// kernel, so that at quality 100 the encoder is as exact as image/jpeg
	// (docs/JPEG.md measures the loss above it: 0.005 dB at most).
	fastMinStep = 3
)

// ifmul multiplies x by c / 2^15, rounding half up: what a 16-bit lane's
// rounding multiply-high (VPMULHRSW, SQRDMULH) gives for every int16 x and the
// positive constants here.
func ifmul(x, c int32) int32 {
	return (x*c + 1<<14) >> 15
}

// ifast1D is one 1-D jfdctfst pass: samples d0..d7 in, outputs by frequency
// out. Two passes give the DCT of ITU T.81 §A.3.3 times
// 8*aanScale[v]*aanScale[u], which the divisors undo. It computes in 32 bits
// what the kernels compute in 16-bit lanes, which is the same because no value
// of an 8-bit block reaches 2^15 (TestFastDCTStaysIn16Bits).
func ifast1D(d0, d1, d2, d3, d4, d5, d6, d7 int32) (o0, o1, o2, o3, o4, o5, o6, o7 int32) {
	t0, t7 := d0+d7, d0-d7
	t1, t6 := d1+d6, d1-d6
	t2, t5 := d2+d5, d2-d5
	t3, t4 := d3+d4, d3-d4

	// Even part.
	t10, t13 := t0+t3, t0-t3
	t11, t12 := t1+t2, t1-t2
	o0, o4 = t10+t11, t10-t11
	z1 := ifmul(t12+t13, ifix0_707106781)
	o2, o6 = t13+z1, t13-z1

	// Odd part.
	t10, t11, t12 = t4+t5, t5+t6, t6+t7
	z5 := ifmul(t10-t12, ifix0_382683433)
	z2 := ifmul(t10, ifix0_541196100) + z5
	z4 := ifmul(t12, ifix0_306562965) + t12 + z5
	z3 := ifmul(t11, ifix0_707106781)
	z11, z13 := t7+z3, t7-z3
	o5, o3 = z13+z2, z13-z2
	o1, o7 = z11+z4, z11-z4
	return
}

// fastQuant is one quantisation table as the fast path applies it, by position in
// coefs: libjpeg-turbo's divisor table for JDCT_IFAST in jquanti's form. A
// coefficient x becomes sign(x) * ((|x|+corr) * recip >> 16) * scale >> 16, which is
// |x|/divisor rounded half away from zero for every |x| < 2^15 (compute_reciprocal
// in jcdctmgr.c; TestFastQuantDividesExactly). The kernels read the three
// arrays at offsets 0, 128 and 256.
type fastQuant struct {
	recip [blockSize]uint16
	corr  [blockSize]uint16
	scale [blockSize]uint16

	// The same division for the generic code, which has no multiply-high: half
	// the divisor, and 2^32 / divisor rounded up, whose product with any
	// |x| + half below 2^17 has floor((|x|+half) / divisor) in its top 32 bits.
	half  [blockSize]uint32
	magic [blockSize]uint32
}

// aanScale14 are jcdctmgr.c's aanscales: aanScale[v]*aanScale[u] << 14, rounded,
// by natural index v*8+u. The divisors must be libjpeg's so that the fast path
// quantises as GStreamer's jpegenc does.
var aanScale14 = [blockSize]int32{
	16384, 22725, 21407, 19266, 16384, 12873, 8867, 4520,
	22725, 31521, 29692, 26722, 22725, 17855, 12299, 6270,
	21407, 29692, 27969, 25172, 21407, 16819, 11585, 5906,
	19266, 26722, 25172, 22654, 19266, 15137, 10426, 5315,
	16384, 22725, 21407, 19266, 16384, 12873, 8867, 4520,
	12873, 17855, 16819, 15137, 12873, 10114, 6967, 3552,
	8867, 12299, 11585, 10426, 8867, 6967, 4799, 2446,
	4520, 6270, 5906, 5315, 4520, 3552, 2446, 1247,
}

// fastQuantOK reports whether table t (zig-zag order) is coarse enough for the
// fast path: every step at least fastMinStep (quality 75's tables are, steps 5
// and up; quality 90's luma table is not, 2 and up), and so every divisor at least
// minFastDivisor.
func fastQuantOK(t *[blockSize]uint8) bool {
	for k, n := range unzig {
		if t[k] < fastMinStep || ifastDivisor(t[k], n) < minFastDivisor {
			return false
		}
	}
	return true
}

// minFastDivisor is the smallest divisor jquanti's form holds: 2 would need a
// scale of 2^16 (libjpeg-turbo falls back to its C quantiser for it).
const minFastDivisor = 3

// ifastDivisor is jcdctmgr.c's JDCT_IFAST divisor of a step at natural index n,
// step * aanScale14[n] * 8 * 2^ifastFracBits / 2^14 (the DCT's gain of 8, the
// samples' fraction bits, the scale's 14 bits), rounded.
func ifastDivisor(step uint8, n uint8) uint32 {
	const sh = 14 - 3 - ifastFracBits
	return (uint32(step)*uint32(aanScale14[n]) + 1<<(sh-1)) >> sh
}

// newFastQuant returns table t (zig-zag order) in the fast path's form. t must
// pass fastQuantOK, so that each of the three factors fits its 16 bits.
func newFastQuant(t *[blockSize]uint8) (q fastQuant) {
	for k, n := range unzig {
		d := ifastDivisor(t[k], n)
		recip, corr, scale := reciprocalOf(d)
		p := transpose(n)
		q.recip[p], q.corr[p], q.scale[p] = recip, corr, scale
		q.half[p], q.magic[p] = divMagic(d)
	}
	return q
}

// reciprocalOf is compute_reciprocal (jcdctmgr.c) for a divisor d >= 3: with
// b = floor(log2 d) and r = 16+b, recip is 2^r/d rounded to nearest (halved, with
// r one less, for a power of two, whose exact reciprocal needs 17 bits), corr
// is d/2 plus one when the rounding went down, and scale 2^(32-r) does the shift
// by r-16 as a multiply-high.
func reciprocalOf(d uint32) (recip, corr, scale uint16) {
	b := 0
	for d>>(b+1) != 0 {
		b++
	}
	r := 16 + b
	fq, fr := uint32(1)<<r/d, uint32(1)<<r%d
	c := d / 2
	switch {
	case fr == 0:
		fq >>= 1
		r--
	case fr <= d/2:
		c++
	default:
		fq++
	}
	return uint16(fq), uint16(c), uint16(1 << (32 - r))
}

// quantFast is jquanti's quantiser on one coefficient in 16-bit lane
// arithmetic, what the kernels compute: absolute value, plus the correction, two
// multiply-highs, the sign put back (zero stays zero). It is quantDiv for every
// coefficient (TestFastQuantDividesExactly).
func quantFast(x int16, recip, corr, scale uint16) int16 {
	m := x >> 15 // all ones where x < 0: no branch on the sign, which is random
	a := uint16((x^m)-m) + corr
	a = uint16(uint32(a) * uint32(recip) >> 16)
	a = uint16(uint32(a) * uint32(scale) >> 16)
	q := (int16(a) ^ m) - m
	if x == 0 {
		q = 0
	}
	return q
}

// divMagic returns quantDiv's form of divisor d: half of it, and 2^32/d rounded
// up.
func divMagic(d uint32) (half, magic uint32) {
	return d / 2, uint32((1<<32 + uint64(d) - 1) / uint64(d))
}

// quantDiv divides x by the divisor half and magic stand for, rounding half away
// from zero, with one multiply.
func quantDiv(x int32, half, magic uint32) int16 {
	m := x >> 31 // all ones where x < 0
	q := int32(uint64(uint32((x^m)-m)+half) * uint64(magic) >> 32)
	return int16((q ^ m) - m)
}

// ifastDCT is fdctQuantFastGeneric's transform of the 8x8 samples at src (rows
// stride bytes apart), by position in coefs; every value fits an int16. Columns
// are transformed first (in the kernels each vector of eight lanes is a row of
// samples, so the first pass needs no transpose), then rows, which leaves whole
// columns of coefficients, coefs' order.
func ifastDCT(src []byte, stride int) (out [blockSize]int32) {
	_ = src[7*stride+7] // one check for the whole block
	var r [8]*[8]byte
	for y := range r {
		r[y] = (*[8]byte)(src[y*stride : y*stride+8])
	}
	var w [blockSize]int32 // w[v*8+x]: vertical frequency v of column x
	for x := 0; x < 8; x++ {
		const f = ifastFracBits
		o0, o1, o2, o3, o4, o5, o6, o7 := ifast1D(
			int32(r[0][x])<<f, int32(r[1][x])<<f, int32(r[2][x])<<f, int32(r[3][x])<<f,
			int32(r[4][x])<<f, int32(r[5][x])<<f, int32(r[6][x])<<f, int32(r[7][x])<<f)
		// The level shift only moves each column's DC: one subtraction.
		w[x], w[8+x], w[16+x], w[24+x] = o0-ifastColumnBias, o1, o2, o3
		w[32+x], w[40+x], w[48+x], w[56+x] = o4, o5, o6, o7
	}
	for v := 0; v < 8; v++ {
		b := (*[8]int32)(w[v*8:])
		o0, o1, o2, o3, o4, o5, o6, o7 := ifast1D(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7])
		out[v], out[8+v], out[16+v], out[24+v] = o0, o1, o2, o3
		out[32+v], out[40+v], out[48+v], out[56+v] = o4, o5, o6, o7
	}
	return out
}

// fdctQuantFastGeneric transforms the 8x8 samples at src (rows stride bytes apart)
// with the fast DCT (ifastDCT), quantises them with fq into out and returns the
// zig-zag-order mask of the non-zero coefficients; only src[:7*stride+8] is read.
//
// It is the reference for the SIMD kernels (fdctfast_*.s), which must match it bit
// for bit, and the code every machine without them runs.
func fdctQuantFastGeneric(out *coefs, src []byte, stride int, fq *fastQuant) uint64 {
	dct := ifastDCT(src, stride)
	var pos uint64 // non-zero mask by position
	for p := range dct {
		q := quantDiv(dct[p], fq.half[p], fq.magic[p])
		out[p] = q
		pos |= uint64(uint16(q)|-uint16(q)) >> 15 << p
	}
	return zigOfPos(pos)
}
