//go:build purego || !amd64

package fastjpeg

// pairIDCT reports whether the decoder should hand fast-path blocks to
// idctFast2 two at a time: never without the AVX2 pair kernel.
func pairIDCT() bool { return false }

// idctFast2 is idctFast on two blocks, one call each.
func idctFast2(a, b *[blockSize]int32, dstA []byte, strideA int, dstB []byte, strideB int) {
	idctFast(a, dstA, strideA)
	idctFast(b, dstB, strideB)
}
