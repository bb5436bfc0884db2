package fastjpeg

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
