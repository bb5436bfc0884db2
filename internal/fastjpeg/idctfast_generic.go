//go:build purego || !(amd64 || arm64)

package fastjpeg

func idctFast(blk *[blockSize]int32, dst []byte, stride int) { idctFastGeneric(blk, dst, stride) }
