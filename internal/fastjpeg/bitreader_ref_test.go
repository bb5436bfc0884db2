package fastjpeg

import (
	"encoding/binary"
	"fmt"
)

// refBitReader is the bit reader before the unstuffed-segment one, kept as the
// reference the new one is tested against. It reads the entropy-coded bits of a scan, removing stuffed zero bytes
// (ITU T.81 §F.1.2.3). A marker or the end of the data ends the real bits; zeros
// follow, counted in over, so a truncated scan is noticed rather than overrun.
type refBitReader struct {
	data []byte
	pos  int
	acc  uint64 // the next n bits, most significant first
	n    uint
	over uint // zero bits fed past the end of the data
	end  bool // a marker or the end was reached
}

// fill tops acc up to more than 56 bits.
func (r *refBitReader) fill() {
	for r.n <= 56 {
		if !r.end && r.pos+8 <= len(r.data) {
			v := binary.BigEndian.Uint64(r.data[r.pos:])
			if x := ^v; (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
				// No 0xFF among the next 8 bytes: take as many whole bytes as fit.
				k := (64 - r.n) >> 3
				r.acc |= v >> (64 - 8*k) << (64 - 8*k - r.n)
				r.pos += int(k)
				r.n += 8 * k
				return
			}
		}
		var b byte
		switch {
		case r.end || r.pos >= len(r.data):
			r.end = true
			r.over += 8
		case r.data[r.pos] != 0xff:
			b = r.data[r.pos]
			r.pos++
		case r.pos+1 < len(r.data) && r.data[r.pos+1] == 0:
			b = 0xff
			r.pos += 2
		default:
			r.end = true // a marker: no more scan data
			r.over += 8
		}
		r.acc |= uint64(b) << (56 - r.n)
		r.n += 8
	}
}

// refBlock is CoefFrame.block as it was with refBitReader: one block's quantised
// coefficients (§F.2.2) into zz, returning its DC and non-zero mask.
func refBlock(br *refBitReader, zz *[blockSize]int16, dcT, acT *decTable, prevDC int32) (int32, uint64, error) {
	*zz = [blockSize]int16{}
	var nz uint64

	if br.n < 32 {
		br.fill()
	}
	acc, n := br.acc, br.n

	var sym uint8
	if e := dcT.lookup[acc>>(64-lookupBits)]; e != 0 {
		l := uint(e>>8) & 63
		acc <<= l
		n -= l
		sym = uint8(e)
	} else {
		var l uint
		if sym, l = dcT.slow(acc); l == 0 {
			return 0, 0, fmt.Errorf("%w: invalid DC code", ErrCorrupt)
		}
		acc <<= l
		n -= l
	}
	if sym > 11 {
		return 0, 0, fmt.Errorf("%w: DC size %d", ErrCorrupt, sym)
	}
	dc := prevDC
	if sym != 0 {
		s := uint(sym) & 15
		dc += extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
	}
	if dc < -maxDC-1 || dc > maxDC {
		return 0, 0, fmt.Errorf("%w: DC %d out of range", ErrCorrupt, dc)
	}
	zz[0] = int16(dc)

	for k := 1; k < blockSize; k++ {
		if n < 32 {
			br.acc, br.n = acc, n
			br.fill()
			acc, n = br.acc, br.n
		}
		if e := acT.fast[acc>>(64-fastBits)]; e != 0 {
			k += int(e>>8) & 15
			l := uint(e) & 31
			acc <<= l
			n -= l
			if k >= blockSize {
				return 0, 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
			}
			zz[k&63] = int16(e >> 16)
			nz |= 1 << (k & 63)
			continue
		}
		var rs uint8
		if e := acT.lookup[acc>>(64-lookupBits)]; e != 0 {
			l := uint(e>>8) & 63
			acc <<= l
			n -= l
			rs = uint8(e)
		} else {
			var l uint
			if rs, l = acT.slow(acc); l == 0 {
				return 0, 0, fmt.Errorf("%w: invalid AC code", ErrCorrupt)
			}
			acc <<= l
			n -= l
		}
		run, size := int(rs>>4), uint(rs&15)
		if size == 0 {
			if run != 15 {
				break // EOB
			}
			// ZRL: sixteen zeros, which must end inside the block.
			if k += 15; k >= blockSize {
				return 0, 0, fmt.Errorf("%w: ZRL past the block", ErrCorrupt)
			}
			continue
		}
		if size > maxACSize {
			return 0, 0, fmt.Errorf("%w: AC size %d", ErrCorrupt, size)
		}
		k += run
		if k >= blockSize {
			return 0, 0, fmt.Errorf("%w: coefficient %d past the block", ErrCorrupt, k)
		}
		zz[k&63] = int16(extend(int32(acc>>(64-size)), size))
		nz |= 1 << (k & 63)
		acc <<= size
		n -= size
	}
	br.acc, br.n = acc, n
	return dc, nz, nil
}

// restart ends a restart interval (§F.2.2.5 and §B.1.1.2): the rest of the
// current byte is padding, then RSTn with n = count mod 8 must follow. Bytes
// before the marker that no MCU used are skipped, as libjpeg does.
func (r *refBitReader) restart(count int) error {
	want := byte(markerRST0 + count&7)
	p := r.pos
	for {
		if p+1 >= len(r.data) {
			return fmt.Errorf("%w: no RST%d marker", ErrShort, count&7)
		}
		if r.data[p] == 0xff && r.data[p+1] != 0 && r.data[p+1] != 0xff {
			break
		}
		p++
	}
	if m := r.data[p+1]; m != want {
		return fmt.Errorf("%w: marker %#02x where RST%d belongs", ErrCorrupt, m, count&7)
	}
	*r = refBitReader{data: r.data, pos: p + 2}
	return nil
}
