//go:build amd64 && !purego

package fastjpeg

// fdctQuantFast is fdctQuantFastGeneric, with AVX2 where the CPU has it (the
// kernel needs only AVX's 128-bit forms for the DCT; it shares the package's
// switch so that tests run both on one machine).
func fdctQuantFast(out *coefs, src []byte, stride int, fq *fastQuant) uint64 {
	if useSIMD {
		_ = src[7*stride+7] // the kernel reads 8 rows of 8 bytes
		return fdctQuantFastAVX2(out, &src[0], stride, fq)
	}
	return fdctQuantFastGeneric(out, src, stride, fq)
}

// fdctQuantFastAVX2 is fdctQuantFastGeneric on the 8 rows of 8 bytes at src,
// stride bytes apart.
//
//go:noescape
func fdctQuantFastAVX2(out *coefs, src *byte, stride int, fq *fastQuant) uint64

// fdctQuantFast2 is fdctQuantFast on two blocks, A at srcA into outA and B at
// srcB into outB, with the same table, returning their masks: with AVX2 one
// kernel call transforms both (fdctQuantFast2AVX2), each block in one 128-bit
// half of the Y registers, so the transposes and packs are paid once for two.
func fdctQuantFast2(outA, outB *coefs, srcA []byte, strideA int, srcB []byte, strideB int, fq *fastQuant) (nzA, nzB uint64) {
	if useSIMD {
		_ = srcA[7*strideA+7] // the kernel reads 8 rows of 8 bytes of each
		_ = srcB[7*strideB+7]
		return fdctQuantFast2AVX2(outA, outB, &srcA[0], strideA, &srcB[0], strideB, fq)
	}
	return fdctQuantFastGeneric(outA, srcA, strideA, fq), fdctQuantFastGeneric(outB, srcB, strideB, fq)
}

// fdctQuantFast2AVX2 is fdctQuantFastAVX2 on the blocks at srcA (rows strideA
// bytes apart) and srcB (strideB), the same table for both.
//
//go:noescape
func fdctQuantFast2AVX2(outA, outB *coefs, srcA *byte, strideA int, srcB *byte, strideB int, fq *fastQuant) (nzA, nzB uint64)
