//go:build arm64 && !purego

#include "textflag.h"

// NEON versions of fdctQuantGeneric (fdct.go) and idctGeneric (idct.go), the same
// integer arithmetic in the same order, four rows or columns at a time in the
// 32-bit lanes of a V register, so their results are bit-exact (kernels_test.go).
// The 64-bit products the reference forms come from SMULL/SMULL2; the rounded,
// descaled results are gathered back with UZP1 (a logical shift leaves the same
// low 32 bits as the reference's arithmetic one). 8x8 matrices are transposed by
// storing four vectors interleaved (ST4) to the scratch block and loading them
// back. Go's assembler lacks a few NEON instructions; they are encoded as WORDs
// below (registers by number).

// SMULL Vd.2D, Vn.2S, Vm.2S and SMULL2 Vd.2D, Vn.4S, Vm.4S.
#define VSMULL_(d, n, m) WORD $(0x0ea0c000 | ((m)<<16) | ((n)<<5) | (d))
#define VSMULL2_(d, n, m) WORD $(0x4ea0c000 | ((m)<<16) | ((n)<<5) | (d))
// SQSHRN Vd.4H, Vn.4S, #11 and SQSHRN2 Vd.8H, Vn.4S, #11: arithmetic shift by
// dqBits+3, saturated to int16.
#define VSQSHRN11_(d, n) WORD $(0x0f159400 | ((n)<<5) | (d))
#define VSQSHRN211_(d, n) WORD $(0x4f159400 | ((n)<<5) | (d))
// SQXTUN Vd.8B, Vn.8H: int16 saturated to uint8.
#define VSQXTUN_(d, n) WORD $(0x2e212800 | ((n)<<5) | (d))

// halfword bit weights, to turn a lane mask into a byte.
DATA weights<>+0(SB)/8, $0x0008000400020001
DATA weights<>+8(SB)/8, $0x0080004000200010
GLOBL weights<>(SB), RODATA|NOPTR, $16

// FMUL sets dst (.S4) to (a*c + 1<<19) >> 20 in each lane, a and c given by
// register number, the product in 64 bits; V31 holds the rounding (.D2), V24
// and V25 are clobbered. dst may be a.
#define FMUL(aN, cN, dst) \
	VSMULL_(24, aN, cN)            \
	VSMULL2_(25, aN, cN)           \
	VADD  V31.D2, V24.D2, V24.D2   \
	VADD  V31.D2, V25.D2, V25.D2   \
	VUSHR $20, V24.D2, V24.D2      \
	VUSHR $20, V25.D2, V25.D2      \
	VUZP1 V25.S4, V24.S4, dst

// FDCT_PASS is one 1-D AAN pass of fdctQuantGeneric on four vectors' lanes:
// inputs s0..s7 in i0..i7, outputs 0..7 in V16..V23. V0..V7 are clobbered; V26..V29
// hold fix0_707106781, fix0_382683433, fix0_541196100, fix1_306562965.
#define FDCT_PASS(i0, i1, i2, i3, i4, i5, i6, i7) \
	VADD i7.S4, i0.S4, V16.S4    \ /* t0 */
	VSUB i7.S4, i0.S4, V23.S4    \ /* t7 */
	VADD i6.S4, i1.S4, V17.S4    \ /* t1 */
	VSUB i6.S4, i1.S4, V22.S4    \ /* t6 */
	VADD i5.S4, i2.S4, V18.S4    \ /* t2 */
	VSUB i5.S4, i2.S4, V21.S4    \ /* t5 */
	VADD i4.S4, i3.S4, V19.S4    \ /* t3 */
	VSUB i4.S4, i3.S4, V20.S4    \ /* t4 */
	VADD V19.S4, V16.S4, V0.S4   \ /* t10 */
	VSUB V19.S4, V16.S4, V1.S4   \ /* t13 */
	VADD V18.S4, V17.S4, V2.S4   \ /* t11 */
	VSUB V18.S4, V17.S4, V3.S4   \ /* t12 */
	VADD V2.S4, V0.S4, V16.S4    \ /* out 0 */
	VSUB V2.S4, V0.S4, V4.S4     \ /* out 4, parked */
	VADD V1.S4, V3.S4, V3.S4     \
	FMUL(3, 26, V3.S4)           \ /* z1 */
	VADD V3.S4, V1.S4, V18.S4    \ /* out 2 */
	VSUB V3.S4, V1.S4, V6.S4     \ /* out 6, parked */
	VADD V21.S4, V20.S4, V0.S4   \ /* t10 = t4 + t5 */
	VADD V22.S4, V21.S4, V1.S4   \ /* t11 = t5 + t6 */
	VADD V23.S4, V22.S4, V2.S4   \ /* t12 = t6 + t7 */
	VSUB V2.S4, V0.S4, V3.S4     \
	FMUL(3, 27, V3.S4)           \ /* z5 */
	FMUL(0, 28, V0.S4)           \
	VADD V3.S4, V0.S4, V0.S4     \ /* z2 */
	FMUL(2, 29, V2.S4)           \
	VADD V3.S4, V2.S4, V2.S4     \ /* z4 */
	FMUL(1, 26, V1.S4)           \ /* z3 */
	VADD V1.S4, V23.S4, V5.S4    \ /* z11 */
	VSUB V1.S4, V23.S4, V7.S4    \ /* z13 */
	VADD V0.S4, V7.S4, V21.S4    \ /* out 5 */
	VSUB V0.S4, V7.S4, V19.S4    \ /* out 3 */
	VADD V2.S4, V5.S4, V17.S4    \ /* out 1 */
	VSUB V2.S4, V5.S4, V23.S4    \ /* out 7 */
	VMOV V4.B16, V20.B16         \
	VMOV V6.B16, V22.B16

