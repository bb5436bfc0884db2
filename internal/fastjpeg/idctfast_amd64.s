//go:build amd64 && !purego

#include "textflag.h"

// idctFastAVX2 is idctFastGeneric (idct.go) with VEX-coded 128-bit integer
// instructions: a row of eight 16-bit lanes per X register, so each pass is the
// flow graph once over eight registers. The sums wrap (VPADDW/VPSUBW) and the
// multiplications are VPMULHRSW by 15-bit fractions, as the reference computes
// them, so the result is the same bit for bit. Between the passes the 8x8 words
// are transposed with unpacks; the bytes of the result are transposed back to
// rows the same way.

// The fractions of the AAN constants (idct.go's ifast0_*), sixteen lanes each:
// idctFastAVX2 reads the first eight, idctFast2AVX2 all of them.
DATA ifk414<>+0(SB)/8, $0x3505350535053505
DATA ifk414<>+8(SB)/8, $0x3505350535053505
DATA ifk414<>+16(SB)/8, $0x3505350535053505
DATA ifk414<>+24(SB)/8, $0x3505350535053505
GLOBL ifk414<>(SB), RODATA|NOPTR, $32

DATA ifk848<>+0(SB)/8, $0x6c836c836c836c83
DATA ifk848<>+8(SB)/8, $0x6c836c836c836c83
DATA ifk848<>+16(SB)/8, $0x6c836c836c836c83
DATA ifk848<>+24(SB)/8, $0x6c836c836c836c83
GLOBL ifk848<>(SB), RODATA|NOPTR, $32

DATA ifk082<>+0(SB)/8, $0x0a8c0a8c0a8c0a8c
DATA ifk082<>+8(SB)/8, $0x0a8c0a8c0a8c0a8c
DATA ifk082<>+16(SB)/8, $0x0a8c0a8c0a8c0a8c
DATA ifk082<>+24(SB)/8, $0x0a8c0a8c0a8c0a8c
GLOBL ifk082<>(SB), RODATA|NOPTR, $32

DATA ifk613<>+0(SB)/8, $0x4e7b4e7b4e7b4e7b
DATA ifk613<>+8(SB)/8, $0x4e7b4e7b4e7b4e7b
DATA ifk613<>+16(SB)/8, $0x4e7b4e7b4e7b4e7b
DATA ifk613<>+24(SB)/8, $0x4e7b4e7b4e7b4e7b
GLOBL ifk613<>(SB), RODATA|NOPTR, $32

// ifastBias in the DC's lane of each 128-bit half only.
DATA ifbias<>+0(SB)/8, $0x1010
DATA ifbias<>+8(SB)/8, $0
DATA ifbias<>+16(SB)/8, $0x1010
DATA ifbias<>+24(SB)/8, $0
GLOBL ifbias<>(SB), RODATA|NOPTR, $32

