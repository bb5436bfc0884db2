//go:build amd64 && !purego

package fastjpeg

import "golang.org/x/sys/cpu"

// coefsAsm reports whether huffCoefs has an assembly loop here (run where
// useSIMD is set).
const coefsAsm = true

// coefsLoop runs huffCoefs on br from position k (0: the DC, with prevDC the
// previous block's) for the symbols its tables resolve, in assembly where the
// SIMD kernels run (the switch is shared so that tests run both paths on one
// machine). It returns the next position, the DC, and whether it wrote an AC
// coefficient; k 0 leaves the DC to Go.
func coefsLoop(br *bitReader, blk *[blockSize]int32, q *decQuant, dcT, acT *decTable, dc int32, k int) (int, int32, bool) {
	return coefsAMD64(br, dcT, acT, blk, q, &unzigPad, dc, k)
}

// coefsAMD64 is coefsLoop.
//
//go:noescape
func coefsAMD64(br *bitReader, dcT, acT *decTable, blk *[blockSize]int32, q *decQuant, unzig *[256]uint8, dc int32, k int) (int, int32, bool)

// hasBMI2 reports whether the CPU has BMI2, whose shifts by a register
// (SHLX, SHRX: one micro-op, no flags) coefsRunAMD64 takes.
var hasBMI2 = cpu.X86.HasBMI2

// runAsm reports whether coefsRun has its assembly loop: where the CPU has
// AVX2 (the SIMD switch, which tests clear) and BMI2.
func runAsm() bool { return useSIMD && hasBMI2 }

// coefsRun runs coefsMCU's assembly loop on the MCU r from block i at
// position k (see coefsRunAMD64), returning the block and position it stopped
// at (i == r.n: every block decoded).
func coefsRun(br *bitReader, r *coefRun, i, k int) (int, int) {
	if !runAsm() {
		return i, k
	}
	return coefsRunAMD64(br, r, &unzigPad, i, k)
}

// coefsRunAMD64 is coefsRun.
//
//go:noescape
func coefsRunAMD64(br *bitReader, r *coefRun, unzig *[256]uint8, i, k int) (int, int)