// QUANT quantises column u, coefficients v0..v3 in register lo and v4..v7 in hi
// (numbers), with the next eight int64 reciprocals at R4, as quant does; stores
// the eight int16 at R0 (both advance) and ORs the column's zero mask into R7 at
// bit sh. V30 holds the rounding (.D2), V26 zero, V27 the bit weights.
#define QUANT(lo, hi, sh) \
	VLD1.P 64(R4), [V16.D2, V17.D2, V18.D2, V19.D2] \
	VUZP1  V17.S4, V16.S4, V20.S4 \
	VUZP1  V19.S4, V18.S4, V21.S4 \
	VSMULL_(22, lo, 20)           \
	VSMULL2_(23, lo, 20)          \
	VSMULL_(24, hi, 21)           \
	VSMULL2_(25, hi, 21)          \
	VADD   V30.D2, V22.D2, V22.D2 \
	VADD   V30.D2, V23.D2, V23.D2 \
	VADD   V30.D2, V24.D2, V24.D2 \
	VADD   V30.D2, V25.D2, V25.D2 \
	VUSHR  $31, V22.D2, V22.D2    \
	VUSHR  $31, V23.D2, V23.D2    \
	VUSHR  $31, V24.D2, V24.D2    \
	VUSHR  $31, V25.D2, V25.D2    \
	VUZP1  V23.S4, V22.S4, V22.S4 \
	VUZP1  V25.S4, V24.S4, V24.S4 \
	VUZP1  V24.H8, V22.H8, V22.H8 \
	VST1.P [V22.H8], 16(R0)       \
	VCMEQ  V26.H8, V22.H8, V23.H8 \
	VAND   V27.B16, V23.B16, V23.B16 \
	VADDV  V23.H8, V23            \
	VMOV   V23.H[0], R6           \
	ORR    R6<<sh, R7, R7