// IFAST_PASS runs ifastPass over x0..x7 (one value per lane), with t0 and t1 as
// scratch. The outputs land in o0=x5, o1=x6, o2=x2, o3=x1, o4=x3, o5=x0, o6=x4,
// o7=x7.
#define IFAST_PASS(x0, x1, x2, x3, x4, x5, x6, x7, t0, t1) \
	VPADDW    x4, x0, t0          \ /* tmp10 */
	VPSUBW    x4, x0, x0          \ /* tmp11 */
	VPADDW    x6, x2, x4          \ /* tmp13 */
	VPSUBW    x6, x2, x2          \
	VPMULHRSW ifk414<>(SB), x2, x6 \
	VPADDW    x6, x2, x2          \
	VPSUBW    x4, x2, x2          \ /* tmp12 */
	VPADDW    x4, t0, x6          \ /* tmp0 */
	VPSUBW    x4, t0, t0          \ /* tmp3 */
	VPADDW    x2, x0, x4          \ /* tmp1 */
	VPSUBW    x2, x0, x0          \ /* tmp2 */
	VPADDW    x3, x5, x2          \ /* z13 */
	VPSUBW    x3, x5, x5          \ /* z10 */
	VPADDW    x7, x1, x3          \ /* z11 */
	VPSUBW    x7, x1, x1          \ /* z12 */
	VPADDW    x2, x3, x7          \ /* tmp7 */
	VPSUBW    x2, x3, x3          \
	VPMULHRSW ifk414<>(SB), x3, x2 \
	VPADDW    x2, x3, x3          \ /* tmp11 */
	VPADDW    x1, x5, x2          \
	VPMULHRSW ifk848<>(SB), x2, t1 \
	VPADDW    t1, x2, x2          \ /* z5 */
	VPMULHRSW ifk082<>(SB), x1, t1 \
	VPADDW    t1, x1, x1          \
	VPSUBW    x2, x1, x1          \ /* tmp10 */
	VPMULHRSW ifk613<>(SB), x5, t1 \
	VPSUBW    x5, x2, x2          \
	VPSUBW    x5, x2, x2          \
	VPSUBW    t1, x2, x2          \ /* tmp12 */
	VPSUBW    x7, x2, x2          \ /* tmp6 */
	VPSUBW    x2, x3, x3          \ /* tmp5 */
	VPADDW    x3, x1, x1          \ /* tmp4 */
	VPADDW    x7, x6, x5          \ /* o0 */
	VPSUBW    x7, x6, x7          \ /* o7 */
	VPADDW    x2, x4, x6          \ /* o1 */
	VPSUBW    x2, x4, x4          \ /* o6 */
	VPADDW    x3, x0, x2          \ /* o2 */
	VPSUBW    x3, x0, x0          \ /* o5 */
	VPADDW    x1, t0, x3          \ /* o4 */
	VPSUBW    x1, t0, x1            /* o3 */

// TRANSPOSE transposes the 8x8 words of a0..a7 (rows) into b0..b7 (columns),
// clobbering a0..a7.
#define TRANSPOSE(a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7) \
	VPUNPCKLWD  a1, a0, b0 \
	VPUNPCKHWD  a1, a0, b1 \
	VPUNPCKLWD  a3, a2, b2 \
	VPUNPCKHWD  a3, a2, b3 \
	VPUNPCKLWD  a5, a4, b4 \
	VPUNPCKHWD  a5, a4, b5 \
	VPUNPCKLWD  a7, a6, b6 \
	VPUNPCKHWD  a7, a6, b7 \
	VPUNPCKLDQ  b2, b0, a0 \
	VPUNPCKHDQ  b2, b0, a1 \
	VPUNPCKLDQ  b3, b1, a2 \
	VPUNPCKHDQ  b3, b1, a3 \
	VPUNPCKLDQ  b6, b4, a4 \
	VPUNPCKHDQ  b6, b4, a5 \
	VPUNPCKLDQ  b7, b5, a6 \
	VPUNPCKHDQ  b7, b5, a7 \
	VPUNPCKLQDQ a4, a0, b0 \
	VPUNPCKHQDQ a4, a0, b1 \
	VPUNPCKLQDQ a5, a1, b2 \
	VPUNPCKHQDQ a5, a1, b3 \
	VPUNPCKLQDQ a6, a2, b4 \
	VPUNPCKHQDQ a6, a2, b5 \
	VPUNPCKLQDQ a7, a3, b6 \
	VPUNPCKHQDQ a7, a3, b7

