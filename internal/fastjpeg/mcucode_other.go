//go:build purego || !amd64

package fastjpeg

// mcuCoding is false here: appendScan codes block by block (pair).
const mcuCoding = false

func codeBlocks(out []byte, s *bitState, m *mcuCoefs, n, nlum int, lum, chrom *encTables) int {
	return codeBlocksGeneric(out, s, m, n, nlum, lum, chrom)
}

// prefetchRows loads p[0], p[stride], ... (n rows) and returns their sum, which
// the caller keeps so that the loads stay: Go has no prefetch instruction.
func prefetchRows(p []byte, stride, n int) byte {
	var t byte
	for j := range n {
		t += p[j*stride]
	}
	return t
}
