//go:build amd64 && !purego

package fastjpeg

// coefsLoop runs huffCoefs on st for the symbols its tables resolve at once,
// in assembly where the SIMD kernels run (it needs only baseline x86-64; the
// switch is shared so that tests run both paths on one machine). It returns at
// the first symbol it leaves to the Go code.
func coefsLoop(st *coefState, seg []byte, dcT, acT *decTable, blk *[blockSize]int32, q *decQuant) {
	coefsAMD64(st, &seg[0], len(seg), &dcT.lookup, &acT.ac, blk, q, &unzigPad)
}

// coefsAMD64 is coefsLoop with seg[:segLen].
//
//go:noescape
func coefsAMD64(st *coefState, seg *byte, segLen int, dcLookup *[1 << lookupBits]uint16, acTab *[1 << acBits]int32, blk *[blockSize]int32, q *decQuant, unzig *[256]uint8)
