//go:build amd64 && !purego

#include "textflag.h"

// func coefsAMD64(st *coefState, seg *byte, segLen int, dcLookup *[1 << lookupBits]uint16, acTab *[1 << acBits]int32, blk *[blockSize]int32, q *decQuant, unzig *[256]uint8)
//
// huffCoefs (huffdec.go) for the symbols its tables resolve at once, with the
// same operations in the same order as the Go code: refill, table load, shift,
// dequantised store at the natural position. With st.k == 0 it clears blk and
// decodes the DC first (unless its code is longer than lookupBits or its size
// above 11: then it returns with k still 0, leaving the DC to Go); with k > 0
// it goes on with the AC coefficients from position k. It returns with the
// state in st at the first AC symbol decTable.ac does not resolve (entry 0),
// when a refill would read past segLen, or when the position reaches the
// block's end (k >= 64: the end, an end of block, or a coefficient past the
// block, which the Go code tells apart).
//
// Registers: AX acc, BX n, DX the last position written (k-1), SI seg,
// DI pos, R8 segLen-8, R9 the table, R10 blk, R11 q, R12 unzig, R13 the
// position the AC loop started at; CX and R14 are scratch.
TEXT ·coefsAMD64(SB), NOSPLIT, $0-64
	MOVQ st+0(FP), R14
	MOVQ 0(R14), AX
	MOVQ 8(R14), BX
	MOVQ 16(R14), DI
	MOVQ 24(R14), DX
	MOVQ seg+8(FP), SI
	MOVQ segLen+16(FP), R8
	SUBQ $8, R8
	MOVQ blk+40(FP), R10
	MOVQ q+48(FP), R11
	MOVQ unzig+56(FP), R12
	TESTQ DX, DX
	JNZ  ac

	// The DC (§F.2.2.1): a size category from dcLookup, then that many bits.
	CMPQ BX, $32
	JAE  dcdecode
	CMPQ DI, R8
	JGT  dcdone // fewer than 8 bytes left: the Go code pads with zeros
	MOVQ (SI)(DI*1), R14
	BSWAPQ R14
	MOVQ BX, CX
	SHRQ CX, R14
	ORQ  R14, AX
	MOVQ $63, CX
	SUBQ BX, CX
	SHRQ $3, CX
	ADDQ CX, DI
	ORQ  $56, BX

dcdecode:
	MOVQ    dcLookup+24(FP), R9
	MOVQ    AX, R14
	SHRQ    $(64-9), R14 // lookupBits
	MOVWQZX (R9)(R14*2), R14
	TESTQ   R14, R14
	JZ      dcdone // a longer code: Go's general path
	CMPB    R14B, $11
	JA      dcdone // an invalid size: Go reports it
	MOVQ    R14, CX
	SHRQ    $8, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	ANDQ    $15, R14 // size s
	MOVQ    st+0(FP), CX
	MOVLQSX 32(CX), R9   // prevDC
	TESTQ   R14, R14
	JZ      dcstore
	// dc += extend(acc >> (64-s), s); acc <<= s; n -= s.
	MOVQ    $64, CX
	SUBQ    R14, CX
	MOVQ    AX, R13
	SHRQ    CX, R13      // v
	MOVQ    R14, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	DECQ    CX
	MOVQ    $1, DX
	SHLQ    CX, DX       // 1 << (s-1)
	LEAQ    1(R13), CX   // v < 1<<(s-1): v += 1 - 2^s = v + 1 - 2*(1<<(s-1))
	SUBQ    DX, CX
	SUBQ    DX, CX
	CMPQ    R13, DX
	CMOVQLT CX, R13
	ADDL    R13, R9

dcstore:
	// Clear blk, store the dequantised DC, and return the DC in st.
	PXOR   X0, X0
	MOVOU  X0, 0(R10)
	MOVOU  X0, 16(R10)
	MOVOU  X0, 32(R10)
	MOVOU  X0, 48(R10)
	MOVOU  X0, 64(R10)
	MOVOU  X0, 80(R10)
	MOVOU  X0, 96(R10)
	MOVOU  X0, 112(R10)
	MOVOU  X0, 128(R10)
	MOVOU  X0, 144(R10)
	MOVOU  X0, 160(R10)
	MOVOU  X0, 176(R10)
	MOVOU  X0, 192(R10)
	MOVOU  X0, 208(R10)
	MOVOU  X0, 224(R10)
	MOVOU  X0, 240(R10)
	MOVQ   st+0(FP), CX
	MOVL   R9, 32(CX)
	IMULL  (R11), R9
	MOVL   R9, (R10)
	XORL   DX, DX
	JMP    acstart

ac:
	DECQ DX // the AC loop counts the last position written

