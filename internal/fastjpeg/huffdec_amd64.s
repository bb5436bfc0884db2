//go:build amd64 && !purego

#include "go_asm.h"
#include "textflag.h"

// func coefsAMD64(br *bitReader, dcT, acT *decTable, blk *[blockSize]int32, q *decQuant, unzig *[256]uint8, dc int32, k int) (int, int32, bool)
//
// huffCoefs (huffdec.go) for the symbols its tables resolve, with the same
// arithmetic as the Go loop: table load, shift, dequantised store at the
// natural position. With k == 0 it clears blk and decodes the DC first
// (unless its code is longer than lookupBits or its size above 11: then it
// returns k = 0, leaving the DC to Go); with k > 0 it goes on with the AC
// coefficients from position k. AC symbols come from decTable.ac, or, for a
// coefficient whose code and value take more than acBits bits, from
// decTable.lookup or maxCode and the value bits. It returns the next position
// k, the DC and whether it wrote an AC coefficient, with br's acc, n and pos
// advanced, at the first symbol it leaves to Go (ZRL, no code), when a
// refill would read past the segment's buffer, or when the
// position reaches the block's end (k >= 64: the end, an end of block, or a
// coefficient past the block, which the Go code tells apart).
//
// Registers: AX acc, BX n, DX the last position written (k-1), SI seg,
// DI pos, R8 len(seg)-8, R9 acT.ac, R10 blk, R11 q, R12 unzig, R13 the
// position the AC loop started at; CX, R14 and R15 are scratch (no global
// is read, so R15 is free).
TEXT ·coefsAMD64(SB), NOSPLIT, $0-77
	MOVQ br+0(FP), R14
	MOVQ bitReader_acc(R14), AX
	MOVQ bitReader_n(R14), BX
	MOVQ bitReader_pos(R14), DI
	MOVQ bitReader_seg(R14), SI
	MOVQ bitReader_seg+8(R14), R8
	SUBQ $8, R8
	MOVQ blk+24(FP), R10
	MOVQ q+32(FP), R11
	MOVQ unzig+40(FP), R12
	MOVLQSX dc+48(FP), R15
	MOVL R15, ret1+72(FP)
	MOVB $0, ret2+76(FP)
	MOVQ k+56(FP), DX
	TESTQ DX, DX
	JNZ  ac

	// The DC (§F.2.2.1): a size category from dcT.lookup, then that many bits.
	CMPQ BX, $32
	JAE  dcdecode
	CMPQ DI, R8
	JGT  dcdone // fewer than 8 bytes left: the Go code pads with zeros
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

dcdecode:
	MOVQ    dcT+8(FP), R9
	MOVQ    AX, R14
	SHRQ    $(64-const_lookupBits), R14
	MOVWQZX decTable_lookup(R9)(R14*2), R14
	TESTQ   R14, R14
	JZ      dcdone // a longer code: Go's general path
	CMPB    R14B, $11
	JA      dcdone // an invalid size: Go reports it
	MOVQ    R14, CX
	SHRQ    $8, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	ANDQ    $15, R14 // size s
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
	ADDL    R13, R15

dcstore:
	// Clear blk (the kernels run where the CPU has AVX2), store the
	// dequantised DC and return the DC.
	VPXOR   Y0, Y0, Y0
	VMOVDQU Y0, 0(R10)
	VMOVDQU Y0, 32(R10)
	VMOVDQU Y0, 64(R10)
	VMOVDQU Y0, 96(R10)
	VMOVDQU Y0, 128(R10)
	VMOVDQU Y0, 160(R10)
	VMOVDQU Y0, 192(R10)
	VMOVDQU Y0, 224(R10)
	VZEROUPPER
	MOVL   R15, ret1+72(FP)
	IMULL  (R11), R15
	MOVL   R15, (R10)
	XORL   DX, DX
	JMP    acstart

ac:
	DECQ DX // the AC loop counts the last position written

acstart:
	MOVQ DX, R13 // the position before the first AC symbol
	MOVQ acT+16(FP), R9
	ADDQ $decTable_ac, R9
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
	SHRQ    $(64-const_acBits), R14
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      slow
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
	SHRQ    $(64-const_acBits), R14
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      slow
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
	SHRQ    $(64-const_acBits), R14
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      slow
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
	SHRQ    $(64-const_acBits), R14
	MOVLQSX (R9)(R14*4), R14
	TESTQ   R14, R14
	JZ      slow
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

slow:
	// decTable.ac has no entry: a coefficient whose code and value take more
	// than acBits bits, its code from decTable.lookup or, longer, from
	// maxCode; ZRL and corrupt data are left to Go. After a refill, the at
	// most 16+15 bits are there.
	CMPQ    DI, R8
	JGT     done
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
	SHRQ    $(64-const_lookupBits), R14
	MOVWQZX (decTable_lookup-decTable_ac)(R9)(R14*2), R14 // len<<8 | run<<4 | size
	TESTQ   R14, R14
	JNZ     slowhave

	// A code longer than lookupBits: decTable.slow's search of maxCode,
	// with CX = 64 - the length tried.
	MOVQ $(64-const_lookupBits-1), CX

