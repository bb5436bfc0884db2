//go:build arm64 && !purego

package fastjpeg

// idctFast is idctFastGeneric, with NEON where the CPU has it.
func idctFast(blk *[blockSize]int32, dst []byte, stride int) {
	if useSIMD {
		_ = dst[7*stride+7] // the kernel writes 8 rows of 8 bytes
		idctFastNEON(blk, &dst[0], stride)
		return
	}
	idctFastGeneric(blk, dst, stride)
}

// idctFastNEON is idctFastGeneric writing the 8 rows of 8 bytes at dst, stride
// bytes apart; it leaves blk as it was.
//
//go:noescape
func idctFastNEON(blk *[blockSize]int32, dst *byte, stride int)
