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
