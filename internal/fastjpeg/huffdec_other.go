//go:build !amd64 || purego

package fastjpeg

// coefsAsm reports whether huffCoefs has an assembly loop here: none.
const coefsAsm = false

// coefsLoop leaves every symbol to huffCoefs's Go code here.
func coefsLoop(br *bitReader, blk *[blockSize]int32, q *decQuant, dcT, acT *decTable, dc int32, k int) (int, int32, bool) {
	return k, dc, false
}

// runAsm reports whether coefsRun has an assembly loop here: none.
func runAsm() bool { return false }

// coefsRun leaves every block to coefsMCU's Go code here.
func coefsRun(br *bitReader, r *coefRun, i, k int) (int, int) {
	return i, k
}
