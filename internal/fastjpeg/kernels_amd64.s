//go:build amd64 && !purego

#include "textflag.h"

// AVX2 versions of fdctQuantGeneric (fdct.go) and idctGeneric (idct.go). They do
// the same integer arithmetic in the same order, eight blocks rows or columns at a
// time in the 32-bit lanes of a Y register, so their results are bit-exact (see
// kernels_test.go). The reference multiplies in 64 bits; here VPMULDQ forms the
// 64-bit products of the even lanes and of the odd lanes shifted down, and the
// rounded, descaled results are put back together with one blend: a logical shift
// leaves the same low 32 bits as the reference's arithmetic one.

// Constants as 64-bit lanes (multipliers and rounding) or 32-bit lanes.
DATA fix0707<>+0(SB)/8, $741455
DATA fix0707<>+8(SB)/8, $741455
DATA fix0707<>+16(SB)/8, $741455
DATA fix0707<>+24(SB)/8, $741455
GLOBL fix0707<>(SB), RODATA|NOPTR, $32

DATA fix0382<>+0(SB)/8, $401273
DATA fix0382<>+8(SB)/8, $401273
DATA fix0382<>+16(SB)/8, $401273
DATA fix0382<>+24(SB)/8, $401273
GLOBL fix0382<>(SB), RODATA|NOPTR, $32

DATA fix0541<>+0(SB)/8, $567485
DATA fix0541<>+8(SB)/8, $567485
DATA fix0541<>+16(SB)/8, $567485
DATA fix0541<>+24(SB)/8, $567485
GLOBL fix0541<>(SB), RODATA|NOPTR, $32

DATA fix1306<>+0(SB)/8, $1370031
DATA fix1306<>+8(SB)/8, $1370031
DATA fix1306<>+16(SB)/8, $1370031
DATA fix1306<>+24(SB)/8, $1370031
GLOBL fix1306<>(SB), RODATA|NOPTR, $32

DATA fix1082<>+0(SB)/8, $1134970
DATA fix1082<>+8(SB)/8, $1134970
DATA fix1082<>+16(SB)/8, $1134970
DATA fix1082<>+24(SB)/8, $1134970
GLOBL fix1082<>(SB), RODATA|NOPTR, $32

DATA fix1414<>+0(SB)/8, $1482910
DATA fix1414<>+8(SB)/8, $1482910
DATA fix1414<>+16(SB)/8, $1482910
DATA fix1414<>+24(SB)/8, $1482910
GLOBL fix1414<>(SB), RODATA|NOPTR, $32

DATA fix1847<>+0(SB)/8, $1937516
DATA fix1847<>+8(SB)/8, $1937516
DATA fix1847<>+16(SB)/8, $1937516
DATA fix1847<>+24(SB)/8, $1937516
GLOBL fix1847<>(SB), RODATA|NOPTR, $32

DATA fix2613<>+0(SB)/8, $2740061
DATA fix2613<>+8(SB)/8, $2740061
DATA fix2613<>+16(SB)/8, $2740061
DATA fix2613<>+24(SB)/8, $2740061
GLOBL fix2613<>(SB), RODATA|NOPTR, $32

// round19 rounds a product with 20 fraction bits (fdctBits, idctBits).
DATA round19<>+0(SB)/8, $0x80000
DATA round19<>+8(SB)/8, $0x80000
DATA round19<>+16(SB)/8, $0x80000
DATA round19<>+24(SB)/8, $0x80000
GLOBL round19<>(SB), RODATA|NOPTR, $32

// round30 rounds a quantiser product with 31 fraction bits (reciprocalBits).
DATA round30<>+0(SB)/8, $0x40000000
DATA round30<>+8(SB)/8, $0x40000000
DATA round30<>+16(SB)/8, $0x40000000
DATA round30<>+24(SB)/8, $0x40000000
GLOBL round30<>(SB), RODATA|NOPTR, $32

// pixbias is pixelBias (idct.go) in 32-bit lanes.
DATA pixbias<>+0(SB)/8, $0x0004040000040400
DATA pixbias<>+8(SB)/8, $0x0004040000040400
DATA pixbias<>+16(SB)/8, $0x0004040000040400
DATA pixbias<>+24(SB)/8, $0x0004040000040400
GLOBL pixbias<>(SB), RODATA|NOPTR, $32

// sign80 flips a byte's top bit: as a signed byte, the sample minus 128.
DATA sign80<>+0(SB)/8, $0x8080808080808080
DATA sign80<>+8(SB)/8, $0x8080808080808080
GLOBL sign80<>(SB), RODATA|NOPTR, $16