// func fdctQuantNEON(out *coefs, tmp *[blockSize]int32, src *byte, stride int, rq *encQuant) uint64
TEXT ·fdctQuantNEON(SB), NOSPLIT, $0-48
	MOVD out+0(FP), R0
	MOVD tmp+8(FP), R1
	MOVD src+16(FP), R2
	MOVD stride+24(FP), R3
	MOVD rq+32(FP), R4

	VLD1.P (R2)(R3), [V0.B8]
	VLD1.P (R2)(R3), [V1.B8]
	VLD1.P (R2)(R3), [V2.B8]
	VLD1.P (R2)(R3), [V3.B8]
	VLD1.P (R2)(R3), [V4.B8]
	VLD1.P (R2)(R3), [V5.B8]
	VLD1.P (R2)(R3), [V6.B8]
	VLD1   (R2), [V7.B8]

	// (s-128) << fdctShift in 32 bits: row y's samples 0..3 in V16+y, 4..7 in
	// V24+y. The level shift applied to every sample gives the reference's
	// sums exactly (it subtracts fdctRowBias from output 0).
	VUXTL  V0.B8, V0.H8
	VSHL   $8, V0.H8, V0.H8
	VUXTL  V1.B8, V1.H8
	VSHL   $8, V1.H8, V1.H8
	VUXTL  V2.B8, V2.H8
	VSHL   $8, V2.H8, V2.H8
	VUXTL  V3.B8, V3.H8
	VSHL   $8, V3.H8, V3.H8
	VUXTL  V4.B8, V4.H8
	VSHL   $8, V4.H8, V4.H8
	VUXTL  V5.B8, V5.H8
	VSHL   $8, V5.H8, V5.H8
	VUXTL  V6.B8, V6.H8
	VSHL   $8, V6.H8, V6.H8
	VUXTL  V7.B8, V7.H8
	VSHL   $8, V7.H8, V7.H8
	VUXTL  V0.H4, V16.S4
	VUXTL2 V0.H8, V24.S4
	VUXTL  V1.H4, V17.S4
	VUXTL2 V1.H8, V25.S4
	VUXTL  V2.H4, V18.S4
	VUXTL2 V2.H8, V26.S4
	VUXTL  V3.H4, V19.S4
	VUXTL2 V3.H8, V27.S4
	VUXTL  V4.H4, V20.S4
	VUXTL2 V4.H8, V28.S4
	VUXTL  V5.H4, V21.S4
	VUXTL2 V5.H8, V29.S4
	VUXTL  V6.H4, V22.S4
	VUXTL2 V6.H8, V30.S4
	VUXTL  V7.H4, V23.S4
	VUXTL2 V7.H8, V31.S4
	MOVD   $32768, R5
	VDUP   R5, V8.S4
	VSUB   V8.S4, V16.S4, V16.S4
	VSUB   V8.S4, V17.S4, V17.S4
	VSUB   V8.S4, V18.S4, V18.S4
	VSUB   V8.S4, V19.S4, V19.S4
	VSUB   V8.S4, V20.S4, V20.S4
	VSUB   V8.S4, V21.S4, V21.S4
	VSUB   V8.S4, V22.S4, V22.S4
	VSUB   V8.S4, V23.S4, V23.S4
	VSUB   V8.S4, V24.S4, V24.S4
	VSUB   V8.S4, V25.S4, V25.S4
	VSUB   V8.S4, V26.S4, V26.S4
	VSUB   V8.S4, V27.S4, V27.S4
	VSUB   V8.S4, V28.S4, V28.S4
	VSUB   V8.S4, V29.S4, V29.S4
	VSUB   V8.S4, V30.S4, V30.S4
	VSUB   V8.S4, V31.S4, V31.S4

	// Transpose: sample j of rows 0..3 to V0+j (j < 4) or V4+j-4, of rows 4..7
	// to V8+j or V12+j-4.
	MOVD    R1, R5
	VST4.P  [V16.S4, V17.S4, V18.S4, V19.S4], 64(R5)
	VST4.P  [V20.S4, V21.S4, V22.S4, V23.S4], 64(R5)
	VST4.P  [V24.S4, V25.S4, V26.S4, V27.S4], 64(R5)
	VST4    [V28.S4, V29.S4, V30.S4, V31.S4], (R5)
	MOVD    R1, R5
	VLD1.P  64(R5), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P  64(R5), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P  64(R5), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1    (R5), [V12.S4, V13.S4, V14.S4, V15.S4]

	MOVD $741455, R5
	VDUP R5, V26.S4
	MOVD $401273, R5
	VDUP R5, V27.S4
	MOVD $567485, R5
	VDUP R5, V28.S4
	MOVD $1370031, R5
	VDUP R5, V29.S4
	MOVD $0x80000, R5
	VDUP R5, V31.D2

	// Row pass, rows 0..3 then 4..7; its outputs (horizontal frequency u by
	// row y) are stored transposed: tmp+0 and tmp+64 hold rows 0..7 of
	// columns u = 0..3, tmp+128 and tmp+192 of u = 4..7.
	FDCT_PASS(V0, V1, V2, V3, V4, V5, V6, V7)
	MOVD R1, R5
	VST4 [V16.S4, V17.S4, V18.S4, V19.S4], (R5)
	ADD  $128, R1, R5
	VST4 [V20.S4, V21.S4, V22.S4, V23.S4], (R5)
	FDCT_PASS(V8, V9, V10, V11, V12, V13, V14, V15)
	ADD  $64, R1, R5
	VST4 [V16.S4, V17.S4, V18.S4, V19.S4], (R5)
	ADD  $192, R1, R5
	VST4 [V20.S4, V21.S4, V22.S4, V23.S4], (R5)

	// Column pass, columns 0..3 then 4..7; outputs stored transposed again:
	// tmp+0 and +64 hold v = 0..3 and 4..7 of columns 0..3, +128 and +192 of 4..7.
	MOVD   R1, R5
	VLD1.P 64(R5), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R5), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R5), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1   (R5), [V12.S4, V13.S4, V14.S4, V15.S4]
	FDCT_PASS(V0, V1, V2, V3, V4, V5, V6, V7)
	MOVD   R1, R5
	VST4.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R5)
	VST4   [V20.S4, V21.S4, V22.S4, V23.S4], (R5)
	FDCT_PASS(V8, V9, V10, V11, V12, V13, V14, V15)
	ADD    $128, R1, R5
	VST4.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R5)
	VST4   [V20.S4, V21.S4, V22.S4, V23.S4], (R5)

	MOVD   R1, R5
	VLD1.P 64(R5), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R5), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R5), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1   (R5), [V12.S4, V13.S4, V14.S4, V15.S4]
	MOVD   $0x40000000, R5
	VDUP   R5, V30.D2
	VEOR   V26.B16, V26.B16, V26.B16
	MOVD   $weights<>(SB), R5
	VLD1   (R5), [V27.H8]
	MOVD   ZR, R7
	QUANT(0, 4, 0)
	QUANT(1, 5, 8)
	QUANT(2, 6, 16)
	QUANT(3, 7, 24)
	QUANT(8, 12, 32)
	QUANT(9, 13, 40)
	QUANT(10, 14, 48)
	QUANT(11, 15, 56)
	MVN  R7, R7
	MOVD R7, ret+40(FP)
	RET

