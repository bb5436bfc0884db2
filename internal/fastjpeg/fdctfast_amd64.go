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
