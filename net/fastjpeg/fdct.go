package fastjpeg

// The forward DCT is the AAN algorithm (Arai, Agui, Nakajima 1988, as in the IJG's
// jfdctfst.c): 5 multiplies per 1-D transform, its output scales folded into the
// quantiser's reciprocals. Unlike jfdctfst it computes in 64-bit fixed point with
// 20-bit constants and 8 fraction bits, so at quality 100 (step 1) it is as exact
// as image/jpeg's DCT; 64-bit integer arithmetic costs the same as 32-bit on the
// machines HRVS runs on (amd64, arm64).
const (
	fdctBits  = 20 // fraction bits of the multiplier constants
	fdctShift = 8  // fraction bits the samples carry through both passes

	fix0_382683433 = 401273  // cos(6pi/16) << fdctBits
	fix0_541196100 = 567485  // sqrt(2)*cos(6pi/16)
	fix0_707106781 = 741455  // cos(4pi/16)
	fix1_306562965 = 1370031 // sqrt(2)*cos(2pi/16)

	// fdctRowBias is the level shift of a row of 8 samples by 128 as it shows in
	// the row's DC output.
	fdctRowBias = 128 * 8 << fdctShift
)

// fmul multiplies by a fdctBits constant, rounding.
func fmul(a, c int64) int64 { return (a*c + 1<<(fdctBits-1)) >> fdctBits }

// zigOf maps a natural index to its zig-zag index, the inverse of unzig.
var zigOf = func() (z [blockSize]uint8) {
	for k, n := range unzig {
		z[n] = uint8(k)
	}
	return z
}()

// fdctQuant transforms the 8x8 samples at src (rows stride bytes apart), quantises
// them with rq (reciprocals in natural order, see encQuant) and stores the result in
// zig-zag order in zz. It returns a bit mask of the non-zero AC coefficients by
// zig-zag index (bit 0, DC, is always clear). Only src[:7*stride+8] is read.
func fdctQuant(zz *[blockSize]int32, tmp *[blockSize]int32, src []byte, stride int, rq *encQuant) uint64 {
	for y := 0; y < 8; y++ {
		s := src[y*stride:]
		s = s[:8]
		d := tmp[y*8 : y*8+8 : y*8+8]
		t0 := int64(s[0]) + int64(s[7])
		t7 := int64(s[0]) - int64(s[7])
		t1 := int64(s[1]) + int64(s[6])
		t6 := int64(s[1]) - int64(s[6])
		t2 := int64(s[2]) + int64(s[5])
		t5 := int64(s[2]) - int64(s[5])
		t3 := int64(s[3]) + int64(s[4])
		t4 := int64(s[3]) - int64(s[4])

		// Even part. The level shift of ITU T.81 §A.3.1 (subtract 128 from every
		// sample) only moves each row's DC, so it is one subtraction here.
		t10 := (t0 + t3) << fdctShift
		t13 := (t0 - t3) << fdctShift
		t11 := (t1 + t2) << fdctShift
		t12 := (t1 - t2) << fdctShift
		d[0] = int32(t10 + t11 - fdctRowBias)
		d[4] = int32(t10 - t11)
		z1 := fmul(t12+t13, fix0_707106781)
		d[2] = int32(t13 + z1)
		d[6] = int32(t13 - z1)

		// Odd part.
		t4 <<= fdctShift
		t5 <<= fdctShift
		t6 <<= fdctShift
		t7 <<= fdctShift
		t10 = t4 + t5
		t11 = t5 + t6
		t12 = t6 + t7
		z5 := fmul(t10-t12, fix0_382683433)
		z2 := fmul(t10, fix0_541196100) + z5
		z4 := fmul(t12, fix1_306562965) + z5
		z3 := fmul(t11, fix0_707106781)
		z11 := t7 + z3
		z13 := t7 - z3
		d[5] = int32(z13 + z2)
		d[3] = int32(z13 - z2)
		d[1] = int32(z11 + z4)
		d[7] = int32(z11 - z4)
	}
	var nz uint64
	// put quantises output n: c/step rounded half up, by a multiply and a shift.
	put := func(n int, c int64) {
		q := int32((c*rq[n] + 1<<(reciprocalBits-1)) >> reciprocalBits)
		z := zigOf[n] & 63
		zz[z] = q
		nz |= uint64(uint32(q|-q)>>31) << z
	}
	for x := 0; x < 8; x++ {
		b0, b1, b2, b3 := int64(tmp[x]), int64(tmp[8+x]), int64(tmp[16+x]), int64(tmp[24+x])
		b4, b5, b6, b7 := int64(tmp[32+x]), int64(tmp[40+x]), int64(tmp[48+x]), int64(tmp[56+x])
		t0 := b0 + b7
		t7 := b0 - b7
		t1 := b1 + b6
		t6 := b1 - b6
		t2 := b2 + b5
		t5 := b2 - b5
		t3 := b3 + b4
		t4 := b3 - b4

		t10 := t0 + t3
		t13 := t0 - t3
		t11 := t1 + t2
		t12 := t1 - t2
		put(x, t10+t11)
		put(32+x, t10-t11)
		z1 := fmul(t12+t13, fix0_707106781)
		put(16+x, t13+z1)
		put(48+x, t13-z1)

		t10 = t4 + t5
		t11 = t5 + t6
		t12 = t6 + t7
		z5 := fmul(t10-t12, fix0_382683433)
		z2 := fmul(t10, fix0_541196100) + z5
		z4 := fmul(t12, fix1_306562965) + z5
		z3 := fmul(t11, fix0_707106781)
		z11 := t7 + z3
		z13 := t7 - z3
		put(40+x, z13+z2)
		put(24+x, z13-z2)
		put(8+x, z11+z4)
		put(56+x, z11-z4)
	}
	return nz &^ 1
}