slowcode:
	MOVQ AX, R14
	SHRQ CX, R14 // the code of that length
	MOVQ $64, R15
	SUBQ CX, R15
	CMPL R14, (decTable_maxCode-decTable_ac)(R9)(R15*4)
	JLE  slowfound
	DECQ CX
	CMPQ CX, $48
	JGE  slowcode
	JMP  done // no code: Go reports it

slowfound:
	ADDL    (decTable_valPtr-decTable_ac)(R9)(R15*4), R14
	MOVBQZX R14B, R14
	MOVBQZX (decTable_vals-decTable_ac)(R9)(R14*1), R14
	SHLQ    $8, R15
	ORQ     R15, R14

slowhave:
	TESTQ   $15, R14
	JZ      done // size 0: ZRL (an end of block is always in decTable.ac)
	MOVQ    R14, CX
	SHRQ    $8, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	MOVL    R14, R15
	ANDL    $15, R15 // size s
	SHRL    $4, R14
	ANDL    $15, R14 // run
	LEAQ    1(DX)(R14*1), DX
	// v = extend(acc >> (64-s), s); acc <<= s; n -= s.
	MOVQ    $64, CX
	SUBQ    R15, CX
	MOVQ    AX, R14
	SHRQ    CX, R14
	MOVQ    R15, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	DECQ    CX
	MOVQ    $1, R15
	SHLQ    CX, R15 // 1 << (s-1)
	LEAQ    1(R14), CX
	SUBQ    R15, CX
	SUBQ    R15, CX
	CMPQ    R14, R15
	CMOVQLT CX, R14
	MOVQ    DX, CX
	ANDQ    $63, CX
	IMULL   (R11)(CX*4), R14
	MOVBQZX (R12)(DX*1), CX
	MOVL    R14, (R10)(CX*4)
	CMPQ    DX, $63
	JGE     done
	JMP     loop

done:
	// k = DX+1; wrote: the last position (less an end of block's step) is
	// past the one the loop started at.
	MOVQ    br+0(FP), R14
	MOVQ    AX, bitReader_acc(R14)
	MOVBQZX BX, BX
	MOVQ    BX, bitReader_n(R14)
	MOVQ    DI, bitReader_pos(R14)
	LEAQ    1(DX), CX
	MOVQ    CX, ret+64(FP)
	MOVQ    DX, CX
	SUBQ    $const_acEOBStep, CX
	CMOVQLT DX, CX
	CMPQ    CX, R13
	SETGT   ret2+76(FP)
	RET

dcdone:
	// The DC is left to Go: k stays 0.
	MOVQ br+0(FP), R14
	MOVQ AX, bitReader_acc(R14)
	MOVQ BX, bitReader_n(R14)
	MOVQ DI, bitReader_pos(R14)
	MOVQ $0, ret+64(FP)
	RET

// RUN_AC_STEP is one entry of decTable.ac in coefsRunAMD64's loop: index it by
// the top acBits bits of AX (R15 holds 64-acBits), consume the entry's bits,
// advance DX by its step, store value times q at the zig-zag position; to rslow
// for an entry of 0, to rdone at the block's end.
#define RUN_AC_STEP \
	SHRXQ   R15, AX, CX \
	MOVLQSX (R9)(CX*4), R14 \
	TESTQ   R14, R14 \
	JZ      rslow \
	SHLXQ   R14, AX, AX \
	SUBQ    R14, BX \
	MOVBQZX 1(R9)(CX*4), CX \
	ADDQ    CX, DX \
	SARQ    $16, R14 \
	MOVBQZX (R12)(DX*1), CX \
	IMULL   (R11)(DX*4), R14 \
	MOVL    R14, (R10)(CX*4) \
	CMPQ    DX, $63 \
	JGE     rdone

