//go:build arm64 && !purego

#include "textflag.h"

// idctFastNEON is idctFastGeneric (idct.go) in NEON: a row of eight 16-bit lanes
// per V register, so each pass is the flow graph once over eight registers. The
// sums wrap (ADD/SUB .8H) and the multiplications are SQRDMULH by 15-bit
// fractions, as the reference (and the AVX2 kernel's PMULHRSW) computes them, so
// the result is the same bit for bit. Between the passes the 8x8 halfwords are
// transposed with TRN1/TRN2; the bytes of the result go back to rows with
// ZIP1/ZIP2. Go's assembler lacks the saturating instructions; they are WORDs
// (registers by number).

// SQXTN Vd.4H, Vn.4S and SQXTN2 Vd.8H, Vn.4S: int32 saturated to int16.
#define SQXTN_(d, n) WORD $(0x0e614800 | ((n)<<5) | (d))
#define SQXTN2_(d, n) WORD $(0x4e614800 | ((n)<<5) | (d))
// SQADD Vd.8H, Vn.8H, Vm.8H.
#define SQADD_(d, n, m) WORD $(0x4e600c00 | ((m)<<16) | ((n)<<5) | (d))
// SQRDMULH Vd.8H, Vn.8H, Vm.8H: (n*m + 1<<14) >> 15 per lane.
#define SQRDMULH_(d, n, m) WORD $(0x6e60b400 | ((m)<<16) | ((n)<<5) | (d))
// SQSHRUN Vd.8B, Vn.8H, #5 and SQSHRUN2 Vd.16B, Vn.8H, #5: arithmetic shift by
// ifastShift, saturated to uint8.
#define SQSHRUN5_(d, n) WORD $(0x2f0b8400 | ((n)<<5) | (d))
#define SQSHRUN25_(d, n) WORD $(0x6f0b8400 | ((n)<<5) | (d))

// IFAST_PASS runs ifastPass over x0..x7 (one value per lane), with t0 as scratch;
// the multiplications go through V24..V27, and V28..V31 hold the fractions of
// 1.414, 1.848, 1.082 and 2.613. The outputs land in o0=x5, o1=x6, o2=x2,
// o3=x1, o4=x3, o5=x0, o6=x4, o7=x7.
#define IFAST_PASS(x0, x1, x2, x3, x4, x5, x6, x7, t0) \
	VADD x4.H8, x0.H8, t0.H8    \ /* tmp10 */
	VSUB x4.H8, x0.H8, x0.H8    \ /* tmp11 */
	VADD x6.H8, x2.H8, x4.H8    \ /* tmp13 */
	VSUB x6.H8, x2.H8, V24.H8   \
	SQRDMULH_(25, 24, 28)       \
	VADD V25.H8, V24.H8, x2.H8  \
	VSUB x4.H8, x2.H8, x2.H8    \ /* tmp12 */
	VADD x4.H8, t0.H8, x6.H8    \ /* tmp0 */
	VSUB x4.H8, t0.H8, t0.H8    \ /* tmp3 */
	VADD x2.H8, x0.H8, x4.H8    \ /* tmp1 */
	VSUB x2.H8, x0.H8, x0.H8    \ /* tmp2 */
	VADD x3.H8, x5.H8, x2.H8    \ /* z13 */
	VSUB x3.H8, x5.H8, V27.H8   \ /* z10 */
	VADD x7.H8, x1.H8, x3.H8    \ /* z11 */
	VSUB x7.H8, x1.H8, V26.H8   \ /* z12 */
	VADD x2.H8, x3.H8, x7.H8    \ /* tmp7 */
	VSUB x2.H8, x3.H8, V24.H8   \
	SQRDMULH_(25, 24, 28)       \
	VADD V25.H8, V24.H8, x3.H8  \ /* tmp11 */
	VADD V26.H8, V27.H8, V24.H8 \
	SQRDMULH_(25, 24, 29)       \
	VADD V25.H8, V24.H8, x2.H8  \ /* z5 */
	SQRDMULH_(25, 26, 30)       \
	VADD V25.H8, V26.H8, x1.H8  \
	VSUB x2.H8, x1.H8, x1.H8    \ /* tmp10 */
	SQRDMULH_(25, 27, 31)       \
	VSUB V27.H8, x2.H8, x2.H8   \
	VSUB V27.H8, x2.H8, x2.H8   \
	VSUB V25.H8, x2.H8, x2.H8   \ /* tmp12 */
	VSUB x7.H8, x2.H8, x2.H8    \ /* tmp6 */
	VSUB x2.H8, x3.H8, x3.H8    \ /* tmp5 */
	VADD x3.H8, x1.H8, x1.H8    \ /* tmp4 */
	VADD x7.H8, x6.H8, x5.H8    \ /* o0 */
	VSUB x7.H8, x6.H8, x7.H8    \ /* o7 */
	VADD x2.H8, x4.H8, x6.H8    \ /* o1 */
	VSUB x2.H8, x4.H8, x4.H8    \ /* o6 */
	VADD x3.H8, x0.H8, x2.H8    \ /* o2 */
	VSUB x3.H8, x0.H8, x0.H8    \ /* o5 */
	VADD x1.H8, t0.H8, x3.H8    \ /* o4 */
	VSUB x1.H8, t0.H8, x1.H8      /* o3 */

