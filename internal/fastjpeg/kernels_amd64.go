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
		return fdctQuantAVX2(out, tmp, &src[0], stride, rq)
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
// apart.
//
//go:noescape
func fdctQuantAVX2(out *coefs, tmp *[blockSize]int32, src *byte, stride int, rq *encQuant) uint64

// idctAVX2 is idctGeneric writing the 8 rows of 8 bytes at dst, stride bytes apart;
// it leaves blk as it was.
//
//go:noescape
func idctAVX2(blk *[blockSize]int32, dst *byte, stride int)

// codeBlock is codeBlockGeneric, in assembly where the AVX2 kernels run (the
// coder itself needs only baseline x86-64 instructions; the switch is shared so
// that tests run both on one machine).
func codeBlock(out *[blockWindow]byte, s *bitState, vals *[blockSize]int16, order *[blockSize]uint8, nz uint64, diff int32, ht *encTables) int {
	if useSIMD {
		return codeBlockAMD64(&out[0], s, vals, order, nz, diff, ht)
	}
	return codeBlockGeneric(out, s, vals, order, nz, diff, ht)
}

// codeBlockAMD64 is codeBlockGeneric writing at out, which has blockWindow bytes.
//
//go:noescape
func codeBlockAMD64(out *byte, s *bitState, vals *[blockSize]int16, order *[blockSize]uint8, nz uint64, diff int32, ht *encTables) int

// mcuCoding reports whether appendScan codes a whole MCU per call
// (codeBlocksAMD64) where useSIMD is set: amd64 only, where the per-block call
// and its bitState round trip through memory were a tenth of the encoder's time.
const mcuCoding = true

// codeBlocks is codeBlocksGeneric, in assembly where the AVX2 kernels run.
func codeBlocks(out []byte, s *bitState, m *mcuCoefs, n, nlum int, lum, chrom *encTables) int {
	if useSIMD {
		_ = out[(n-1)*maxBlockBytes+blockWindow-1] // what codeBlocksGeneric asks of out
		return codeBlocksAMD64(&out[0], s, &m.vals[0], &coefOf, &m.nz, &m.diff, n, nlum, lum, chrom)
	}
	return codeBlocksGeneric(out, s, m, n, nlum, lum, chrom)
}

// codeBlocksAMD64 is codeBlocksGeneric writing at out.
//
//go:noescape
func codeBlocksAMD64(out *byte, s *bitState, vals *coefs, order *[blockSize]uint8, nz *[mcuBlocks]uint64, diff *[mcuBlocks]int64, n, nlum int, lum, chrom *encTables) int

// prefetchRows asks for the cache lines of n rows of p, stride bytes apart
// (p[0], p[stride], ...), with PREFETCHT0: unlike touchAhead's loads, a
// prefetch does not hold up the instructions after it while its line arrives.
// It returns 0; the Go versions return the bytes' sum.
func prefetchRows(p []byte, stride, n int) byte {
	if n > 0 {
		_ = p[(n-1)*stride]
		prefetchRowsAMD64(&p[0], stride, n)
	}
	return 0
}

//go:noescape
func prefetchRowsAMD64(p *byte, stride, n int)