// wordpair reorders the words of each 128-bit lane from [x0 x4 x1 x5 y0 y4 y1 y5]
// to [x0 x1 x4 x5 y0 y1 y4 y5]; permpair then gathers the dword pairs of two
// columns' [q0 q4 q1 q5 | q2 q6 q3 q7] (see QUANT) into their natural order.
DATA wordpair<>+0(SB)/8, $0x0706030205040100
DATA wordpair<>+8(SB)/8, $0x0f0e0b0a0d0c0908
DATA wordpair<>+16(SB)/8, $0x0706030205040100
DATA wordpair<>+24(SB)/8, $0x0f0e0b0a0d0c0908
GLOBL wordpair<>(SB), RODATA|NOPTR, $32
DATA permpair<>+0(SB)/8, $0x0000000400000000
DATA permpair<>+8(SB)/8, $0x0000000500000001
DATA permpair<>+16(SB)/8, $0x0000000600000002
DATA permpair<>+24(SB)/8, $0x0000000700000003
GLOBL permpair<>(SB), RODATA|NOPTR, $32

// bytet transposes a 4x4 matrix of bytes in each 128-bit lane: byte 4*y+i from
// byte 4*i+y.
DATA bytet<>+0(SB)/8, $0x0d0905010c080400
DATA bytet<>+8(SB)/8, $0x0f0b07030e0a0602
DATA bytet<>+16(SB)/8, $0x0d0905010c080400
DATA bytet<>+24(SB)/8, $0x0f0b07030e0a0602
GLOBL bytet<>(SB), RODATA|NOPTR, $32

// FMUL sets dst to (a*c + 1<<19) >> 20 in each 32-bit lane, with the product in 64
// bits as fmul and imul compute it. dst may be a; t1 and t2 are clobbered.
#define FMUL(a, c, t1, t2, dst) \
	VPMULDQ   c, a, t1        \
	VPSRLQ    $32, a, t2      \
	VPMULDQ   c, t2, t2       \
	VPADDQ    round19<>(SB), t1, t1 \
	VPADDQ    round19<>(SB), t2, t2 \
	VPSRLQ    $20, t1, t1     \
	VPSLLQ    $12, t2, t2     \
	VPBLENDD  $0xaa, t2, t1, dst

// TRANSPOSE8 transposes the 8x8 matrix of 32-bit values whose rows are r0..r7
// into t0..t7 (t_i is column i); the r registers are clobbered.
#define TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7, t0, t1, t2, t3, t4, t5, t6, t7) \
	VPUNPCKLDQ  r1, r0, t0 \
	VPUNPCKHDQ  r1, r0, t1 \
	VPUNPCKLDQ  r3, r2, t2 \
	VPUNPCKHDQ  r3, r2, t3 \
	VPUNPCKLDQ  r5, r4, t4 \
	VPUNPCKHDQ  r5, r4, t5 \
	VPUNPCKLDQ  r7, r6, t6 \
	VPUNPCKHDQ  r7, r6, t7 \
	VPUNPCKLQDQ t2, t0, r0 \
	VPUNPCKHQDQ t2, t0, r1 \
	VPUNPCKLQDQ t3, t1, r2 \
	VPUNPCKHQDQ t3, t1, r3 \
	VPUNPCKLQDQ t6, t4, r4 \
	VPUNPCKHQDQ t6, t4, r5 \
	VPUNPCKLQDQ t7, t5, r6 \
	VPUNPCKHQDQ t7, t5, r7 \
	VPERM2I128  $0x20, r4, r0, t0 \
	VPERM2I128  $0x31, r4, r0, t4 \
	VPERM2I128  $0x20, r5, r1, t1 \
	VPERM2I128  $0x31, r5, r1, t5 \
	VPERM2I128  $0x20, r6, r2, t2 \
	VPERM2I128  $0x31, r6, r2, t6 \
	VPERM2I128  $0x20, r7, r3, t3 \
	VPERM2I128  $0x31, r7, r3, t7