// func coefsRunAMD64(br *bitReader, r *coefRun, unzig *[256]uint8, i, k int) (int, int)
//
// coefsAMD64 for the blocks of one MCU (r.n blocks at r.blk, each with its
// own tables, dequantiser and component) in one call: per block it clears
// it, decodes its DC into r.pred and its AC coefficients, and sets r.ac.
// With k == 0 it starts block i at its DC; with k > 0 it goes on with block
// i's AC coefficients from position k. It returns at the first symbol it
// leaves to Go, as coefsAMD64 does, with the block and the position there
// (position 0: the block's DC, left whole to Go; 1..63: the AC symbol at that
// position; 65..79: a coefficient past the block, an error), or with
// i == r.n once every block is decoded. br's acc, n and pos are advanced.
//
// The AC loop is coefsAMD64's in 13 micro-ops a coefficient instead of 17:
// shifts by a register are BMI2's SHRX/SHLX (one micro-op, no flags; the Go
// side runs this only where the CPU has BMI2), the step is loaded as the
// entry's second byte (decTable.ac's layout: bits 8-15, below the value)
// rather than shifted and masked out of it, and q is the component's r.qz,
// indexed by the zig-zag position with no mask, so the natural index and
// the step load in parallel.
//
// Registers: those of coefsAMD64 (AX acc, BX n, DX the last position
// written, SI seg, DI pos, R8 len(seg)-8, R9 acT.ac, R10 the block, R11 its
// component's r.qz, R12 unzig, R13 the position the AC loop started at); R15
// is 64-acBits in the AC loop and scratch elsewhere; the block index is kept
// in ret+40(FP).
TEXT ·coefsRunAMD64(SB), NOSPLIT, $0-56
	MOVQ br+0(FP), R14
	MOVQ bitReader_acc(R14), AX
	MOVQ bitReader_n(R14), BX
	MOVQ bitReader_pos(R14), DI
	MOVQ bitReader_seg(R14), SI
	MOVQ bitReader_seg+8(R14), R8
	SUBQ $8, R8
	MOVQ unzig+16(FP), R12
	MOVQ i+24(FP), R15
	MOVQ R15, ret+40(FP)
	MOVQ k+32(FP), DX
	TESTQ DX, DX
	JZ   rblock

	// Resume block i's AC coefficients at position k.
	MOVQ r+8(FP), R14
	MOVQ R15, R10
	SHLQ $8, R10 // blockSize int32s a block
	ADDQ coefRun_blk(R14), R10
	MOVQ  coefRun_comp(R14)(R15*8), R11
	IMULQ $(const_qzLen*4), R11
	LEAQ  coefRun_qz(R14)(R11*1), R11
	MOVQ coefRun_acT(R14)(R15*8), R9
	ADDQ $decTable_ac, R9
	DECQ DX
	MOVQ DX, R13
	CMPQ DX, $63
	JGE  rdone
	JMP  rloop

rblock:
	// Block i (in ret+40(FP)): its tables, then its DC (§F.2.2.1).
	MOVQ    ret+40(FP), R15
	MOVQ    r+8(FP), R9
	CMPQ    R15, coefRun_n(R9)
	JGE     rfinish
	MOVQ    R15, R10
	SHLQ    $8, R10 // blockSize int32s a block
	ADDQ    coefRun_blk(R9), R10
	MOVQ    coefRun_comp(R9)(R15*8), R11
	IMULQ   $(const_qzLen*4), R11
	LEAQ    coefRun_qz(R9)(R11*1), R11 // the component's q, padded
	MOVB    $0, coefRun_ac(R9)(R15*1)
	MOVBQZX BX, BX // only the low byte is n after an AC loop
	CMPQ    BX, $32
	JAE     rdcdecode
	CMPQ    DI, R8
	JGT     rstop0 // fewer than 8 bytes left: the Go code pads with zeros
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

rdcdecode:
	MOVQ    coefRun_dcT(R9)(R15*8), R13
	MOVQ    AX, R14
	SHRQ    $(64-const_lookupBits), R14
	MOVWQZX decTable_lookup(R13)(R14*2), R14
	TESTQ   R14, R14
	JZ      rstop0 // a longer code: Go's general path
	CMPB    R14B, $11
	JA      rstop0 // an invalid size: Go reports it
	MOVQ    R14, CX
	SHRQ    $8, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	MOVQ    coefRun_comp(R9)(R15*8), R15
	LEAQ    coefRun_pred(R9)(R15*4), R9 // the component's prediction
	MOVL    (R9), R15
	ANDQ    $15, R14 // size s
	JZ      rdcstore
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
	ADDL    R13, R15

rdcstore:
	// The prediction, blk cleared (the kernels run where the CPU has AVX2),
	// the dequantised DC, and the AC loop from position 1.
	MOVL    R15, (R9)
	VPXOR   Y0, Y0, Y0
	VMOVDQU Y0, 0(R10)
	VMOVDQU Y0, 32(R10)
	VMOVDQU Y0, 64(R10)
	VMOVDQU Y0, 96(R10)
	VMOVDQU Y0, 128(R10)
	VMOVDQU Y0, 160(R10)
	VMOVDQU Y0, 192(R10)
	VMOVDQU Y0, 224(R10)
	VZEROUPPER
	IMULL   (R11), R15
	MOVL    R15, (R10)
	XORL    DX, DX
	XORL    R13, R13
	MOVQ    ret+40(FP), R15
	MOVQ    r+8(FP), R14
	MOVQ    coefRun_acT(R14)(R15*8), R9
	ADDQ    $decTable_ac, R9