// func idctFastAVX2(blk *[blockSize]int32, dst *byte, stride int)
TEXT ·idctFastAVX2(SB), NOSPLIT, $0-24
	MOVQ blk+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ stride+16(FP), SI

	// Rows 0..7 saturated to 16 bits, the bias added to the DC.
	VMOVDQU   0(AX), X0
	VPACKSSDW 16(AX), X0, X0
	VMOVDQU   32(AX), X1
	VPACKSSDW 48(AX), X1, X1
	VMOVDQU   64(AX), X2
	VPACKSSDW 80(AX), X2, X2
	VMOVDQU   96(AX), X3
	VPACKSSDW 112(AX), X3, X3
	VMOVDQU   128(AX), X4
	VPACKSSDW 144(AX), X4, X4
	VMOVDQU   160(AX), X5
	VPACKSSDW 176(AX), X5, X5
	VMOVDQU   192(AX), X6
	VPACKSSDW 208(AX), X6, X6
	VMOVDQU   224(AX), X7
	VPACKSSDW 240(AX), X7, X7
	VPADDSW   ifbias<>(SB), X0, X0

	// Columns: each lane is one column; output row k is o_k.
	IFAST_PASS(X0, X1, X2, X3, X4, X5, X6, X7, X8, X9)

	// Rows o0..o7 = X5, X6, X2, X1, X3, X0, X4, X7 into columns X8..X15.
	TRANSPOSE(X5, X6, X2, X1, X3, X0, X4, X7, X8, X9, X10, X11, X12, X13, X14, X15)

	// Rows: each lane is one row; output column k is o_k.
	IFAST_PASS(X8, X9, X10, X11, X12, X13, X14, X15, X0, X1)

	// Columns o0..o7 = X13, X14, X10, X9, X11, X8, X12, X15: descale, saturate to
	// bytes two columns a register, then transpose the bytes to rows.
	VPSRAW    $5, X13, X13
	VPSRAW    $5, X14, X14
	VPSRAW    $5, X10, X10
	VPSRAW    $5, X9, X9
	VPSRAW    $5, X11, X11
	VPSRAW    $5, X8, X8
	VPSRAW    $5, X12, X12
	VPSRAW    $5, X15, X15
	VPACKUSWB X14, X13, X0 // columns 0, 1
	VPACKUSWB X9, X10, X1  // columns 2, 3
	VPACKUSWB X8, X11, X2  // columns 4, 5
	VPACKUSWB X15, X12, X3 // columns 6, 7
	VPUNPCKLBW X1, X0, X4  // c0 c2 of rows 0..7
	VPUNPCKHBW X1, X0, X5  // c1 c3
	VPUNPCKLBW X3, X2, X6  // c4 c6
	VPUNPCKHBW X3, X2, X7  // c5 c7
	VPUNPCKLBW X5, X4, X0  // c0..c3 of rows 0..3
	VPUNPCKHBW X5, X4, X1  // c0..c3 of rows 4..7
	VPUNPCKLBW X7, X6, X2  // c4..c7 of rows 0..3
	VPUNPCKHBW X7, X6, X3  // c4..c7 of rows 4..7
	VPUNPCKLDQ X2, X0, X4  // rows 0, 1
	VPUNPCKHDQ X2, X0, X5  // rows 2, 3
	VPUNPCKLDQ X3, X1, X6  // rows 4, 5
	VPUNPCKHDQ X3, X1, X7  // rows 6, 7

	LEAQ    (SI)(SI*2), DX
	VMOVQ   X4, (DI)
	VMOVHPS X4, (DI)(SI*1)
	VMOVQ   X5, (DI)(SI*2)
	VMOVHPS X5, (DI)(DX*1)
	LEAQ    (DI)(SI*4), DI
	VMOVQ   X6, (DI)
	VMOVHPS X6, (DI)(SI*1)
	VMOVQ   X7, (DI)(SI*2)
	VMOVHPS X7, (DI)(DX*1)
	RET

// LOAD_ROW loads row r (byte offset off) of the blocks at AX and BX into y (A's
// row in the low 128-bit lane, B's in the high one), saturated to 16 bits; t is
// scratch.
#define LOAD_ROW(off, y, x, t, tx) \
	VMOVDQU     off(AX), x             \
	VINSERTI128 $1, off(BX), y, y      \
	VMOVDQU     off+16(AX), tx         \
	VINSERTI128 $1, off+16(BX), t, t   \
	VPACKSSDW   t, y, y

// STORE_ROWS writes the two rows of x (8 bytes each) at (DI) and (DI)(SI*1).
#define STORE_ROWS(x, p, s) \
	VMOVQ   x, (p)         \
	VMOVHPS x, (p)(s*1)

