//go:build purego || !(amd64 || arm64)

package fastjpeg

func fdctQuantFast(out *coefs, src []byte, stride int, fq *fastQuant) uint64 {
	return fdctQuantFastGeneric(out, src, stride, fq)
}
