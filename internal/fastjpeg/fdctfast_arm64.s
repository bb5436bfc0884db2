//go:build arm64 && !purego

#include "textflag.h"

// NEON version of fdctQuantFastGeneric (fdctfast.go): jfdctfst's AAN butterfly on
// the eight 16-bit lanes of a V register (one row of the block per register, so
// the column pass needs no transpose), an 8x8 halfword transpose with TRN1/TRN2,
// the row pass, then jquanti's quantiser. The same integer arithmetic in the same
// order as the reference, so the results are bit-exact (fdctfast_test.go); a
// multiply is one SQRDMULH, the reference's ifmul. Go's assembler lacks a few
// NEON instructions; they are encoded as WORDs below (registers by number).

// SQRDMULH Vd.8H, Vn.8H, Vm.8H: (n*m + 1<<14) >> 15, rounded as VPMULHRSW.
#define SQRDMULH_(d, n, m) WORD $(0x6e60b400 | ((m)<<16) | ((n)<<5) | (d))
// ABS Vd.8H, Vn.8H.
#define ABS_(d, n) WORD $(0x4e60b800 | ((n)<<5) | (d))
// UMULL Vd.4S, Vn.4H, Vm.4H and UMULL2 Vd.4S, Vn.8H, Vm.8H.
#define UMULL_(d, n, m) WORD $(0x2e60c000 | ((m)<<16) | ((n)<<5) | (d))
#define UMULL2_(d, n, m) WORD $(0x6e60c000 | ((m)<<16) | ((n)<<5) | (d))
// SSHR Vd.8H, Vn.8H, #15: each lane's sign as a mask.
#define SSHR15_(d, n) WORD $(0x4f110400 | ((n)<<5) | (d))

// ifbits are the bit weights of the bytes of two columns' non-zero masks.
DATA ifbits<>+0(SB)/8, $0x8040201008040201
DATA ifbits<>+8(SB)/8, $0x8040201008040201
GLOBL ifbits<>(SB), RODATA|NOPTR, $16

// IFAST_PASS is ifast1D on the lanes of V0..V7 (sample k of every lane in Vk),
// leaving output k in Vk; V8..V15 are clobbered. V24..V27 hold ifix0_707106781,
// ifix0_382683433, ifix0_541196100, ifix0_306562965.
#define IFAST_PASS \
	VADD V7.H8, V0.H8, V8.H8    \ /* t0 */
	VSUB V7.H8, V0.H8, V15.H8   \ /* t7 */
	VADD V6.H8, V1.H8, V9.H8    \ /* t1 */
	VSUB V6.H8, V1.H8, V14.H8   \ /* t6 */
	VADD V5.H8, V2.H8, V10.H8   \ /* t2 */
	VSUB V5.H8, V2.H8, V13.H8   \ /* t5 */
	VADD V4.H8, V3.H8, V11.H8   \ /* t3 */
	VSUB V4.H8, V3.H8, V12.H8   \ /* t4 */
	VADD V11.H8, V8.H8, V0.H8   \ /* t10 */
	VSUB V11.H8, V8.H8, V1.H8   \ /* t13 */
	VADD V10.H8, V9.H8, V2.H8   \ /* t11 */
	VSUB V10.H8, V9.H8, V3.H8   \ /* t12 */
	VSUB V2.H8, V0.H8, V4.H8    \ /* out 4 = t10 - t11 */
	VADD V2.H8, V0.H8, V0.H8    \ /* out 0 = t10 + t11 */
	VADD V1.H8, V3.H8, V3.H8    \
	SQRDMULH_(3, 3, 24)         \ /* z1 */
	VSUB V3.H8, V1.H8, V6.H8    \ /* out 6 = t13 - z1 */
	VADD V3.H8, V1.H8, V2.H8    \ /* out 2 = t13 + z1 */
	VADD V13.H8, V12.H8, V8.H8  \ /* t10 = t4 + t5 */
	VADD V14.H8, V13.H8, V9.H8  \ /* t11 = t5 + t6 */
	VADD V15.H8, V14.H8, V10.H8 \ /* t12 = t6 + t7 */
	VSUB V10.H8, V8.H8, V11.H8  \
	SQRDMULH_(11, 11, 25)       \ /* z5 */
	SQRDMULH_(8, 8, 26)         \
	VADD V11.H8, V8.H8, V8.H8   \ /* z2 */
	SQRDMULH_(7, 10, 27)        \
	VADD V7.H8, V10.H8, V10.H8  \
	VADD V11.H8, V10.H8, V10.H8 \ /* z4 */
	SQRDMULH_(9, 9, 24)         \ /* z3 */
	VADD V9.H8, V15.H8, V12.H8  \ /* z11 = t7 + z3 */
	VSUB V9.H8, V15.H8, V13.H8  \ /* z13 = t7 - z3 */
	VADD V8.H8, V13.H8, V5.H8   \ /* out 5 = z13 + z2 */
	VSUB V8.H8, V13.H8, V3.H8   \ /* out 3 = z13 - z2 */
	VADD V10.H8, V12.H8, V1.H8  \ /* out 1 = z11 + z4 */
	VSUB V10.H8, V12.H8, V7.H8    // out 7 = z11 - z4

