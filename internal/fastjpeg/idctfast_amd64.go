//go:build amd64 && !purego

package fastjpeg

// idctFast is idctFastGeneric, with AVX2 where the CPU has it.
func idctFast(blk *[blockSize]int32, dst []byte, stride int) {
	if useSIMD {
		_ = dst[7*stride+7] // the kernel writes 8 rows of 8 bytes
		idctFastAVX2(blk, &dst[0], stride)
		return
	}
	idctFastGeneric(blk, dst, stride)
}

// idctFastAVX2 is idctFastGeneric writing the 8 rows of 8 bytes at dst, stride
// bytes apart; it leaves blk as it was.
//
//go:noescape
func idctFastAVX2(blk *[blockSize]int32, dst *byte, stride int)

// pairIDCT reports whether the decoder should hand fast-path blocks to
// idctFast2 two at a time: where the AVX2 pair kernel runs.
func pairIDCT() bool { return useSIMD }

// idctFast2 is idctFast on two blocks, a into dstA and b into dstB (each 8 rows
// of 8 bytes, its own stride apart), in one call of the AVX2 pair kernel where
// the CPU has it.
func idctFast2(a, b *[blockSize]int32, dstA []byte, strideA int, dstB []byte, strideB int) {
	if useSIMD {
		_ = dstA[7*strideA+7] // the kernel writes 8 rows of 8 bytes to each
		_ = dstB[7*strideB+7]
		idctFast2AVX2(a, b, &dstA[0], strideA, &dstB[0], strideB)
		return
	}
	idctFastGeneric(a, dstA, strideA)
	idctFastGeneric(b, dstB, strideB)
}

// idctFast2AVX2 is idctFastAVX2 on two blocks, a in the low 128-bit lane of the
// Y registers and b in the high one; it leaves both blocks as they were.
//
//go:noescape
func idctFast2AVX2(a, b *[blockSize]int32, dstA *byte, strideA int, dstB *byte, strideB int)
