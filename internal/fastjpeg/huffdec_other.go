//go:build !amd64 || purego

package fastjpeg

// coefsLoop leaves every symbol to huffCoefs's Go code here.
func coefsLoop(st *coefState, seg []byte, dcT, acT *decTable, blk *[blockSize]int32, q *decQuant) {}