// FDCT_PASS is one 1-D AAN pass of fdctQuantGeneric on eight vectors at once:
// inputs s0..s7 in Y8..Y15, output u stored at u*32(DI).
#define FDCT_PASS \
	VPADDD  Y15, Y8, Y0 /* t0 = s0 + s7 */ \
	VPSUBD  Y15, Y8, Y7 /* t7 = s0 - s7 */ \
	VPADDD  Y14, Y9, Y1 /* t1 */ \
	VPSUBD  Y14, Y9, Y6 /* t6 */ \
	VPADDD  Y13, Y10, Y2 /* t2 */ \
	VPSUBD  Y13, Y10, Y5 /* t5 */ \
	VPADDD  Y12, Y11, Y3 /* t3 */ \
	VPSUBD  Y12, Y11, Y4 /* t4 */ \
	VPADDD  Y3, Y0, Y8 /* t10 = t0 + t3 */ \
	VPSUBD  Y3, Y0, Y9 /* t13 = t0 - t3 */ \
	VPADDD  Y2, Y1, Y10 /* t11 = t1 + t2 */ \
	VPSUBD  Y2, Y1, Y11 /* t12 = t1 - t2 */ \
	VPADDD  Y10, Y8, Y12 \
	VMOVDQU Y12, 0(DI) /* out 0 = t10 + t11 */ \
	VPSUBD  Y10, Y8, Y13 \
	VMOVDQU Y13, 128(DI) /* out 4 = t10 - t11 */ \
	VPADDD  Y9, Y11, Y11 \
	FMUL(Y11, fix0707<>(SB), Y12, Y13, Y11) /* z1 */ \
	VPADDD  Y11, Y9, Y12 \
	VMOVDQU Y12, 64(DI) /* out 2 = t13 + z1 */ \
	VPSUBD  Y11, Y9, Y13 \
	VMOVDQU Y13, 192(DI) /* out 6 = t13 - z1 */ \
	VPADDD  Y5, Y4, Y8 /* t10 = t4 + t5 */ \
	VPADDD  Y6, Y5, Y9 /* t11 = t5 + t6 */ \
	VPADDD  Y7, Y6, Y10 /* t12 = t6 + t7 */ \
	VPSUBD  Y10, Y8, Y11 \
	FMUL(Y11, fix0382<>(SB), Y12, Y13, Y11) /* z5 */ \
	FMUL(Y8, fix0541<>(SB), Y12, Y13, Y8)   \
	VPADDD  Y11, Y8, Y8 /* z2 */ \
	FMUL(Y10, fix1306<>(SB), Y12, Y13, Y10) \
	VPADDD  Y11, Y10, Y10 /* z4 */ \
	FMUL(Y9, fix0707<>(SB), Y12, Y13, Y9) /* z3 */ \
	VPADDD  Y9, Y7, Y12 /* z11 = t7 + z3 */ \
	VPSUBD  Y9, Y7, Y13 /* z13 = t7 - z3 */ \
	VPADDD  Y8, Y13, Y0  \
	VMOVDQU Y0, 160(DI) /* out 5 = z13 + z2 */ \
	VPSUBD  Y8, Y13, Y1  \
	VMOVDQU Y1, 96(DI) /* out 3 = z13 - z2 */ \
	VPADDD  Y10, Y12, Y2 \
	VMOVDQU Y2, 32(DI) /* out 1 = z11 + z4 */ \
	VPSUBD  Y10, Y12, Y3 \
	VMOVDQU Y3, 224(DI) /* out 7 = z11 - z4 */

// LOAD8 loads the eight 32-byte rows at DI into Y0..Y7.
#define LOAD8 \
	VMOVDQU 0(DI), Y0   \
	VMOVDQU 32(DI), Y1  \
	VMOVDQU 64(DI), Y2  \
	VMOVDQU 96(DI), Y3  \
	VMOVDQU 128(DI), Y4 \
	VMOVDQU 160(DI), Y5 \
	VMOVDQU 192(DI), Y6 \
	VMOVDQU 224(DI), Y7

// QUANT quantises column u, whose coefficients p holds in the order
// [v0 v4 v1 v5 v2 v6 v3 v7], with the eight int64 reciprocals at off(BX), as
// quant does: the even lanes meet reciprocals 0..3 and the odd ones 4..7 as they
// lie in memory. p is left holding [q0 q4 q1 q5 q2 q6 q3 q7]. Uses Y0, Y1; Y7
// holds round30.
#define QUANT(p, off) \
	VPMULDQ  off(BX), p, Y0 \
	VPSRLQ   $32, p, Y1     \
	VPMULDQ  off+32(BX), Y1, Y1 \
	VPADDQ   Y7, Y0, Y0     \
	VPADDQ   Y7, Y1, Y1     \
	VPSRLQ   $31, Y0, Y0    \
	VPSLLQ   $1, Y1, Y1     \
	VPBLENDD $0xaa, Y1, Y0, p

// PACK2 packs the quantised columns a and b (see QUANT) to int16 in natural
// order into a: quantised values are far inside int16's range, so saturation is
// the reference's truncation. Y5 and Y6 hold permpair and wordpair.
#define PACK2(a, b) \
	VPACKSSDW b, a, a  \
	VPSHUFB   Y6, a, a \
	VPERMD    a, Y5, a

