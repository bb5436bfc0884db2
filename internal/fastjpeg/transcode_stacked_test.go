package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
	"testing"
)

// TestStackedLayoutTranscodesInOnePass checks the one pass for ffmpeg's 4:2:2
// (Y 2x2, chroma 1x2: two HRVS MCUs per source MCU) against Decode and
// AppendTile, with restart intervals, heights whose last source row is half
// outside the frame, ZRLs (quality 100 puts long zero runs between large
// coefficients), and grids whose tiles are an odd number of MCUs high, which
// take the two passes.
func TestStackedLayoutTranscodesInOnePass(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		args []string
	}{
		{50, 37, []string{"-sample", "2x2,1x2,1x2", "-quality", "92"}},
		{64, 48, []string{"-sample", "2x2,1x2,1x2", "-restart", "3B", "-quality", "85"}},
		{83, 41, []string{"-sample", "2x2,1x2,1x2", "-restart", "1", "-optimize", "-quality", "100"}},
		{333, 190, []string{"-sample", "2x2,1x2,1x2", "-restart", "5B", "-quality", "60"}},
	} {
		frame := cjpegFrame(t, tc.w, tc.h, tc.args...)
		var g CoefFrame
		if err := g.Decode(frame); err != nil {
			t.Fatal(err)
		}
		if c := g.hd.comp[1]; c.h != 1 || c.v != 2 {
			t.Fatalf("cjpeg %v gave chroma %dx%d, not ffmpeg's 1x2", tc.args, c.h, c.v)
		}
		for _, huff := range []string{"Annex K.3", "optimal"} {
			tb := Tables{Quant: g.Quant(), Huff: StandardHuffman()}
			if huff == "optimal" {
				var counts SymbolCounts
				if err := g.CountTile(&counts, g.Bounds()); err != nil {
					t.Fatal(err)
				}
				tb.Huff = OptimalHuffman(&counts)
			}
			ts, err := NewTableSet(&tb)
			if err != nil {
				t.Fatal(err)
			}
			for _, sz := range []image.Point{{16, 16}, {32, 32}, {48, 16}, {256, 128}, {16, 8}, {32, 24}} {
				name := fmt.Sprintf("%dx%d %v with %s tables on %dx%d tiles is Decode and AppendTile's bytes", tc.w, tc.h, tc.args, huff, sz.X, sz.Y)
				t.Run(name, func(t *testing.T) {
					var f CoefFrame
					var tiles [][]byte
					for range 2 { // the second pass reuses the buffers
						if tiles, err = f.Transcode(frame, sz.X, sz.Y, ts, tiles); err != nil {
							t.Fatal(err)
						}
					}
					grid := tileGrid(g.Bounds(), sz.X, sz.Y)
					if len(tiles) != len(grid) {
						t.Fatalf("%d tiles, want %d", len(tiles), len(grid))
					}
					var sf, sg []int32
					for i, r := range grid {
						want, err := g.AppendTile(nil, r, ts)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(tiles[i], want) {
							t.Fatalf("tile %d %v: %d bytes differ from AppendTile's %d", i, r, len(tiles[i]), len(want))
						}
						if sf, err = f.AppendSummary(sf[:0], r); err != nil {
							t.Fatal(err)
						}
						if sg, err = g.AppendSummary(sg[:0], r); err != nil {
							t.Fatal(err)
						}
						if !slicesEqual(sf, sg) {
							t.Fatalf("tile %v: summaries differ", r)
						}
					}
				})
			}
		}
	}
}

