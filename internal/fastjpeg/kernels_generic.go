//go:build purego || !(amd64 || arm64)

package fastjpeg

// simdBuild reports whether this build has SIMD kernels (not purego, and an
// architecture that has them).
const simdBuild = false

// Without SIMD kernels (another architecture, or the purego build tag) the
// generic code is all there is.
var simdAvailable = false

// useSIMD is false here; tests set it on every architecture.
var useSIMD = false

func fdctQuant(out *coefs, tmp *[blockSize]int32, src []byte, stride int, rq *encQuant) uint64 {
	return fdctQuantGeneric(out, tmp, src, stride, rq)
}

func idct(blk *[blockSize]int32, dst []byte, stride int) { idctGeneric(blk, dst, stride) }

func codeBlock(out *[blockWindow]byte, s *bitState, vals *[blockSize]int16, order *[blockSize]uint8, nz uint64, diff int32, ht *encTables) int {
	return codeBlockGeneric(out, s, vals, order, nz, diff, ht)
}