// IDCT_PASS is one 1-D AAN pass of idctGeneric on four vectors' lanes: inputs
// i0..i7, outputs 0..7 in V16..V23; V0..V7 are clobbered; V26..V29 hold
// fix1_414213562, fix1_847759065, fix1_082392200, fix2_613125930.
#define IDCT_PASS(i0, i1, i2, i3, i4, i5, i6, i7) \
	VADD i3.S4, i5.S4, V20.S4    \ /* z13 = t6 + t5 */
	VSUB i3.S4, i5.S4, V21.S4    \ /* z10 = t6 - t5 */
	VADD i7.S4, i1.S4, V22.S4    \ /* z11 = t4 + t7 */
	VSUB i7.S4, i1.S4, V23.S4    \ /* z12 = t4 - t7 */
	VADD i4.S4, i0.S4, V16.S4    \ /* t10 */
	VSUB i4.S4, i0.S4, V17.S4    \ /* t11 */
	VADD i6.S4, i2.S4, V18.S4    \ /* t13 */
	VSUB i6.S4, i2.S4, V19.S4    \
	FMUL(19, 26, V19.S4)         \
	VSUB V18.S4, V19.S4, V19.S4  \ /* t12 */
	VADD V18.S4, V16.S4, V0.S4   \ /* t0 */
	VSUB V18.S4, V16.S4, V3.S4   \ /* t3 */
	VADD V19.S4, V17.S4, V1.S4   \ /* t1 */
	VSUB V19.S4, V17.S4, V2.S4   \ /* t2 */
	VADD V20.S4, V22.S4, V4.S4   \ /* t7 = z11 + z13 */
	VSUB V20.S4, V22.S4, V5.S4   \
	FMUL(5, 26, V5.S4)           \ /* t11 */
	VADD V23.S4, V21.S4, V6.S4   \
	FMUL(6, 27, V6.S4)           \ /* z5 */
	FMUL(23, 28, V23.S4)         \
	VSUB V6.S4, V23.S4, V23.S4   \ /* t10 */
	FMUL(21, 29, V21.S4)         \
	VSUB V21.S4, V6.S4, V21.S4   \ /* t12 */
	VSUB V4.S4, V21.S4, V7.S4    \ /* t6 = t12 - t7 */
	VSUB V7.S4, V5.S4, V5.S4     \ /* t5 = t11 - t6 */
	VADD V5.S4, V23.S4, V6.S4    \ /* t4 = t10 + t5 */
	VADD V4.S4, V0.S4, V16.S4    \ /* out 0 */
	VSUB V4.S4, V0.S4, V23.S4    \ /* out 7 */
	VADD V7.S4, V1.S4, V17.S4    \ /* out 1 */
	VSUB V7.S4, V1.S4, V22.S4    \ /* out 6 */
	VADD V5.S4, V2.S4, V18.S4    \ /* out 2 */
	VSUB V5.S4, V2.S4, V21.S4    \ /* out 5 */
	VADD V6.S4, V3.S4, V20.S4    \ /* out 4 */
	VSUB V6.S4, V3.S4, V19.S4      /* out 3 */

