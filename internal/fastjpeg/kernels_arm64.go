//go:build arm64 && !purego

package fastjpeg

import "golang.org/x/sys/cpu"

// simdBuild reports whether this build has SIMD kernels (not purego, and an
// architecture that has them).
const simdBuild = true

// simdAvailable reports whether this CPU runs the NEON kernels of
// kernels_arm64.s (every ARMv8 Linux machine, the Raspberry Pi 3 onwards).
var simdAvailable = cpu.ARM64.HasASIMD

// useSIMD selects the NEON kernels where the CPU has them. Tests clear it to run
// the generic code on the same machine; nothing else writes it.
var useSIMD = simdAvailable

// fdctQuant is fdctQuantGeneric, with NEON where the CPU has it.
func fdctQuant(out *coefs, tmp *[blockSize]int32, src []byte, stride int, rq *encQuant) uint64 {
	if useSIMD {
		_ = src[7*stride+7] // the kernel reads 8 rows of 8 bytes
		return zigOfPos(fdctQuantNEON(out, tmp, &src[0], stride, rq))
	}
	return fdctQuantGeneric(out, tmp, src, stride, rq)
}

// idct is idctGeneric, with NEON where the CPU has it.
func idct(blk *[blockSize]int32, dst []byte, stride int) {
	if useSIMD {
		_ = dst[7*stride+7] // the kernel writes 8 rows of 8 bytes
		idctNEON(blk, &dst[0], stride)
		return
	}
	idctGeneric(blk, dst, stride)
}

// fdctQuantNEON is fdctQuantGeneric on the 8 rows of 8 bytes at src, stride bytes
// apart, except that it returns the non-zero mask by position (see zigOfPos).
//
//go:noescape
func fdctQuantNEON(out *coefs, tmp *[blockSize]int32, src *byte, stride int, rq *encQuant) uint64

// idctNEON is idctGeneric writing the 8 rows of 8 bytes at dst, stride bytes
// apart; it uses blk as scratch.
//
//go:noescape
func idctNEON(blk *[blockSize]int32, dst *byte, stride int)

// codeBlock is codeBlockGeneric: arm64 has no assembly coder yet.
func codeBlock(out *[blockWindow]byte, s *bitState, vals *[blockSize]int16, order *[blockSize]uint8, nz uint64, diff int32, ht *encTables) int {
	return codeBlockGeneric(out, s, vals, order, nz, diff, ht)
}