acstart:
	MOVQ DX, R13 // the position before the first AC symbol
	MOVQ acTab+32(FP), R9
	CMPQ DX, $63
	JGE  done

loop:
	// Refill: acc |= the 8 bytes at pos >> n; pos += (63-n)/8; n |= 56. The
	// bits below n are already the stream's (or zero), so this may run with
	// any n; with 56 or more bits, four entries of at most acBits = 11 bits
	// each decode before the next refill. Only BX's low byte is n: the loop
	// subtracts whole entries from it.
	CMPQ    DI, R8
	JGT     done // fewer than 8 bytes left: the Go code pads with zeros
	MOVBQZX BX, BX
	MOVQ    (SI)(DI*1), R14
	BSWAPQ  R14
	MOVQ    BX, CX
	SHRQ    CX, R14
	ORQ     R14, AX
	MOVQ    $63, CX
	SUBQ    BX, CX
	SHRQ    $3, CX
	ADDQ    CX, DI
	ORQ     $56, BX

	MOVQ    AX, R14
	SHRQ    $(64-11), R14 // acBits
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      done // not in the table: Go's general path
	MOVQ    R14, CX
	SHLQ    CX, AX // by the bits consumed, the low 6 bits of the entry
	SUBQ    R14, BX // n's low byte -= the bits consumed
	SHRQ    $8, CX
	ANDQ    $127, CX
	ADDQ    CX, DX // += step
	SARQ    $16, R14 // value
	MOVQ    DX, CX
	ANDQ    $63, CX
	IMULL   (R11)(CX*4), R14
	MOVBQZX (R12)(DX*1), CX
	MOVL    R14, (R10)(CX*4)
	CMPQ    DX, $63
	JGE     done

	MOVQ    AX, R14
	SHRQ    $(64-11), R14 // acBits
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      done // not in the table: Go's general path
	MOVQ    R14, CX
	SHLQ    CX, AX // by the bits consumed, the low 6 bits of the entry
	SUBQ    R14, BX // n's low byte -= the bits consumed
	SHRQ    $8, CX
	ANDQ    $127, CX
	ADDQ    CX, DX // += step
	SARQ    $16, R14 // value
	MOVQ    DX, CX
	ANDQ    $63, CX
	IMULL   (R11)(CX*4), R14
	MOVBQZX (R12)(DX*1), CX
	MOVL    R14, (R10)(CX*4)
	CMPQ    DX, $63
	JGE     done

	MOVQ    AX, R14
	SHRQ    $(64-11), R14 // acBits
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      done // not in the table: Go's general path
	MOVQ    R14, CX
	SHLQ    CX, AX // by the bits consumed, the low 6 bits of the entry
	SUBQ    R14, BX // n's low byte -= the bits consumed
	SHRQ    $8, CX
	ANDQ    $127, CX
	ADDQ    CX, DX // += step
	SARQ    $16, R14 // value
	MOVQ    DX, CX
	ANDQ    $63, CX
	IMULL   (R11)(CX*4), R14
	MOVBQZX (R12)(DX*1), CX
	MOVL    R14, (R10)(CX*4)
	CMPQ    DX, $63
	JGE     done

	MOVQ    AX, R14
	SHRQ    $(64-11), R14 // acBits
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      done // not in the table: Go's general path
	MOVQ    R14, CX
	SHLQ    CX, AX // by the bits consumed, the low 6 bits of the entry
	SUBQ    R14, BX // n's low byte -= the bits consumed
	SHRQ    $8, CX
	ANDQ    $127, CX
	ADDQ    CX, DX // += step
	SARQ    $16, R14 // value
	MOVQ    DX, CX
	ANDQ    $63, CX
	IMULL   (R11)(CX*4), R14
	MOVBQZX (R12)(DX*1), CX
	MOVL    R14, (R10)(CX*4)
	CMPQ    DX, $63
	JGE     done
	JMP     loop

done:
	// k = DX+1; any |= 1 if a coefficient was written: the last position
	// (less an end of block's step) is past the one the loop started at.
	MOVQ    st+0(FP), R14
	MOVQ    AX, 0(R14)
	MOVBQZX BX, BX
	MOVQ    BX, 8(R14)
	MOVQ    DI, 16(R14)
	LEAQ    1(DX), CX
	MOVQ    CX, 24(R14)
	MOVQ    DX, CX
	SUBQ    $81, CX // acEOBStep
	CMOVQLT DX, CX
	CMPQ    CX, R13
	JLE     nowrite
	ORL     $1, 36(R14)

nowrite:
	RET

dcdone:
	// The DC is left to Go: k stays 0.
	MOVQ st+0(FP), R14
	MOVQ AX, 0(R14)
	MOVQ BX, 8(R14)
	MOVQ DI, 16(R14)
	RET