// PIXELS descales and clamps the row pass's outputs in V16..V23 (pixel column i
// of four rows in V16+i) as pixel does, and writes the four rows at R1 (which
// advances by four rows of R2 bytes). V30 holds pixelBias; uses V0..V7 and the
// scratch block at R0.
#define PIXELS \
	VADD   V30.S4, V16.S4, V16.S4 \
	VADD   V30.S4, V17.S4, V17.S4 \
	VADD   V30.S4, V18.S4, V18.S4 \
	VADD   V30.S4, V19.S4, V19.S4 \
	VADD   V30.S4, V20.S4, V20.S4 \
	VADD   V30.S4, V21.S4, V21.S4 \
	VADD   V30.S4, V22.S4, V22.S4 \
	VADD   V30.S4, V23.S4, V23.S4 \
	VSQSHRN11_(0, 16)             \
	VSQSHRN211_(0, 20)            \
	VSQSHRN11_(1, 17)             \
	VSQSHRN211_(1, 21)            \
	VSQSHRN11_(2, 18)             \
	VSQSHRN211_(2, 22)            \
	VSQSHRN11_(3, 19)             \
	VSQSHRN211_(3, 23)            \
	VSQXTUN_(0, 0)                \
	VSQXTUN_(1, 1)                \
	VSQXTUN_(2, 2)                \
	VSQXTUN_(3, 3)                \
	VST4   [V0.B8, V1.B8, V2.B8, V3.B8], (R0) \
	VLD1   (R0), [V4.B16, V5.B16] \
	VZIP1  V5.S4, V4.S4, V6.S4    \
	VZIP2  V5.S4, V4.S4, V7.S4    \
	VST1.P V6.D[0], (R1)(R2)      \
	VST1.P V6.D[1], (R1)(R2)      \
	VST1.P V7.D[0], (R1)(R2)      \
	VST1.P V7.D[1], (R1)(R2)

// func idctNEON(blk *[blockSize]int32, dst *byte, stride int)
TEXT ·idctNEON(SB), NOSPLIT, $0-24
	MOVD blk+0(FP), R0
	MOVD dst+8(FP), R1
	MOVD stride+16(FP), R2

	// Columns 0..3 of rows 0..7 to V0..V7, columns 4..7 to V8..V15.
	MOVD   R0, R5
	VLD1.P 16(R5), [V0.S4]
	VLD1.P 16(R5), [V8.S4]
	VLD1.P 16(R5), [V1.S4]
	VLD1.P 16(R5), [V9.S4]
	VLD1.P 16(R5), [V2.S4]
	VLD1.P 16(R5), [V10.S4]
	VLD1.P 16(R5), [V3.S4]
	VLD1.P 16(R5), [V11.S4]
	VLD1.P 16(R5), [V4.S4]
	VLD1.P 16(R5), [V12.S4]
	VLD1.P 16(R5), [V5.S4]
	VLD1.P 16(R5), [V13.S4]
	VLD1.P 16(R5), [V6.S4]
	VLD1.P 16(R5), [V14.S4]
	VLD1.P 16(R5), [V7.S4]
	VLD1   (R5), [V15.S4]

	MOVD $1482910, R5
	VDUP R5, V26.S4
	MOVD $1937516, R5
	VDUP R5, V27.S4
	MOVD $1134970, R5
	VDUP R5, V28.S4
	MOVD $2740061, R5
	VDUP R5, V29.S4
	MOVD $0x80000, R5
	VDUP R5, V31.D2
	MOVD $0x40400, R5 // pixelBias
	VDUP R5, V30.S4

	// Column pass; outputs (row k by column x) stored transposed into blk, now
	// free: +0 and +64 hold columns 0..3 and 4..7 of rows 0..3, +128 and +192 of
	// rows 4..7.
	IDCT_PASS(V0, V1, V2, V3, V4, V5, V6, V7)
	VST4 [V16.S4, V17.S4, V18.S4, V19.S4], (R0)
	ADD  $128, R0, R5
	VST4 [V20.S4, V21.S4, V22.S4, V23.S4], (R5)
	IDCT_PASS(V8, V9, V10, V11, V12, V13, V14, V15)
	ADD  $64, R0, R5
	VST4 [V16.S4, V17.S4, V18.S4, V19.S4], (R5)
	ADD  $192, R0, R5
	VST4 [V20.S4, V21.S4, V22.S4, V23.S4], (R5)

	// Row pass, rows 0..3 then 4..7.
	MOVD   R0, R5
	VLD1.P 64(R5), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R5), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R5), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1   (R5), [V12.S4, V13.S4, V14.S4, V15.S4]
	IDCT_PASS(V0, V1, V2, V3, V4, V5, V6, V7)
	PIXELS
	IDCT_PASS(V8, V9, V10, V11, V12, V13, V14, V15)
	PIXELS
	RET