// TRANSPOSE transposes the 8x8 halfwords of V0..V7 in place through V8..V23.
#define TRANSPOSE \
	VTRN1 V1.H8, V0.H8, V8.H8    \
	VTRN2 V1.H8, V0.H8, V9.H8    \
	VTRN1 V3.H8, V2.H8, V10.H8   \
	VTRN2 V3.H8, V2.H8, V11.H8   \
	VTRN1 V5.H8, V4.H8, V12.H8   \
	VTRN2 V5.H8, V4.H8, V13.H8   \
	VTRN1 V7.H8, V6.H8, V14.H8   \
	VTRN2 V7.H8, V6.H8, V15.H8   \
	VTRN1 V10.S4, V8.S4, V16.S4  \
	VTRN2 V10.S4, V8.S4, V18.S4  \
	VTRN1 V11.S4, V9.S4, V17.S4  \
	VTRN2 V11.S4, V9.S4, V19.S4  \
	VTRN1 V14.S4, V12.S4, V20.S4 \
	VTRN2 V14.S4, V12.S4, V22.S4 \
	VTRN1 V15.S4, V13.S4, V21.S4 \
	VTRN2 V15.S4, V13.S4, V23.S4 \
	VTRN1 V20.D2, V16.D2, V0.D2  \
	VTRN2 V20.D2, V16.D2, V4.D2  \
	VTRN1 V21.D2, V17.D2, V1.D2  \
	VTRN2 V21.D2, V17.D2, V5.D2  \
	VTRN1 V22.D2, V18.D2, V2.D2  \
	VTRN1 V23.D2, V19.D2, V3.D2  \
	VTRN2 V22.D2, V18.D2, V6.D2  \
	VTRN2 V23.D2, V19.D2, V7.D2

// MULHI sets register a (number aN) to the high halves of a*f (f by number,
// both .8H, unsigned), as VPMULHUW; V12 and V13 are clobbered.
#define MULHI(aN, a, f) \
	UMULL_(12, aN, f)  \
	UMULL2_(13, aN, f) \
	VUZP2 V13.H8, V12.H8, a.H8

