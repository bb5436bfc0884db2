//go:build purego || !amd64

package fastjpeg

// fdctQuantFast2 is fdctQuantFast on two blocks, A at srcA into outA and B at
// srcB into outB, with the same table, returning their masks. Only amd64 has a
// kernel for two blocks a call (AVX2's two 128-bit lanes); NEON's registers
// hold one block's row, so here it is two calls.
func fdctQuantFast2(outA, outB *coefs, srcA []byte, strideA int, srcB []byte, strideB int, fq *fastQuant) (nzA, nzB uint64) {
	return fdctQuantFast(outA, srcA, strideA, fq), fdctQuantFast(outB, srcB, strideB, fq)
}
