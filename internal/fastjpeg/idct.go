package fastjpeg

import "math"

// The inverse DCT is the AAN algorithm as in the IJG's jidctfst.c, computed in
// 64-bit fixed point with 20-bit constants (jidctfst uses 8) so its output matches
// an exact IDCT to within rounding. The dequantiser's multipliers carry the AAN
// scale factors and dqBits fraction bits.
const (
	idctBits = 20
	dqBits   = 8

	fix1_082392200 = 1134970 // 1.082392200 << idctBits
	fix1_414213562 = 1482910
	fix1_847759065 = 1937516
	fix2_613125930 = 2740061
)

func imul(a, c int64) int64 { return (a*c + 1<<(idctBits-1)) >> idctBits }

// idctGeneric inverse-transforms the dequantised coefficients in blk (natural order,
// clobbered) and writes 8x8 samples, level-shifted and clamped to 0..255, to dst
// with rows stride bytes apart. Only dst[:7*stride+8] is written. It is the
// reference for the SIMD kernels (kernels_*.s) and the code every machine without
// them runs.
func idctGeneric(blk *[blockSize]int32, dst []byte, stride int) {
	for x := 0; x < 8; x++ {
		if blk[8+x]|blk[16+x]|blk[24+x]|blk[32+x]|blk[40+x]|blk[48+x]|blk[56+x] == 0 {
			// A column of DC only is flat: common in smooth areas.
			dc := blk[x]
			blk[8+x], blk[16+x], blk[24+x], blk[32+x], blk[40+x], blk[48+x], blk[56+x] = dc, dc, dc, dc, dc, dc, dc
			continue
		}
		t0, t1, t2, t3 := int64(blk[x]), int64(blk[16+x]), int64(blk[32+x]), int64(blk[48+x])
		t10 := t0 + t2
		t11 := t0 - t2
		t13 := t1 + t3
		t12 := imul(t1-t3, fix1_414213562) - t13
		t0 = t10 + t13
		t3 = t10 - t13
		t1 = t11 + t12
		t2 = t11 - t12

		t4, t5, t6, t7 := int64(blk[8+x]), int64(blk[24+x]), int64(blk[40+x]), int64(blk[56+x])
		z13 := t6 + t5
		z10 := t6 - t5
		z11 := t4 + t7
		z12 := t4 - t7
		t7 = z11 + z13
		t11 = imul(z11-z13, fix1_414213562)
		z5 := imul(z10+z12, fix1_847759065)
		t10 = imul(z12, fix1_082392200) - z5
		t12 = z5 - imul(z10, fix2_613125930)
		t6 = t12 - t7
		t5 = t11 - t6
		t4 = t10 + t5

		blk[x] = int32(t0 + t7)
		blk[56+x] = int32(t0 - t7)
		blk[8+x] = int32(t1 + t6)
		blk[48+x] = int32(t1 - t6)
		blk[16+x] = int32(t2 + t5)
		blk[40+x] = int32(t2 - t5)
		blk[32+x] = int32(t3 + t4)
		blk[24+x] = int32(t3 - t4)
	}
	for y := 0; y < 8; y++ {
		b := blk[y*8 : y*8+8 : y*8+8]
		d := dst[y*stride:]
		d = d[:8]
		t0, t1, t2, t3 := int64(b[0]), int64(b[2]), int64(b[4]), int64(b[6])
		t10 := t0 + t2
		t11 := t0 - t2
		t13 := t1 + t3
		t12 := imul(t1-t3, fix1_414213562) - t13
		t0 = t10 + t13
		t3 = t10 - t13
		t1 = t11 + t12
		t2 = t11 - t12

		t4, t5, t6, t7 := int64(b[1]), int64(b[3]), int64(b[5]), int64(b[7])
		z13 := t6 + t5
		z10 := t6 - t5
		z11 := t4 + t7
		z12 := t4 - t7
		t7 = z11 + z13
		t11 = imul(z11-z13, fix1_414213562)
		z5 := imul(z10+z12, fix1_847759065)
		t10 = imul(z12, fix1_082392200) - z5
		t12 = z5 - imul(z10, fix2_613125930)
		t6 = t12 - t7
		t5 = t11 - t6
		t4 = t10 + t5

		d[0] = pixel(t0 + t7)
		d[7] = pixel(t0 - t7)
		d[1] = pixel(t1 + t6)
		d[6] = pixel(t1 - t6)
		d[2] = pixel(t2 + t5)
		d[5] = pixel(t2 - t5)
		d[4] = pixel(t3 + t4)
		d[3] = pixel(t3 - t4)
	}
}