rloop:
	// coefsAMD64's loop: a refill, then four entries of decTable.ac.
	MOVL    $(64-const_acBits), R15 // the slow path takes R15 too
	CMPQ    DI, R8
	JGT     rdone // fewer than 8 bytes left: the Go code pads with zeros
	MOVBQZX BX, BX
	MOVQ    (SI)(DI*1), R14
	BSWAPQ  R14
	SHRXQ   BX, R14, R14
	ORQ     R14, AX
	MOVQ    $63, CX
	SUBQ    BX, CX
	SHRQ    $3, CX
	ADDQ    CX, DI
	ORQ     $56, BX

	RUN_AC_STEP
	RUN_AC_STEP
	RUN_AC_STEP
	RUN_AC_STEP
	JMP     rloop

rslow:
	// coefsAMD64's slow path: a coefficient whose code and value take more
	// than acBits bits; ZRL and corrupt data are left to Go.
	CMPQ    DI, R8
	JGT     rdone
	MOVBQZX BX, BX
	MOVQ    (SI)(DI*1), R14
	BSWAPQ  R14
	SHRXQ   BX, R14, R14
	ORQ     R14, AX
	MOVQ    $63, CX
	SUBQ    BX, CX
	SHRQ    $3, CX
	ADDQ    CX, DI
	ORQ     $56, BX
	MOVQ    AX, R14
	SHRQ    $(64-const_lookupBits), R14
	MOVWQZX (decTable_lookup-decTable_ac)(R9)(R14*2), R14
	TESTQ   R14, R14
	JNZ     rslowhave
	MOVQ    $(64-const_lookupBits-1), CX

rslowcode:
	MOVQ AX, R14
	SHRQ CX, R14
	MOVQ $64, R15
	SUBQ CX, R15
	CMPL R14, (decTable_maxCode-decTable_ac)(R9)(R15*4)
	JLE  rslowfound
	DECQ CX
	CMPQ CX, $48
	JGE  rslowcode
	JMP  rdone // no code: Go reports it

rslowfound:
	ADDL    (decTable_valPtr-decTable_ac)(R9)(R15*4), R14
	MOVBQZX R14B, R14
	MOVBQZX (decTable_vals-decTable_ac)(R9)(R14*1), R14
	SHLQ    $8, R15
	ORQ     R15, R14

rslowhave:
	TESTQ   $15, R14
	JZ      rdone // size 0: ZRL (an end of block is always in decTable.ac)
	MOVQ    R14, CX
	SHRQ    $8, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	MOVL    R14, R15
	ANDL    $15, R15
	SHRL    $4, R14
	ANDL    $15, R14
	LEAQ    1(DX)(R14*1), DX
	MOVQ    $64, CX
	SUBQ    R15, CX
	MOVQ    AX, R14
	SHRQ    CX, R14
	MOVQ    R15, CX
	SHLQ    CX, AX
	SUBQ    CX, BX
	DECQ    CX
	MOVQ    $1, R15
	SHLQ    CX, R15
	LEAQ    1(R14), CX
	SUBQ    R15, CX
	SUBQ    R15, CX
	CMPQ    R14, R15
	CMOVQLT CX, R14
	MOVBQZX (R12)(DX*1), CX
	IMULL   (R11)(DX*4), R14
	MOVL    R14, (R10)(CX*4)
	CMPQ    DX, $63
	JGE     rdone
	JMP     rloop

rdone:
	// r.ac[i] |= the last position (less an end of block's step) is past the
	// one the loop started at. The block is done at position 64 or after an
	// end of block (past 64+15); otherwise Go takes over at k = DX+1.
	MOVQ    ret+40(FP), R15
	MOVQ    r+8(FP), R14
	MOVQ    DX, CX
	SUBQ    $const_acEOBStep, CX
	CMOVQLT DX, CX
	CMPQ    CX, R13
	SETGT   R13B
	ORB     R13B, coefRun_ac(R14)(R15*1)
	CMPQ    DX, $63
	JEQ     rnext
	CMPQ    DX, $(const_blockSize+15)
	JGE     rnext
	LEAQ    1(DX), CX
	MOVQ    CX, ret1+48(FP)
	JMP     rsave

rnext:
	INCQ R15
	MOVQ R15, ret+40(FP)
	JMP  rblock

rstop0:
	// Block i's DC is left to Go (or every block is done): position 0.
rfinish:
	MOVQ $0, ret1+48(FP)

rsave:
	MOVQ    br+0(FP), R14
	MOVQ    AX, bitReader_acc(R14)
	MOVBQZX BX, BX
	MOVQ    BX, bitReader_n(R14)
	MOVQ    DI, bitReader_pos(R14)
	RET