// func idctFast2AVX2(a, b *[blockSize]int32, dstA *byte, strideA int, dstB *byte, strideB int)
//
// idctFast2AVX2 is idctFastAVX2 on two blocks at once, a in the low 128-bit lane
// of each Y register and b in the high one: the VEX-256 integer instructions,
// unpacks and packs included, work within each lane, so the flow graph and the
// transposes run both blocks for the instruction count of one.
TEXT ·idctFast2AVX2(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ dstA+16(FP), DI
	MOVQ strideA+24(FP), SI
	MOVQ dstB+32(FP), R8
	MOVQ strideB+40(FP), R9

	LOAD_ROW(0, Y0, X0, Y8, X8)
	LOAD_ROW(32, Y1, X1, Y9, X9)
	LOAD_ROW(64, Y2, X2, Y10, X10)
	LOAD_ROW(96, Y3, X3, Y11, X11)
	LOAD_ROW(128, Y4, X4, Y12, X12)
	LOAD_ROW(160, Y5, X5, Y13, X13)
	LOAD_ROW(192, Y6, X6, Y14, X14)
	LOAD_ROW(224, Y7, X7, Y15, X15)
	VPADDSW ifbias<>(SB), Y0, Y0

	IFAST_PASS(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9)
	TRANSPOSE(Y5, Y6, Y2, Y1, Y3, Y0, Y4, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	IFAST_PASS(Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15, Y0, Y1)

	VPSRAW     $5, Y13, Y13
	VPSRAW     $5, Y14, Y14
	VPSRAW     $5, Y10, Y10
	VPSRAW     $5, Y9, Y9
	VPSRAW     $5, Y11, Y11
	VPSRAW     $5, Y8, Y8
	VPSRAW     $5, Y12, Y12
	VPSRAW     $5, Y15, Y15
	VPACKUSWB  Y14, Y13, Y0
	VPACKUSWB  Y9, Y10, Y1
	VPACKUSWB  Y8, Y11, Y2
	VPACKUSWB  Y15, Y12, Y3
	VPUNPCKLBW Y1, Y0, Y4
	VPUNPCKHBW Y1, Y0, Y5
	VPUNPCKLBW Y3, Y2, Y6
	VPUNPCKHBW Y3, Y2, Y7
	VPUNPCKLBW Y5, Y4, Y0
	VPUNPCKHBW Y5, Y4, Y1
	VPUNPCKLBW Y7, Y6, Y2
	VPUNPCKHBW Y7, Y6, Y3
	VPUNPCKLDQ Y2, Y0, Y4 // rows 0, 1 of a | of b
	VPUNPCKHDQ Y2, Y0, Y5 // rows 2, 3
	VPUNPCKLDQ Y3, Y1, Y6 // rows 4, 5
	VPUNPCKHDQ Y3, Y1, Y7 // rows 6, 7
	VEXTRACTI128 $1, Y4, X0
	VEXTRACTI128 $1, Y5, X1
	VEXTRACTI128 $1, Y6, X2
	VEXTRACTI128 $1, Y7, X3

	// Block a's rows, then b's.
	LEAQ (SI)(SI*2), DX
	STORE_ROWS(X4, DI, SI)
	VMOVQ   X5, (DI)(SI*2)
	VMOVHPS X5, (DI)(DX*1)
	LEAQ (DI)(SI*4), DI
	STORE_ROWS(X6, DI, SI)
	VMOVQ   X7, (DI)(SI*2)
	VMOVHPS X7, (DI)(DX*1)

	LEAQ (R9)(R9*2), DX
	STORE_ROWS(X0, R8, R9)
	VMOVQ   X1, (R8)(R9*2)
	VMOVHPS X1, (R8)(DX*1)
	LEAQ (R8)(R9*4), R8
	STORE_ROWS(X2, R8, R9)
	VMOVQ   X3, (R8)(R9*2)
	VMOVHPS X3, (R8)(DX*1)
	VZEROUPPER
	RET