// pixelBias rounds and undoes the level shift (+128) in one addition.
const pixelBias = 1<<(dqBits+3-1) + 128<<(dqBits+3)

// pixel descales an IDCT output (8 << dqBits times the sample) and clamps it.
func pixel(v int64) byte {
	v = (v + pixelBias) >> (dqBits + 3)
	return byte(min(max(v, 0), 255))
}

// The fast inverse DCT is libjpeg's JDCT_IFAST method (jidctfst.c, and the SIMD
// versions libjpeg-turbo and GStreamer's jpegdec run): the same AAN flow graph in
// 16-bit lanes, so a SIMD register holds a whole row. Its input carries
// ifastBits fraction bits (the dequantiser's multipliers hold the AAN scales
// times 1<<ifastBits: libjpeg's IFAST_SCALE_BITS and PASS1_BITS), saturated to
// int16; sums wrap as 16-bit lanes do. Where jidctfst multiplies by 8-bit
// constants, this one multiplies by the constant's fraction in 15 bits with a
// rounding multiply-high (x86 PMULHRSW, ARM SQRDMULH: (x*k + 1<<14) >> 15), which
// costs the same and is both more accurate and identical on both instruction
// sets; a constant above 1 adds x once or twice. The DC carries the rounding of
// the final descale and the level shift (ifastBias), so the output is one
// arithmetic shift and an unsigned saturation.
const (
	ifastBits = 2 // fraction bits of the dequantised input
	// ifastShift descales the output: 3 bits for the 2-D IDCT's factor 8, and
	// ifastBits.
	ifastShift = ifastBits + 3
	// ifastBias is the level shift (+128) and the rounding of the final shift, added
	// to the DC, which reaches every output once and through no multiplication.
	ifastBias = 128<<ifastShift + 1<<(ifastShift-1)

	// 15-bit fractions of the AAN constants (each round(f * 1<<15)).
	ifast0_414213562 = 13573 // 1.414213562 - 1
	ifast0_847759065 = 27779 // 1.847759065 - 1
	ifast0_082392200 = 2700  // 1.082392200 - 1
	ifast0_613125930 = 20091 // 2.613125930 - 2
)

// mulr is the rounding multiply-high of the fast IDCT: x, wrapped to int16 as a
// 16-bit lane holds it, times k/2^15, rounded half up, as PMULHRSW and SQRDMULH
// compute it (k is positive, so neither saturates).
func mulr(x, k int32) int32 { return (int32(int16(x))*k + 1<<14) >> 15 }

// sat16 saturates v to int16, as PACKSSDW, SQXTN and PADDSW do.
func sat16(v int32) int16 { return int16(min(max(v, -1<<15), 1<<15-1)) }

// ifastPass is one 1-D pass of the fast IDCT over the eight values x0..x7 (a
// row or a column). Its sums wrap at 16 bits: they are formed in 32 bits here,
// which leaves the same low 16 bits, and wrapped where a 16-bit lane's value
// matters, the inputs of mulr and the outputs.
func ifastPass(x0, x1, x2, x3, x4, x5, x6, x7 int32) (o0, o1, o2, o3, o4, o5, o6, o7 int16) {
	// Even part.
	tmp10 := x0 + x4
	tmp11 := x0 - x4
	tmp13 := x2 + x6
	d := x2 - x6
	tmp12 := d + mulr(d, ifast0_414213562) - tmp13 // (x2-x6)*1.414 - tmp13
	tmp0 := tmp10 + tmp13
	tmp3 := tmp10 - tmp13
	tmp1 := tmp11 + tmp12
	tmp2 := tmp11 - tmp12

	// Odd part.
	z13 := x5 + x3
	z10 := x5 - x3
	z11 := x1 + x7
	z12 := x1 - x7
	tmp7 := z11 + z13
	e := z11 - z13
	tmp11 = e + mulr(e, ifast0_414213562) // (z11-z13)*1.414
	s := z10 + z12
	z5 := s + mulr(s, ifast0_847759065)                  // (z10+z12)*1.848
	tmp10 = z12 + mulr(z12, ifast0_082392200) - z5       // z12*1.082 - z5
	tmp12 = z5 - z10 - z10 - mulr(z10, ifast0_613125930) // z5 - z10*2.613
	tmp6 := tmp12 - tmp7
	tmp5 := tmp11 - tmp6
	tmp4 := tmp10 + tmp5

	return int16(tmp0 + tmp7), int16(tmp1 + tmp6), int16(tmp2 + tmp5), int16(tmp3 - tmp4),
		int16(tmp3 + tmp4), int16(tmp2 - tmp5), int16(tmp1 - tmp6), int16(tmp0 - tmp7)
}