// TRANSPOSE transposes the 8x8 halfwords of a0..a7 (rows) into b0..b7
// (columns), clobbering a0..a7 and V16..V23.
#define TRANSPOSE(a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7) \
	VTRN1 a1.H8, a0.H8, V16.H8  \
	VTRN2 a1.H8, a0.H8, V17.H8  \
	VTRN1 a3.H8, a2.H8, V18.H8  \
	VTRN2 a3.H8, a2.H8, V19.H8  \
	VTRN1 a5.H8, a4.H8, V20.H8  \
	VTRN2 a5.H8, a4.H8, V21.H8  \
	VTRN1 a7.H8, a6.H8, V22.H8  \
	VTRN2 a7.H8, a6.H8, V23.H8  \
	VTRN1 V18.S4, V16.S4, a0.S4 \ /* columns 0, 4 of rows 0..3 */
	VTRN2 V18.S4, V16.S4, a2.S4 \ /* 2, 6 */
	VTRN1 V19.S4, V17.S4, a1.S4 \ /* 1, 5 */
	VTRN2 V19.S4, V17.S4, a3.S4 \ /* 3, 7 */
	VTRN1 V22.S4, V20.S4, a4.S4 \ /* the same of rows 4..7 */
	VTRN2 V22.S4, V20.S4, a6.S4 \
	VTRN1 V23.S4, V21.S4, a5.S4 \
	VTRN2 V23.S4, V21.S4, a7.S4 \
	VTRN1 a4.D2, a0.D2, b0.D2   \
	VTRN2 a4.D2, a0.D2, b4.D2   \
	VTRN1 a5.D2, a1.D2, b1.D2   \
	VTRN2 a5.D2, a1.D2, b5.D2   \
	VTRN1 a6.D2, a2.D2, b2.D2   \
	VTRN2 a6.D2, a2.D2, b6.D2   \
	VTRN1 a7.D2, a3.D2, b3.D2   \
	VTRN2 a7.D2, a3.D2, b7.D2

// LOADROW loads the next row of eight int32 at R0 into Vd (int16, saturated).
#define LOADROW(d) \
	VLD1.P 32(R0), [V16.S4, V17.S4] \
	SQXTN_(d, 16)                   \
	SQXTN2_(d, 17)

// func idctFastNEON(blk *[blockSize]int32, dst *byte, stride int)
TEXT ·idctFastNEON(SB), NOSPLIT, $0-24
	MOVD blk+0(FP), R0
	MOVD dst+8(FP), R1
	MOVD stride+16(FP), R2

	LOADROW(0)
	LOADROW(1)
	LOADROW(2)
	LOADROW(3)
	LOADROW(4)
	LOADROW(5)
	LOADROW(6)
	LOADROW(7)

	// ifastBias, in the DC's lane only.
	VEOR V24.B16, V24.B16, V24.B16
	MOVD $4112, R5
	VMOV R5, V24.H[0]
	SQADD_(0, 0, 24)

	MOVD $13573, R5
	VDUP R5, V28.H8
	MOVD $27779, R5
	VDUP R5, V29.H8
	MOVD $2700, R5
	VDUP R5, V30.H8
	MOVD $20091, R5
	VDUP R5, V31.H8

	// Columns: each lane is one column; output row k is o_k.
	IFAST_PASS(V0, V1, V2, V3, V4, V5, V6, V7, V16)

	// Rows o0..o7 = V5, V6, V2, V1, V3, V0, V4, V7 into columns V8..V15.
	TRANSPOSE(V5, V6, V2, V1, V3, V0, V4, V7, V8, V9, V10, V11, V12, V13, V14, V15)

	// Rows: each lane is one row; output column k is o_k.
	IFAST_PASS(V8, V9, V10, V11, V12, V13, V14, V15, V16)

	// Columns o0..o7 = V13, V14, V10, V9, V11, V8, V12, V15: descale and saturate
	// to bytes two columns a register, then transpose the bytes to rows.
	SQSHRUN5_(0, 13)
	SQSHRUN25_(0, 14)
	SQSHRUN5_(1, 10)
	SQSHRUN25_(1, 9)
	SQSHRUN5_(2, 11)
	SQSHRUN25_(2, 8)
	SQSHRUN5_(3, 12)
	SQSHRUN25_(3, 15)
	VZIP1 V1.B16, V0.B16, V4.B16 // c0 c2 of rows 0..7
	VZIP2 V1.B16, V0.B16, V5.B16 // c1 c3
	VZIP1 V3.B16, V2.B16, V6.B16 // c4 c6
	VZIP2 V3.B16, V2.B16, V7.B16 // c5 c7
	VZIP1 V5.B16, V4.B16, V0.B16 // c0..c3 of rows 0..3
	VZIP2 V5.B16, V4.B16, V1.B16 // c0..c3 of rows 4..7
	VZIP1 V7.B16, V6.B16, V2.B16 // c4..c7 of rows 0..3
	VZIP2 V7.B16, V6.B16, V3.B16 // c4..c7 of rows 4..7
	VZIP1 V2.S4, V0.S4, V4.S4    // rows 0, 1
	VZIP2 V2.S4, V0.S4, V5.S4    // rows 2, 3
	VZIP1 V3.S4, V1.S4, V6.S4    // rows 4, 5
	VZIP2 V3.S4, V1.S4, V7.S4    // rows 6, 7
	VST1.P V4.D[0], (R1)(R2)
	VST1.P V4.D[1], (R1)(R2)
	VST1.P V5.D[0], (R1)(R2)
	VST1.P V5.D[1], (R1)(R2)
	VST1.P V6.D[0], (R1)(R2)
	VST1.P V6.D[1], (R1)(R2)
	VST1.P V7.D[0], (R1)(R2)
	VST1   V7.D[1], (R1)
	RET