// func fdctQuantFastNEON(out *coefs, src *byte, stride int, fq *fastQuant) uint64
TEXT ·fdctQuantFastNEON(SB), NOSPLIT, $0-40
	MOVD out+0(FP), R0
	MOVD src+8(FP), R1
	MOVD stride+16(FP), R2
	MOVD fq+24(FP), R3

	MOVD $23170, R5 // ifix0_707106781
	VDUP R5, V24.H8
	MOVD $12540, R5 // ifix0_382683433
	VDUP R5, V25.H8
	MOVD $17734, R5 // ifix0_541196100
	VDUP R5, V26.H8
	MOVD $10045, R5 // ifix0_306562965
	VDUP R5, V27.H8
	MOVD $2048, R5 // ifastColumnBias
	VDUP R5, V28.H8

	// Row y of samples, widened with their fraction bit, in Vy.
	VLD1.P (R1)(R2), [V0.B8]
	VLD1.P (R1)(R2), [V1.B8]
	VLD1.P (R1)(R2), [V2.B8]
	VLD1.P (R1)(R2), [V3.B8]
	VLD1.P (R1)(R2), [V4.B8]
	VLD1.P (R1)(R2), [V5.B8]
	VLD1.P (R1)(R2), [V6.B8]
	VLD1   (R1), [V7.B8]
	VUSHLL $1, V0.B8, V0.H8
	VUSHLL $1, V1.B8, V1.H8
	VUSHLL $1, V2.B8, V2.H8
	VUSHLL $1, V3.B8, V3.H8
	VUSHLL $1, V4.B8, V4.H8
	VUSHLL $1, V5.B8, V5.H8
	VUSHLL $1, V6.B8, V6.H8
	VUSHLL $1, V7.B8, V7.H8

	// Column pass: Vv holds vertical frequency v of columns 0..7; the level
	// shift only moves the DC. Then Vx holds column x's frequencies.
	IFAST_PASS
	VSUB V28.H8, V0.H8, V0.H8
	TRANSPOSE

	// Row pass: Vu holds horizontal frequency u at vertical frequencies 0..7,
	// coefs' positions u*8..u*8+7.
	IFAST_PASS

	// Quantise as quantFast, four columns at a time: |x| + corr in V8..V11,
	// times recip and scale (high halves), the sign put back into V0..V7.
	ADD    $128, R3, R4 // corr
	ADD    $256, R3, R5 // scale
	VLD1.P 64(R4), [V16.H8, V17.H8, V18.H8, V19.H8]
	VLD1.P 64(R3), [V20.H8, V21.H8, V22.H8, V23.H8]
	ABS_(8, 0)
	ABS_(9, 1)
	ABS_(10, 2)
	ABS_(11, 3)
	VADD   V16.H8, V8.H8, V8.H8
	VADD   V17.H8, V9.H8, V9.H8
	VADD   V18.H8, V10.H8, V10.H8
	VADD   V19.H8, V11.H8, V11.H8
	MULHI(8, V8, 20)
	MULHI(9, V9, 21)
	MULHI(10, V10, 22)
	MULHI(11, V11, 23)
	VLD1.P 64(R5), [V16.H8, V17.H8, V18.H8, V19.H8]
	MULHI(8, V8, 16)
	MULHI(9, V9, 17)
	MULHI(10, V10, 18)
	MULHI(11, V11, 19)
	SSHR15_(12, 0)
	SSHR15_(13, 1)
	SSHR15_(14, 2)
	SSHR15_(15, 3)
	VEOR   V12.B16, V8.B16, V8.B16
	VEOR   V13.B16, V9.B16, V9.B16
	VEOR   V14.B16, V10.B16, V10.B16
	VEOR   V15.B16, V11.B16, V11.B16
	VSUB   V12.H8, V8.H8, V0.H8
	VSUB   V13.H8, V9.H8, V1.H8
	VSUB   V14.H8, V10.H8, V2.H8
	VSUB   V15.H8, V11.H8, V3.H8

	VLD1   (R4), [V16.H8, V17.H8, V18.H8, V19.H8]
	VLD1   (R3), [V20.H8, V21.H8, V22.H8, V23.H8]
	ABS_(8, 4)
	ABS_(9, 5)
	ABS_(10, 6)
	ABS_(11, 7)
	VADD   V16.H8, V8.H8, V8.H8
	VADD   V17.H8, V9.H8, V9.H8
	VADD   V18.H8, V10.H8, V10.H8
	VADD   V19.H8, V11.H8, V11.H8
	MULHI(8, V8, 20)
	MULHI(9, V9, 21)
	MULHI(10, V10, 22)
	MULHI(11, V11, 23)
	VLD1   (R5), [V16.H8, V17.H8, V18.H8, V19.H8]
	MULHI(8, V8, 16)
	MULHI(9, V9, 17)
	MULHI(10, V10, 18)
	MULHI(11, V11, 19)
	SSHR15_(12, 4)
	SSHR15_(13, 5)
	SSHR15_(14, 6)
	SSHR15_(15, 7)
	VEOR   V12.B16, V8.B16, V8.B16
	VEOR   V13.B16, V9.B16, V9.B16
	VEOR   V14.B16, V10.B16, V10.B16
	VEOR   V15.B16, V11.B16, V11.B16
	VSUB   V12.H8, V8.H8, V4.H8
	VSUB   V13.H8, V9.H8, V5.H8
	VSUB   V14.H8, V10.H8, V6.H8
	VSUB   V15.H8, V11.H8, V7.H8

	VST1.P [V0.H8, V1.H8, V2.H8, V3.H8], 64(R0)
	VST1   [V4.H8, V5.H8, V6.H8, V7.H8], (R0)

	// Non-zero mask by position: a byte of 0xff per non-zero coefficient, two
	// columns to a register, weighted by bit and summed pairwise until byte u
	// is column u's mask.
	VCMTST V0.H8, V0.H8, V8.H8
	VCMTST V1.H8, V1.H8, V9.H8
	VCMTST V2.H8, V2.H8, V10.H8
	VCMTST V3.H8, V3.H8, V11.H8
	VCMTST V4.H8, V4.H8, V12.H8
	VCMTST V5.H8, V5.H8, V13.H8
	VCMTST V6.H8, V6.H8, V14.H8
	VCMTST V7.H8, V7.H8, V15.H8
	VUZP1  V9.B16, V8.B16, V16.B16
	VUZP1  V11.B16, V10.B16, V17.B16
	VUZP1  V13.B16, V12.B16, V18.B16
	VUZP1  V15.B16, V14.B16, V19.B16
	MOVD   $ifbits<>(SB), R6
	VLD1   (R6), [V29.B16]
	VAND   V29.B16, V16.B16, V16.B16
	VAND   V29.B16, V17.B16, V17.B16
	VAND   V29.B16, V18.B16, V18.B16
	VAND   V29.B16, V19.B16, V19.B16
	VADDP  V17.B16, V16.B16, V20.B16
	VADDP  V19.B16, V18.B16, V21.B16
	VADDP  V21.B16, V20.B16, V22.B16
	VADDP  V22.B16, V22.B16, V22.B16
	VMOV   V22.D[0], R7
	MOVD   R7, ret+32(FP)
	RET