// zzshuf are the VPSHUFB indices that take the zigzag order's bytes 0-31
// (first 128 bytes) and 32-63 from the four 16-byte quarters of a by-position
// byte array, one 32-byte index vector per quarter: 0x80 (zero) where a byte
// comes from another quarter.
DATA zzshuf<>+0(SB)/8, $0x8080800902010800
DATA zzshuf<>+8(SB)/8, $0x808080800b04030a
DATA zzshuf<>+16(SB)/8, $0x800d06050c808080
DATA zzshuf<>+24(SB)/8, $0x8080808080808080
DATA zzshuf<>+32(SB)/8, $0x0108008080808080
DATA zzshuf<>+40(SB)/8, $0x8080090280808080
DATA zzshuf<>+48(SB)/8, $0x0480808080030a80
DATA zzshuf<>+56(SB)/8, $0x808080808080800b
DATA zzshuf<>+64(SB)/8, $0x8080808080808080
DATA zzshuf<>+72(SB)/8, $0x0800808080808080
DATA zzshuf<>+80(SB)/8, $0x8080808080808001
DATA zzshuf<>+88(SB)/8, $0x030a808080090280
DATA zzshuf<>+96(SB)/8, $0x8080808080808080
DATA zzshuf<>+104(SB)/8, $0x8080808080808080
DATA zzshuf<>+112(SB)/8, $0x8080808080808080
DATA zzshuf<>+120(SB)/8, $0x8080010800808080
DATA zzshuf<>+128(SB)/8, $0x8080800f070e8080
DATA zzshuf<>+136(SB)/8, $0x8080808080808080
DATA zzshuf<>+144(SB)/8, $0x8080808080808080
DATA zzshuf<>+152(SB)/8, $0x8080808080808080
DATA zzshuf<>+160(SB)/8, $0x800d06808080050c
DATA zzshuf<>+168(SB)/8, $0x0e80808080808080
DATA zzshuf<>+176(SB)/8, $0x8080808080800f07
DATA zzshuf<>+184(SB)/8, $0x8080808080808080
DATA zzshuf<>+192(SB)/8, $0x0480808080808080
DATA zzshuf<>+200(SB)/8, $0x80050c808080800b
DATA zzshuf<>+208(SB)/8, $0x808080800d068080
DATA zzshuf<>+216(SB)/8, $0x80808080800f070e
DATA zzshuf<>+224(SB)/8, $0x8080808080808080
DATA zzshuf<>+232(SB)/8, $0x808080030a090280
DATA zzshuf<>+240(SB)/8, $0x050c0b0480808080
DATA zzshuf<>+248(SB)/8, $0x0f070e0d06808080
GLOBL zzshuf<>(SB), RODATA|NOPTR, $256