// zrlScan codes blocks whose ZRLs the tile must rewrite, as a camera may send
// them (Annex K.3 tables): ZRL then EOB (the tile codes the EOB alone), ZRLs
// before a coefficient, ZRL up to the block's end (the tile owes an EOB), a
// last coefficient at 63 (no EOB), and ZRL before a coefficient and EOB. An
// MCU has lumaBlocks Y blocks and chromaBlocks of Cb and of Cr.
func zrlScan(mcus, lumaBlocks, chromaBlocks int) []byte {
	type sym struct {
		rs   uint8
		bits uint32
	}
	programs := [][]sym{
		{{0xf0, 0}, {0x00, 0}},
		{{0xf0, 0}, {0xf0, 0}, {0x01, 1}, {0x00, 0}},
		{{0xf1, 0}, {0xf1, 1}, {0xe1, 1}, {0xf0, 0}},
		{{0xf1, 1}, {0xf1, 0}, {0xf1, 1}, {0xe1, 0}},
		{{0xf0, 0}, {0x01, 0}, {0x00, 0}}, // the coefficient and EOB read as a pair
	}
	var bits []bool
	put := func(v uint32, n uint8) {
		for i := int(n) - 1; i >= 0; i-- {
			bits = append(bits, v>>uint(i)&1 == 1)
		}
	}
	dcCode, dcLen := [2][256]uint16{}, [2][256]uint8{}
	acCode, acLen := [2][256]uint16{}, [2][256]uint8{}
	dcCode[0], dcLen[0] = canonicalCodes(huffSpecs[hLumDC])
	acCode[0], acLen[0] = canonicalCodes(huffSpecs[hLumAC])
	dcCode[1], dcLen[1] = canonicalCodes(huffSpecs[hChromDC])
	acCode[1], acLen[1] = canonicalCodes(huffSpecs[hChromAC])
	b := 0
	for range mcus {
		for i := range lumaBlocks + 2*chromaBlocks {
			t := min(i/lumaBlocks, 1)
			put(uint32(dcCode[t][2]), dcLen[t][2]) // DC difference of 2 bits
			put(uint32(b%4), 2)
			for _, s := range programs[b%len(programs)] {
				put(uint32(acCode[t][s.rs]), acLen[t][s.rs])
				put(s.bits, s.rs&15)
			}
			b++
		}
	}
	for len(bits)%8 != 0 {
		bits = append(bits, true)
	}
	var out []byte
	for i := 0; i < len(bits); i += 8 {
		var c byte
		for _, bit := range bits[i : i+8] {
			c <<= 1
			if bit {
				c |= 1
			}
		}
		if out = append(out, c); c == 0xff {
			out = append(out, 0)
		}
	}
	return out
}

func TestTranscodeRewritesCameraZRLs(t *testing.T) {
	tb := StandardTables(75)
	ts, err := NewTableSet(&tb)
	if err != nil {
		t.Fatal(err)
	}
	webcam := AppendTablesHeader(nil, 64, 16, ts, S422)
	stacked := bytes.Replace(AppendTablesHeader(nil, 64, 16, ts, S422),
		[]byte{1, 0x21, 0, 2, 0x11, 1, 3, 0x11}, []byte{1, 0x22, 0, 2, 0x12, 1, 3, 0x12}, 1)
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"webcam 4:2:2 (Y 2x1)", AppendEOI(append(webcam, zrlScan(8, 2, 1)...))},
		{"ffmpeg 4:2:2 (Y 2x2, chroma 1x2)", AppendEOI(append(stacked, zrlScan(4, 4, 2)...))},
	} {
		t.Run(tc.name+" re-tiled in one pass codes ZRLs as AppendTile does", func(t *testing.T) {
			var f, g CoefFrame
			if err := g.Decode(tc.frame); err != nil {
				t.Fatal(err)
			}
			if g.hd.comp[0].v == 2 && g.hd.comp[1].v != 2 {
				t.Fatal("the frame is not in ffmpeg's layout")
			}
			tiles, err := f.Transcode(tc.frame, 16, 16, ts, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range tileGrid(g.Bounds(), 16, 16) {
				want, err := g.AppendTile(nil, r, ts)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(tiles[i], want) {
					t.Fatalf("tile %v: % x, AppendTile % x", r, tiles[i], want)
				}
			}
		})
	}
}