// idctFastGeneric inverse-transforms blk, dequantised with a fast decQuant
// (ifastBits fraction bits), by the fast method above and writes 8x8 samples to
// dst with rows stride bytes apart; only dst[:7*stride+8] is written and blk is
// left as it was. It is the reference for the SIMD kernels (idctfast_*.s), which
// match it bit for bit for every input, and what other machines run.
func idctFastGeneric(blk *[blockSize]int32, dst []byte, stride int) {
	var w [blockSize]int16
	for i, v := range blk {
		w[i] = sat16(v)
	}
	w[0] = sat16(int32(w[0]) + ifastBias)
	for x := 0; x < 8; x++ {
		c := w[x:]
		c = c[:57]
		if c[8]|c[16]|c[24]|c[32]|c[40]|c[48]|c[56] == 0 {
			// The pass passes a lone DC through unchanged: common, and cheap here.
			c[8], c[16], c[24], c[32], c[40], c[48], c[56] = c[0], c[0], c[0], c[0], c[0], c[0], c[0]
			continue
		}
		c[0], c[8], c[16], c[24], c[32], c[40], c[48], c[56] = ifastPass(int32(c[0]), int32(c[8]), int32(c[16]), int32(c[24]), int32(c[32]), int32(c[40]), int32(c[48]), int32(c[56]))
	}
	for y := 0; y < 8; y++ {
		r := w[y*8 : y*8+8 : y*8+8]
		d := dst[y*stride:]
		d = d[:8]
		if r[1]|r[2]|r[3]|r[4]|r[5]|r[6]|r[7] == 0 {
			v := ifastPixel(r[0])
			d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = v, v, v, v, v, v, v, v
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := ifastPass(int32(r[0]), int32(r[1]), int32(r[2]), int32(r[3]), int32(r[4]), int32(r[5]), int32(r[6]), int32(r[7]))
		d[0], d[1], d[2], d[3] = ifastPixel(o0), ifastPixel(o1), ifastPixel(o2), ifastPixel(o3)
		d[4], d[5], d[6], d[7] = ifastPixel(o4), ifastPixel(o5), ifastPixel(o6), ifastPixel(o7)
	}
}

// ifastPixel descales one output of the fast IDCT (bias included) to a sample.
func ifastPixel(v int16) byte { return byte(min(max(v>>ifastShift, 0), 255)) }

// ifastFlat is the sample of every pixel of a block whose only non-zero
// coefficient is the DC, dequantised to dc, as idctFastGeneric computes it: both
// passes pass the biased DC through unchanged.
func ifastFlat(dc int32) byte { return ifastPixel(sat16(int32(sat16(dc)) + ifastBias)) }

// A decQuant's element dqPath names the inverse DCT its blocks take.
const (
	dqPath    = blockSize
	pathExact = 0 // idct: 64-bit products, dqBits fraction bits
	pathFast  = 1 // idctFast: JDCT_IFAST, ifastBits fraction bits
)

// ifastMinStep is the smallest quantisation step of a table whose blocks take the
// fast IDCT: measured in docs/JPEG.md ("Fast inverse DCT").
const ifastMinStep = 5

// maxFastDecQuant bounds a fast multiplier: any non-zero coefficient times it
// saturates the kernel's 16-bit input anyway, and a coefficient of up to 16 bits
// times it stays within int32.
const maxFastDecQuant = 1 << 15

// decQuantOf builds the dequantiser of a table of steps in zig-zag order (8 or 16
// bits), choosing its inverse DCT: the fast one where every step is at least
// ifastMinStep, the exact one otherwise.
func decQuantOf(steps *[blockSize]uint16) (q decQuant) {
	fast := true
	for _, v := range steps {
		fast = fast && v >= ifastMinStep
	}
	return decQuantPath(steps, fast)
}

// decQuantPath is decQuantOf with the inverse DCT chosen by the caller.
func decQuantPath(steps *[blockSize]uint16, fast bool) (q decQuant) {
	bits, limit := float64(1<<dqBits), float64(maxDecQuant)
	if fast {
		bits, limit = 1<<ifastBits, maxFastDecQuant
		q[dqPath] = pathFast
	}
	for k, n := range unzig {
		q[k] = int32(min(math.Round(float64(steps[k])*aanScale[n>>3]*aanScale[n&7]*bits), limit))
	}
	return q
}
