package fastjpeg

import (
	"image"
	"math/bits"
)

// SymbolCounts counts the Huffman symbols tiles would code, per table (indexed
// like Tables.Huff) and symbol: the statistics of ITU T.81 Annex K.2.
type SymbolCounts [4][256]uint32

// CountTile adds the symbols AppendTile would code for tile r to c.
func (f *CoefFrame) CountTile(c *SymbolCounts, r image.Rectangle) error {
	if err := f.checkDecoded(r); err != nil {
		return err
	}
	mw, mh := f.sub.MCUSize()
	nY := f.bpm - 2
	var pred [3]int32
	for my := r.Min.Y / mh; my < (r.Max.Y+mh-1)/mh; my++ {
		for mx := r.Min.X / mw; mx < (r.Max.X+mw-1)/mw; mx++ {
			b := (my*f.stride + mx) * f.bpm
			for i := 0; i < f.bpm; i++ {
				comp, class := min(max(i-nY+1, 0), 2), 0
				if comp > 0 {
					class = 2
				}
				zz := f.block64(b + i)
				diff := int32(zz[0]) - pred[comp]
				pred[comp] = int32(zz[0])
				c[class][bits.Len32(uint32(abs32(diff)))]++
				nz := f.nz[b+i] &^ 1
				last := 0
				for nz != 0 {
					k := bits.TrailingZeros64(nz)
					nz &= nz - 1
					run := k - last - 1
					last = k
					for ; run >= 16; run -= 16 {
						c[class+1][0xf0]++
					}
					c[class+1][run<<4|bits.Len32(uint32(abs32(int32(zz[k&63]))))]++
				}
				if last != blockSize-1 {
					c[class+1][0x00]++
				}
			}
		}
	}
	return nil
}

// OptimalHuffman builds the four Huffman tables that code the counted symbols in
// the fewest bits, limited to 16-bit codes with the all-ones code left unused
// (ITU T.81 Annex K.2, Figures K.1 to K.4, as libjpeg's jpeg_gen_optimal_table).
// Every baseline symbol is counted at least once, so the tables stay complete
// (CanEncode) and also code frames other than the counted one: a stream may
// keep them while its pictures look alike.
func OptimalHuffman(c *SymbolCounts) [4]HuffTable {
	var out [4]HuffTable
	for i := range out {
		var freq [257]int64
		for s, n := range c[i] {
			freq[s] = int64(n)
		}
		if i&1 == 0 { // DC: size categories 0..11
			for s := 0; s <= 11; s++ {
				freq[s] = max(freq[s], 1)
			}
		} else {
			freq[0x00], freq[0xf0] = max(freq[0x00], 1), max(freq[0xf0], 1)
			for run := 0; run < 16; run++ {
				for size := 1; size <= maxACSize; size++ {
					freq[run<<4|size] = max(freq[run<<4|size], 1)
				}
			}
		}
		out[i] = optimalTable(&freq)
	}
	return out
}

// optimalTable is Annex K.2 for one table; freq[256] is the reserved point.
// Frequencies so skewed that a code would exceed 32 bits before Figure K.3's
// limiting (a Fibonacci-like run of counts) are halved until none does.
func optimalTable(freq *[257]int64) HuffTable {
	freq[256] = 1 // reserves the all-ones code (Figure K.1)
	for {
		f := *freq
		size, ok := codeSizes(&f)
		if ok {
			return tableOf(&size)
		}
		for s := range freq {
			if freq[s] > 0 {
				freq[s] = max(freq[s]/2, 1)
			}
		}
	}
}

// codeSizes is Figure K.1: each symbol's code length in an unlimited Huffman
// code, false if one exceeds 32 bits. It consumes freq.
func codeSizes(freq *[257]int64) (size [257]int, ok bool) {
	var next [257]int
	for i := range next {
		next[i] = -1
	}
	for {
		// The two least frequent trees; on ties the larger symbol, as in K.2.
		c1, c2 := -1, -1
		for s := range freq {
			if freq[s] == 0 {
				continue
			}
			if c1 < 0 || freq[s] <= freq[c1] {
				c1 = s
			}
		}
		for s := range freq {
			if freq[s] == 0 || s == c1 {
				continue
			}
			if c2 < 0 || freq[s] <= freq[c2] {
				c2 = s
			}
		}
		if c2 < 0 {
			break
		}
		freq[c1] += freq[c2]
		freq[c2] = 0
		size[c1]++
		for next[c1] >= 0 {
			c1 = next[c1]
			size[c1]++
		}
		next[c1] = c2
		size[c2]++
		for next[c2] >= 0 {
			c2 = next[c2]
			size[c2]++
		}
	}
	for _, n := range size {
		if n > 32 {
			return size, false
		}
	}
	return size, true
}

// tableOf is Figures K.2 to K.4: the counts per length, limited to 16 bits, and
// the symbols in order of their unlimited lengths.
func tableOf(size *[257]int) HuffTable {
	var count [33]int
	for _, n := range size {
		if n > 0 {
			count[n]++
		}
	}
	// Limit code lengths to 16 bits (Figure K.3).
	for i := 32; i > 16; i-- {
		for count[i] > 0 {
			j := i - 2
			for count[j] == 0 {
				j--
			}
			count[i] -= 2
			count[i-1]++
			count[j+1] += 2
			count[j]--
		}
	}
	i := 16
	for count[i] == 0 {
		i--
	}
	count[i]-- // the reserved code point
	var h HuffTable
	for l := 1; l <= 16; l++ {
		h.Count[l-1] = uint8(count[l])
	}
	// Symbols by code length, then by value (Figure K.4).
	for l := 1; l <= 32; l++ {
		for s := 0; s < 256; s++ {
			if size[s] == l {
				h.Symbol = append(h.Symbol, uint8(s))
			}
		}
	}
	return h
}