// func fdctQuantAVX2(out *coefs, tmp *[blockSize]int32, src *byte, stride int, rq *encQuant) uint64
TEXT ·fdctQuantAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), AX
	MOVQ tmp+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ stride+24(FP), CX
	MOVQ rq+32(FP), BX
	LEAQ (CX)(CX*2), R8
	LEAQ (SI)(CX*4), DX

	// Rows of 8 samples, transposed so that register j holds sample j of every
	// row: interleave bytes, then words, then doublewords.
	VMOVQ (SI), X0
	VMOVQ (SI)(CX*1), X1
	VMOVQ (SI)(CX*2), X2
	VMOVQ (SI)(R8*1), X3
	VMOVQ (DX), X4
	VMOVQ (DX)(CX*1), X5
	VMOVQ (DX)(CX*2), X6
	VMOVQ (DX)(R8*1), X7
	VPUNPCKLBW X1, X0, X8
	VPUNPCKLBW X3, X2, X9
	VPUNPCKLBW X5, X4, X10
	VPUNPCKLBW X7, X6, X11
	VPUNPCKLWD X9, X8, X12
	VPUNPCKHWD X9, X8, X13
	VPUNPCKLWD X11, X10, X14
	VPUNPCKHWD X11, X10, X15
	VPUNPCKLDQ X14, X12, X0 // samples 0 | 1
	VPUNPCKHDQ X14, X12, X1 // 2 | 3
	VPUNPCKLDQ X15, X13, X2 // 4 | 5
	VPUNPCKHDQ X15, X13, X3 // 6 | 7
	VPXOR      sign80<>(SB), X0, X0
	VPXOR      sign80<>(SB), X1, X1
	VPXOR      sign80<>(SB), X2, X2
	VPXOR      sign80<>(SB), X3, X3
	VPSHUFD    $0x4e, X0, X4
	VPSHUFD    $0x4e, X1, X5
	VPSHUFD    $0x4e, X2, X6
	VPSHUFD    $0x4e, X3, X7
	VPMOVSXBD  X0, Y8
	VPMOVSXBD  X4, Y9
	VPMOVSXBD  X1, Y10
	VPMOVSXBD  X5, Y11
	VPMOVSXBD  X2, Y12
	VPMOVSXBD  X6, Y13
	VPMOVSXBD  X3, Y14
	VPMOVSXBD  X7, Y15

	// (s-128) << fdctShift: the level shift applied to every sample gives the
	// reference's row sums exactly (it subtracts fdctRowBias from output 0).
	VPSLLD $8, Y8, Y8
	VPSLLD $8, Y9, Y9
	VPSLLD $8, Y10, Y10
	VPSLLD $8, Y11, Y11
	VPSLLD $8, Y12, Y12
	VPSLLD $8, Y13, Y13
	VPSLLD $8, Y14, Y14
	VPSLLD $8, Y15, Y15

	// Row pass: tmp row u holds horizontal frequency u of rows 0..7, as in the
	// reference.
	FDCT_PASS
	LOAD8
	TRANSPOSE8(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

	// Column pass: tmp row v holds vertical frequency v of columns 0..7.
	FDCT_PASS

	// Rows in the order 0 4 1 5 2 6 3 7, so that the transpose leaves column u's
	// coefficients in Y8+u as [v0 v4 v1 v5 v2 v6 v3 v7], the order QUANT takes.
	VMOVDQU 0(DI), Y0
	VMOVDQU 128(DI), Y1
	VMOVDQU 32(DI), Y2
	VMOVDQU 160(DI), Y3
	VMOVDQU 64(DI), Y4
	VMOVDQU 192(DI), Y5
	VMOVDQU 96(DI), Y6
	VMOVDQU 224(DI), Y7
	TRANSPOSE8(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

	VMOVDQU permpair<>(SB), Y5
	VMOVDQU wordpair<>(SB), Y6
	VMOVDQU round30<>(SB), Y7
	QUANT(Y8, 0)
	QUANT(Y9, 64)
	QUANT(Y10, 128)
	QUANT(Y11, 192)
	QUANT(Y12, 256)
	QUANT(Y13, 320)
	QUANT(Y14, 384)
	QUANT(Y15, 448)
	PACK2(Y8, Y9)
	PACK2(Y10, Y11)
	PACK2(Y12, Y13)
	PACK2(Y14, Y15)
	VMOVDQU Y8, 0(AX)
	VMOVDQU Y10, 32(AX)
	VMOVDQU Y12, 64(AX)
	VMOVDQU Y14, 96(AX)

	// Mask of the zero coefficients, inverted, in zigzag order: one byte per
	// coefficient by position (Y8 positions 0-31, Y12 32-63), each 16-byte
	// quarter copied to both lanes of Y0..Y3, shuffled into zigzag order where
	// zzshuf takes bytes from that quarter, the four ORed, and the bytes' top
	// bits gathered.
	VPXOR      Y0, Y0, Y0
	VPCMPEQW   Y0, Y8, Y8
	VPCMPEQW   Y0, Y10, Y10
	VPCMPEQW   Y0, Y12, Y12
	VPCMPEQW   Y0, Y14, Y14
	VPACKSSWB  Y10, Y8, Y8
	VPACKSSWB  Y14, Y12, Y12
	VPERMQ     $0xd8, Y8, Y8
	VPERMQ     $0xd8, Y12, Y12
	VPERM2I128 $0x00, Y8, Y8, Y0
	VPERM2I128 $0x11, Y8, Y8, Y1
	VPERM2I128 $0x00, Y12, Y12, Y2
	VPERM2I128 $0x11, Y12, Y12, Y3
	VPSHUFB    zzshuf<>+0(SB), Y0, Y4
	VPSHUFB    zzshuf<>+32(SB), Y1, Y5
	VPSHUFB    zzshuf<>+64(SB), Y2, Y6
	VPSHUFB    zzshuf<>+96(SB), Y3, Y7
	VPOR       Y5, Y4, Y4
	VPOR       Y7, Y6, Y6
	VPOR       Y6, Y4, Y4
	VPSHUFB    zzshuf<>+128(SB), Y0, Y0
	VPSHUFB    zzshuf<>+160(SB), Y1, Y1
	VPSHUFB    zzshuf<>+192(SB), Y2, Y2
	VPSHUFB    zzshuf<>+224(SB), Y3, Y3
	VPOR       Y1, Y0, Y0
	VPOR       Y3, Y2, Y2
	VPOR       Y2, Y0, Y0
	VPMOVMSKB  Y4, R9
	VPMOVMSKB  Y0, R10
	SHLQ       $32, R10
	ORQ        R10, R9
	NOTQ       R9
	MOVQ       R9, ret+40(FP)
	VZEROUPPER
	RET

// IDCT_PASS is one 1-D AAN pass of idctGeneric on eight vectors at once: inputs
// in Y0..Y7 (clobbered), outputs in Y8..Y15.
#define IDCT_PASS \
	VPADDD Y4, Y0, Y8 /* t10 = t0 + t2 */ \
	VPSUBD Y4, Y0, Y9 /* t11 = t0 - t2 */ \
	VPADDD Y6, Y2, Y10 /* t13 = t1 + t3 */ \
	VPSUBD Y6, Y2, Y11  \
	FMUL(Y11, fix1414<>(SB), Y12, Y13, Y11) \
	VPSUBD Y10, Y11, Y11 /* t12 */ \
	VPADDD Y10, Y8, Y0 /* t0 = t10 + t13 */ \
	VPSUBD Y10, Y8, Y2 /* t3 = t10 - t13 */ \
	VPADDD Y11, Y9, Y4 /* t1 = t11 + t12 */ \
	VPSUBD Y11, Y9, Y6 /* t2 = t11 - t12 */ \
	VPADDD Y3, Y5, Y8 /* z13 = t6 + t5 */ \
	VPSUBD Y3, Y5, Y9 /* z10 = t6 - t5 */ \
	VPADDD Y7, Y1, Y10 /* z11 = t4 + t7 */ \
	VPSUBD Y7, Y1, Y11 /* z12 = t4 - t7 */ \
	VPADDD Y8, Y10, Y1 /* t7 = z11 + z13 */ \
	VPSUBD Y8, Y10, Y3  \
	FMUL(Y3, fix1414<>(SB), Y12, Y13, Y3) /* t11 */ \
	VPADDD Y11, Y9, Y5  \
	FMUL(Y5, fix1847<>(SB), Y12, Y13, Y5) /* z5 */ \
	FMUL(Y11, fix1082<>(SB), Y12, Y13, Y11) \
	VPSUBD Y5, Y11, Y11 /* t10 */ \
	FMUL(Y9, fix2613<>(SB), Y12, Y13, Y9) \
	VPSUBD Y9, Y5, Y9 /* t12 = z5 - z10*c */ \
	VPSUBD Y1, Y9, Y7 /* t6 = t12 - t7 */ \
	VPSUBD Y7, Y3, Y3 /* t5 = t11 - t6 */ \
	VPADDD Y3, Y11, Y5 /* t4 = t10 + t5 */ \
	VPADDD Y1, Y0, Y8 /* out 0 = t0 + t7 */ \
	VPSUBD Y1, Y0, Y15 /* out 7 */ \
	VPADDD Y7, Y4, Y9 /* out 1 = t1 + t6 */ \
	VPSUBD Y7, Y4, Y14 /* out 6 */ \
	VPADDD Y3, Y6, Y10 /* out 2 = t2 + t5 */ \
	VPSUBD Y3, Y6, Y13 /* out 5 */ \
	VPADDD Y5, Y2, Y12 /* out 4 = t3 + t4 */ \
	VPSUBD Y5, Y2, Y11 /* out 3 */

// func idctAVX2(blk *[blockSize]int32, dst *byte, stride int)
TEXT ·idctAVX2(SB), NOSPLIT, $0-24
	MOVQ blk+0(FP), DI
	MOVQ dst+8(FP), SI
	MOVQ stride+16(FP), CX
	LOAD8
	IDCT_PASS // columns: Y8+k is row k of the reference's blk after its first loop
	TRANSPOSE8(Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	IDCT_PASS // rows: Y8+i is pixel column i of rows 0..7

	// pixel: descale, then clamp by saturating packs (int32 -> int16 -> uint8).
	VMOVDQU   pixbias<>(SB), Y0
	VPADDD    Y0, Y8, Y8
	VPADDD    Y0, Y9, Y9
	VPADDD    Y0, Y10, Y10
	VPADDD    Y0, Y11, Y11
	VPADDD    Y0, Y12, Y12
	VPADDD    Y0, Y13, Y13
	VPADDD    Y0, Y14, Y14
	VPADDD    Y0, Y15, Y15
	VPSRAD    $11, Y8, Y8
	VPSRAD    $11, Y9, Y9
	VPSRAD    $11, Y10, Y10
	VPSRAD    $11, Y11, Y11
	VPSRAD    $11, Y12, Y12
	VPSRAD    $11, Y13, Y13
	VPSRAD    $11, Y14, Y14
	VPSRAD    $11, Y15, Y15
	VPACKSSDW Y9, Y8, Y0
	VPACKSSDW Y11, Y10, Y1
	VPACKSSDW Y13, Y12, Y2
	VPACKSSDW Y15, Y14, Y3
	VPACKUSWB Y1, Y0, Y0 // lane 0: byte 4i+y is column i of row y (i, y < 4)
	VPACKUSWB Y3, Y2, Y2 // the same for columns 4..7
	VPSHUFB   bytet<>(SB), Y0, Y0
	VPSHUFB   bytet<>(SB), Y2, Y2
	VPUNPCKLDQ Y2, Y0, Y4 // rows 0, 1 | 4, 5
	VPUNPCKHDQ Y2, Y0, Y5 // rows 2, 3 | 6, 7
	VEXTRACTI128 $1, Y4, X6
	VEXTRACTI128 $1, Y5, X7
	LEAQ (CX)(CX*2), R8
	LEAQ (SI)(CX*4), DX
	VMOVQ   X4, (SI)
	VPEXTRQ $1, X4, (SI)(CX*1)
	VMOVQ   X5, (SI)(CX*2)
	VPEXTRQ $1, X5, (SI)(R8*1)
	VMOVQ   X6, (DX)
	VPEXTRQ $1, X6, (DX)(CX*1)
	VMOVQ   X7, (DX)(CX*2)
	VPEXTRQ $1, X7, (DX)(R8*1)
	VZEROUPPER
	RET

// CODE_BLOCK codes one block, the body codeBlockAMD64 and codeBlocksAMD64
// share, in registers the compiler could not keep: AX acc, BX free, R8 the
// write pointer, SI vals, R9 order, R10 the mask of the AC coefficients not
// coded yet, DI the zigzag index of the last one coded (0 on entry), R12 the
// tables, R13 valueBits, DX the DC difference on entry. Each code reaches emit
// with its bits in DX and its length in CX. It jumps to end once the block is
// coded; R11 and CX are scratch.
//
// - The DC difference: the code of its size category, then its value bits.
// - loop: XORL CX before BSF, which leaves its destination alone for 0:
//   without it, each coefficient would wait for the last one's table loads.
//   R11 is the run of zeros before coefficient CX; valueBits holds a value's
//   bits above and its size below; the AC code is ht.ac[run<<4 | size].
// - flush: the first l+free bits of the code fill acc, whose 8 bytes go out;
//   the other -free bits stay. Any 0xFF byte among them is found with the
//   zero-byte test on ^w ((^w - 0x01..01) & w & 0x80..80), and then stuff
//   writes the 8 bytes again one at a time, a 0x00 after each 0xFF (T.81
//   B.1.1.5).
// - zrl: sixteen zeros, ZRL (ht.ac[0xf0]), then the same coefficient again.
// - eob: EOB (ht.ac[0x00]) unless the last coefficient coded was the block's
//   last; coding it moves DI there, so the second visit ends.
//
// Labels are local to each TEXT block, so both functions can expand it.
#define CODE_BLOCK(end) \
	ANDL $0xfff, DX \
	MOVWLZX (R13)(DX*2), DX \
	MOVL DX, CX \
	ANDL $15, CX \
	MOVL (R12)(CX*4), CX \
	SHRL $4, DX \
	MOVL CX, R11 \
	ANDL $0x3ffffff, R11 \
	ORL  R11, DX \
	SHRL $26, CX \
	JMP  emit \
loop: \
	TESTQ R10, R10 \
	JEQ   eob \
	XORL  CX, CX \
	BSFQ  R10, CX \
	MOVQ  CX, R11 \
	SUBQ  DI, R11 \
	SUBQ  $1, R11 \
	CMPQ  R11, $16 \
	JAE   zrl \
	MOVQ  CX, DI \
	LEAQ  -1(R10), DX \
	ANDQ  DX, R10 \
	MOVBLZX (R9)(CX*1), DX \
	MOVWLSX (SI)(DX*2), DX \
	ANDL  $0xfff, DX \
	MOVWLZX (R13)(DX*2), DX \
	MOVL  DX, CX \
	ANDL  $15, CX \
	SHLL  $4, R11 \
	ORL   R11, CX \
	MOVL  64(R12)(CX*4), CX \
	SHRL  $4, DX \
	MOVL  CX, R11 \
	ANDL  $0x3ffffff, R11 \
	ORL   R11, DX \
	SHRL  $26, CX \
emit: \
	SUBQ CX, BX \
	JLT  flush \
	SHLQ CX, AX \
	ORQ  DX, AX \
	JMP  loop \
flush: \
	LEAQ (CX)(BX*1), CX \
	SHLQ CX, AX \
	MOVQ BX, CX \
	NEGQ CX \
	MOVQ DX, R11 \
	SHRQ CX, R11 \
	ORQ  R11, AX \
	MOVQ AX, R11 \
	BSWAPQ R11 \
	MOVQ R11, (R8) \
	MOVQ AX, R11 \
	NOTQ R11 \
	MOVQ $0x0101010101010101, CX \
	SUBQ CX, R11 \
	ANDQ AX, R11 \
	MOVQ $0x8080808080808080, CX \
	TESTQ CX, R11 \
	JNE  stuff \
	ADDQ $8, R8 \
flushed: \
	MOVQ DX, AX \
	ADDQ $64, BX \
	JMP  loop \
stuff: \
	MOVQ $8, CX \
stuffbyte: \
	ROLQ $8, AX \
	MOVB AX, (R8) \
	INCQ R8 \
	CMPB AX, $0xff \
	JNE  stuffnext \
	MOVB $0, (R8) \
	INCQ R8 \
stuffnext: \
	DECQ CX \
	JNE  stuffbyte \
	JMP  flushed \
zrl: \
	ADDQ $16, DI \
	MOVL 1024(R12), CX \
	MOVL CX, DX \
	ANDL $0x3ffffff, DX \
	SHRL $26, CX \
	JMP  emit \
eob: \
	CMPQ DI, $63 \
	JEQ  end \
	MOVQ $63, DI \
	MOVL 64(R12), CX \
	MOVL CX, DX \
	ANDL $0x3ffffff, DX \
	SHRL $26, CX \
	JMP  emit

// func codeBlockAMD64(out *byte, s *bitState, vals *[64]int16, order *[64]uint8, nz uint64, diff int32, ht *encTables) int
//
// codeBlockGeneric (encode.go) with the same accumulator, tables and output:
// CODE_BLOCK on one block. Baseline x86-64 only.
TEXT ·codeBlockAMD64(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), R8
	MOVQ s+8(FP), R11
	MOVQ 0(R11), AX
	MOVQ 8(R11), BX
	MOVQ vals+16(FP), SI
	MOVQ order+24(FP), R9
	MOVQ nz+32(FP), R10
	MOVQ ht+48(FP), R12
	LEAQ ·valueBits(SB), R13
	XORL DI, DI
	MOVL diff+40(FP), DX
	CODE_BLOCK(done)

done:
	MOVQ s+8(FP), R11
	MOVQ AX, 0(R11)
	MOVQ BX, 8(R11)
	SUBQ out+0(FP), R8
	MOVQ R8, ret+56(FP)
	RET

// func codeBlocksAMD64(out *byte, s *bitState, vals *coefs, order *[64]uint8, nz *[mcuBlocks]uint64, diff *[mcuBlocks]int64, n, nlum int, lum, chrom *encTables) int
//
// codeBlockAMD64 on the n blocks vals[0], vals[1], ... (one MCU) in turn, the
// first nlum with the tables lum and the rest with chrom, block i with the AC
// mask nz[i] (bit 0 is ignored) and the DC difference diff[i]: one call per MCU
// instead of one per block, with the accumulator kept in AX and BX throughout.
// Each block is CODE_BLOCK, with its registers; the block index lives in the
// frame.
TEXT ·codeBlocksAMD64(SB), NOSPLIT, $8-88
	MOVQ out+0(FP), R8
	MOVQ s+8(FP), R11
	MOVQ 0(R11), AX
	MOVQ 8(R11), BX
	MOVQ order+24(FP), R9
	LEAQ ·valueBits(SB), R13
	MOVQ $0, idx-8(SP)

mcunext:
	MOVQ idx-8(SP), CX
	CMPQ CX, n+48(FP)
	JGE  mcudone
	MOVQ lum+64(FP), R12
	CMPQ CX, nlum+56(FP)
	CMOVQGE chrom+72(FP), R12
	MOVQ nz+32(FP), R11
	MOVQ (R11)(CX*8), R10
	ANDQ $-2, R10
	MOVQ diff+40(FP), R11
	MOVQ (R11)(CX*8), DX
	MOVQ CX, SI
	SHLQ $7, SI // 128 bytes a block
	ADDQ vals+16(FP), SI
	INCQ CX
	MOVQ CX, idx-8(SP)
	XORL DI, DI
	CODE_BLOCK(mcunext)

mcudone:
	MOVQ s+8(FP), R11
	MOVQ AX, 0(R11)
	MOVQ BX, 8(R11)
	SUBQ out+0(FP), R8
	MOVQ R8, ret+80(FP)
	RET

// func prefetchRowsAMD64(p *byte, stride, n int)
//
// PREFETCHT0 of p, p+stride, ... n rows (n >= 1).
TEXT ·prefetchRowsAMD64(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), CX
	MOVQ n+16(FP), DX

prefetchrow:
	PREFETCHT0 (SI)
	ADDQ CX, SI
	DECQ DX
	JNE  prefetchrow
	RET
