package fastjpeg

import (
	"image"
	"testing"
)

// FuzzCoefFrame feeds arbitrary bytes to CoefFrame.Decode and Transcode. They
// may refuse them, but must not panic or hang, and must agree: what Decode
// accepts Transcode codes to AppendTile's very bytes, and it re-tiles, decodes,
// and parses back from the rebuilt file to the same coefficients.
func FuzzCoefFrame(f *testing.F) {
	for _, c := range []clip{
		{"", testsrc(48, 32), image.Pt(48, 32), "yuvj420p", 4, "default", 0},
		{"", testsrc(48, 32), image.Pt(48, 32), "yuvj422p", 8, "optimal", 0},
		{"", testsrc(64, 64), image.Pt(64, 64), "yuvj420p", 4, "default", 4},
	} {
		fr := c.frames(f, 1)[0]
		f.Add(fr)
		f.Add(stripSegments(fr, markerDHT))
	}
	f.Add(cjpegFrame(f, 40, 24, "-sample", "2x1", "-restart", "2B", "-optimize"))
	f.Add(cjpegFrame(f, 40, 24, "-sample", "4x1,2x1,2x1", "-quality", "5"))
	f.Add(cjpegFrame(f, 19, 11, "-grayscale", "-restart", "1"))
	f.Add(stdEncode(f, grayOf(patternRGBA(21, 13)), 60))
	f.Add(stdEncode(f, patternRGBA(19, 11), 90))
	std, err := NewTableSet(&Tables{Quant: StandardTables(50).Quant, Huff: StandardHuffman()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tr CoefFrame
		tiles, terr := tr.Transcode(data, 32, 32, std, nil)
		var fr CoefFrame
		if err := fr.Decode(data); err != nil {
			if terr == nil {
				t.Fatalf("Decode refused what Transcode took: %v", err)
			}
			return
		}
		if terr != nil {
			t.Fatalf("Transcode refused what Decode took: %v", terr)
		}
		for i, r := range tileGrid(fr.Bounds(), 32, 32) {
			want, err := fr.AppendTile(nil, r, std)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(tiles[i]) {
				t.Fatalf("tile %v: Transcode and AppendTile differ", r)
			}
		}
		ts, err := NewTableSet(&Tables{Quant: fr.Quant(), Huff: StandardHuffman()})
		if err != nil {
			t.Fatalf("the accepted frame's tables: %v", err)
		}
		b := fr.Bounds()
		payload, err := fr.AppendTile(nil, b, ts)
		if err != nil {
			t.Fatalf("AppendTile: %v", err)
		}
		dst := image.NewYCbCr(b, fr.Subsampling().Ratio())
		var d Decoder
		if err := d.DecodeTile(dst, b, ts, fr.Subsampling(), payload); err != nil {
			t.Fatalf("DecodeTile of a re-tiled frame: %v", err)
		}
		file := AppendEOI(append(AppendTablesHeader(nil, b.Dx(), b.Dy(), ts, fr.Subsampling()), payload...))
		var again CoefFrame
		if err := again.Decode(file); err != nil {
			t.Fatalf("the rebuilt file: %v", err)
		}
		if !fr.gray && !equalCoefs(&fr, &again) {
			t.Fatal("the rebuilt file decodes to other coefficients")
		}
	})
}

// FuzzDecodeTile decodes arbitrary scans with arbitrary (valid) tables: errors
// are fine, a panic or a write outside the tile is not.
func FuzzDecodeTile(f *testing.F) {
	std := StandardHuffman()
	var seedTables []byte
	for _, h := range std {
		seedTables = append(seedTables, h.Count[:]...)
		seedTables = append(seedTables, h.Symbol...)
	}
	var e Encoder
	src := toYCbCr(patternRGBA(40, 24), image.YCbCrSubsampleRatio422)
	scan, _ := e.AppendScan(nil, src, src.Rect, 75)
	f.Add(seedTables, scan, uint8(40), uint8(24), uint8(3), true)
	f.Add(seedTables[:40], []byte{0xff, 0x00, 0x12}, uint8(17), uint8(9), uint8(200), false)
	f.Fuzz(func(t *testing.T, tables, data []byte, w, h, q uint8, is422 bool) {
		tb := StandardTables(int(q))
		for c := range tb.Quant {
			for k := range tb.Quant[c] {
				tb.Quant[c][k] = max(1, uint16(q)*uint16(k+c+1))
			}
		}
		// Each Huffman table: 16 counts, then as many symbols as they add up to.
		for i := range tb.Huff {
			if len(tables) < 16 {
				break
			}
			var ht HuffTable
			copy(ht.Count[:], tables)
			n := 0
			for _, c := range ht.Count {
				n += int(c)
			}
			if n > len(tables)-16 {
				break
			}
			ht.Symbol = tables[16 : 16+n]
			tables = tables[16+n:]
			tb.Huff[i] = ht
		}
		ts, err := NewTableSet(&tb)
		if err != nil {
			return
		}
		s := S420
		if is422 {
			s = S422
		}
		frame := image.NewYCbCr(image.Rect(0, 0, int(w)+32, int(h)+32), s.Ratio())
		for i := range frame.Y {
			frame.Y[i] = 0x55
		}
		r := image.Rect(16, 16, 16+int(w), 16+int(h))
		var d Decoder
		if err := d.DecodeTile(frame, r, ts, s, data); r.Empty() && err == nil {
			t.Fatal("empty tile accepted")
		}
		for y := 0; y < frame.Rect.Dy(); y++ {
			for x := 0; x < frame.Rect.Dx(); x++ {
				if !image.Pt(x, y).In(r) && frame.Y[y*frame.YStride+x] != 0x55 {
					t.Fatalf("pixel (%d,%d) outside tile %v written", x, y, r)
				}
			}
		}
		_ = AppendTablesHeader(nil, int(w), int(h), ts, s)
	})
}

// FuzzParseTables feeds arbitrary bytes to ParseTables: it must not panic, and
// what it accepts compiles and writes back in no more bytes (16-bit tables of
// small steps come back as 8-bit ones).
func FuzzParseTables(f *testing.F) {
	f.Add(AppendTables(nil, &Tables{Quant: StandardTables(75).Quant, Huff: StandardHuffman()}))
	wide := StandardTables(5)
	wide.Quant[0][63] = 4000
	f.Add(AppendTables(nil, &wide))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := ParseTables(b)
		if err != nil {
			return
		}
		if _, err := NewTableSet(&tb); err != nil {
			t.Fatalf("parsed tables do not compile: %v", err)
		}
		if again := AppendTables(nil, &tb); len(again) > len(b) {
			t.Fatalf("%d bytes written back from %d", len(again), len(b))
		}
	})
}
