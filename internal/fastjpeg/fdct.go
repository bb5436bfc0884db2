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

// transpose maps a natural index (row-major, v*8+u for vertical frequency v and
// horizontal u) to the column-major position u*8+v the DCT writes coefficients in.
func transpose(n uint8) uint8 { return n&7<<3 | n>>3 }

// coefs holds a block's quantised coefficients column by column (see transpose),
// so that the DCT's last pass produces whole columns. The SIMD kernels store
// them as the little-endian int16s this array is on amd64 and arm64; the
// entropy coder loads each one directly.
type coefs [blockSize]int16

// at returns the coefficient at position p.
func (c *coefs) at(p uint8) int32 { return int32(c[p&63]) }

// coefOf maps a zig-zag index to its position in coefs.
var coefOf = func() (t [blockSize]uint8) {
	for k, n := range unzig {
		t[k] = transpose(n)
	}
	return t
}()

// zigMask[i][b] is the zig-zag-order mask of the coefficients whose bits are set
// in byte b of column i's position mask, so a position mask becomes a zig-zag one
// in eight lookups.
var zigMask = func() (t [8][256]uint64) {
	for i := range t {
		for b := range t[i] {
			for j := 0; j < 8; j++ {
				if b&(1<<j) != 0 {
					t[i][b] |= 1 << zigOf[transpose(uint8(i*8+j))]
				}
			}
		}
	}
	return t
}()

// nonZero4 returns a 4-bit mask of the non-zero int16 lanes of w.
func nonZero4(w uint64) uint64 {
	const low15, high = 0x7fff7fff7fff7fff, 0x8000800080008000
	t := ((w&low15 + low15) | w) & high
	// The lanes' top bits sit at 15, 31, 47, 63; the multiply gathers them at 45..48.
	return (t >> 15) * (1 | 1<<15 | 1<<30 | 1<<45) >> 45 & 15
}

// fdctQuantGeneric transforms the 8x8 samples at src (rows stride bytes apart), quantises
// them with rq (reciprocals by position, see encQuant) into out, and returns the
// zig-zag-order mask of the non-zero coefficients. Only src[:7*stride+8] is read.
// Rows are transformed first, each row's eight loads coming from one slice, and
// written transposed, so that the column pass produces whole columns of
// coefficients, which it packs and tests for zeros a word at a time.
//
// It is the reference for the SIMD kernels (kernels_*.s), which must match it bit
// for bit, and the code every machine without them runs.
func fdctQuantGeneric(out *coefs, tmp *[blockSize]int32, src []byte, stride int, rq *encQuant) uint64 {
	_ = src[7*stride+7] // one check for the whole block
	for y, o := 0, 0; y < 8; y, o = y+1, o+stride {
		s := (*[8]byte)(src[o : o+8])
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
		d := tmp[y : 57+y : 57+y] // d[8*u] is this row's output u
		d[0] = int32(t10 + t11 - fdctRowBias)
		d[32] = int32(t10 - t11)
		z1 := fmul(t12+t13, fix0_707106781)
		d[16] = int32(t13 + z1)
		d[48] = int32(t13 - z1)

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
		d[40] = int32(z13 + z2)
		d[24] = int32(z13 - z2)
		d[8] = int32(z11 + z4)
		d[56] = int32(z11 - z4)
	}
	var pos uint64 // non-zero mask by position
	for u := 0; u < 8; u++ {
		b := (*[8]int32)(tmp[u*8:])
		r := (*[8]int64)(rq[u*8:])
		b0, b1, b2, b3 := int64(b[0]), int64(b[1]), int64(b[2]), int64(b[3])
		b4, b5, b6, b7 := int64(b[4]), int64(b[5]), int64(b[6]), int64(b[7])
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
		o0 := t10 + t11
		o4 := t10 - t11
		z1 := fmul(t12+t13, fix0_707106781)
		o2 := t13 + z1
		o6 := t13 - z1

		t10 = t4 + t5
		t11 = t5 + t6
		t12 = t6 + t7
		z5 := fmul(t10-t12, fix0_382683433)
		z2 := fmul(t10, fix0_541196100) + z5
		z4 := fmul(t12, fix1_306562965) + z5
		z3 := fmul(t11, fix0_707106781)
		z11 := t7 + z3
		z13 := t7 - z3
		o5 := z13 + z2
		o3 := z13 - z2
		o1 := z11 + z4
		o7 := z11 - z4

		w0 := quant(o0, r[0]) | quant(o1, r[1])<<16 | quant(o2, r[2])<<32 | quant(o3, r[3])<<48
		w1 := quant(o4, r[4]) | quant(o5, r[5])<<16 | quant(o6, r[6])<<32 | quant(o7, r[7])<<48
		c := (*[8]int16)(out[u*8:])
		for i := range 4 {
			c[i], c[4+i] = int16(w0>>(16*i)), int16(w1>>(16*i))
		}
		pos |= (nonZero4(w0) | nonZero4(w1)<<4) << (8 * u)
	}
	return zigOfPos(pos)
}

// zigOfPos turns a mask of non-zero coefficients by position in coefs (bit u*8+v)
// into the same mask in zig-zag order.
func zigOfPos(pos uint64) uint64 {
	var zz uint64
	for i := 0; i < 8; i++ {
		zz |= zigMask[i][uint8(pos>>(8*i))]
	}
	return zz
}

// quant divides c by its quantiser step, rounding half up, by a multiply with the
// reciprocal and a shift, and returns the result as an int16 lane.
func quant(c, r int64) uint64 {
	return uint64(uint16((c*r + 1<<(reciprocalBits-1)) >> reciprocalBits))
}
