//go:build amd64 && !purego

package fastjpeg

import "golang.org/x/sys/cpu"

// simdBuild reports whether this build has SIMD kernels (not purego, and an
// architecture that has them).
const simdBuild = true

// simdAvailable reports whether this CPU runs the AVX2 kernels of kernels_amd64.s.
var simdAvailable = cpu.X86.HasAVX2

// useSIMD selects the AVX2 kernels where the CPU has them. Tests clear it to run
// the generic code on the same machine; nothing else writes it.
var useSIMD = simdAvailable

// fdctQuant is fdctQuantGeneric, with AVX2 where the CPU has it.
func fdctQuant(out *coefs, tmp *[blockSize]int32, src []byte, stride int, rq *encQuant) uint64 {
	if useSIMD {
		_ = src[7*stride+7] // the kernel reads 8 rows of 8 bytes
		return zigOfPos(fdctQuantAVX2(out, tmp, &src[0], stride, rq))
	}
	return fdctQuantGeneric(out, tmp, src, stride, rq)
}

// idct is idctGeneric, with AVX2 where the CPU has it.
func idct(blk *[blockSize]int32, dst []byte, stride int) {
	if useSIMD {
		_ = dst[7*stride+7] // the kernel writes 8 rows of 8 bytes
		idctAVX2(blk, &dst[0], stride)
		return
	}
	idctGeneric(blk, dst, stride)
}

// fdctQuantAVX2 is fdctQuantGeneric on the 8 rows of 8 bytes at src, stride bytes
// apart, except that it returns the non-zero mask by position (see zigOfPos).
//
//go:noescape
func fdctQuantAVX2(out *coefs, tmp *[blockSize]int32, src *byte, stride int, rq *encQuant) uint64

// idctAVX2 is idctGeneric writing the 8 rows of 8 bytes at dst, stride bytes apart;
// it leaves blk as it was.
//
//go:noescape
func idctAVX2(blk *[blockSize]int32, dst *byte, stride int)
