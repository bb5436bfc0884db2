//go:build arm64 && !purego

package fastjpeg

// fdctQuantFast is fdctQuantFastGeneric, with NEON where the CPU has it.
func fdctQuantFast(out *coefs, src []byte, stride int, fq *fastQuant) uint64 {
	if useSIMD {
		_ = src[7*stride+7] // the kernel reads 8 rows of 8 bytes
		return zigOfPos(fdctQuantFastNEON(out, &src[0], stride, fq))
	}
	return fdctQuantFastGeneric(out, src, stride, fq)
}

// fdctQuantFastNEON is fdctQuantFastGeneric on the 8 rows of 8 bytes at src,
// stride bytes apart, except that it returns the non-zero mask by position (see
// zigOfPos).
//
//go:noescape
func fdctQuantFastNEON(out *coefs, src *byte, stride int, fq *fastQuant) uint64
