package fastjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"testing"
)

func TestStandardTablesAreV2s(t *testing.T) {
	var e Encoder
	var d Decoder
	src := toYCbCr(photoRGBA(t, 96, 64), image.YCbCrSubsampleRatio422)
	for _, q := range []int{1, 30, 75, 100} {
		for _, s := range []Subsampling{S420, S422} {
			t.Run(fmt.Sprintf("quality %d %v: same header as AppendHeader, same pixels as DecodeScan", q, s), func(t *testing.T) {
				ts, err := NewTableSet(&Tables{Quant: StandardTables(q).Quant, Huff: StandardHuffman()})
				if err != nil {
					t.Fatal(err)
				}
				if !ts.CanEncode() {
					t.Fatal("Annex K.3 tables cannot encode")
				}
				if got, want := AppendTablesHeader(nil, 96, 64, ts, s), AppendHeader(nil, 96, 64, q, s); !bytes.Equal(got, want) {
					t.Fatalf("header differs:\n%x\n%x", got, want)
				}
				img := src
				if s == S420 {
					img = toYCbCr(photoRGBA(t, 96, 64), image.YCbCrSubsampleRatio420)
				}
				scan, err := e.AppendScan(nil, img, img.Rect, q)
				if err != nil {
					t.Fatal(err)
				}
				a := image.NewYCbCr(img.Rect, img.SubsampleRatio)
				b := image.NewYCbCr(img.Rect, img.SubsampleRatio)
				if err := d.DecodeScan(a, a.Rect, q, s, scan); err != nil {
					t.Fatal(err)
				}
				if err := d.DecodeTile(b, b.Rect, ts, s, scan); err != nil {
					t.Fatal(err)
				}
				if diff := samePixels(a, b, a.Rect); diff != "" {
					t.Fatal(diff)
				}
			})
		}
	}
}

func TestTableSets(t *testing.T) {
	t.Run("a table with steps above 255 is written as 16-bit DQT under SOF1 and reads back", func(t *testing.T) {
		tb := StandardTables(50)
		tb.Quant[2][63] = 300 // Cr's own table, so three DQT tables
		ts, err := NewTableSet(&tb)
		if err != nil {
			t.Fatal(err)
		}
		src := toYCbCr(photoRGBA(t, 48, 32), image.YCbCrSubsampleRatio420)
		var e Encoder
		scan, err := e.AppendScan(nil, src, src.Rect, 50) // Cr's last coefficient is 0 at this size
		if err != nil {
			t.Fatal(err)
		}
		file := AppendEOI(append(AppendTablesHeader(nil, 48, 32, ts, S420), scan...))
		if !bytes.Contains(file, []byte{0xff, markerSOF1}) {
			t.Fatal("no SOF1 marker")
		}
		var f CoefFrame
		if err := f.Decode(file); err != nil {
			t.Fatal(err)
		}
		if f.Quant() != tb.Quant {
			t.Error("tables read back differ")
		}
		if _, err := jpeg.Decode(bytes.NewReader(file)); err != nil {
			t.Errorf("image/jpeg: %v", err)
		}
	})
	std := StandardHuffman()
	partial := std
	partial[HuffLumAC] = HuffTable{Count: [16]uint8{0, 2}, Symbol: []uint8{0x00, 0x01}}
	for _, tc := range []struct {
		name      string
		tb        Tables
		err       bool
		canEncode bool
	}{
		{"Annex K.3 tables encode and decode", Tables{Quant: StandardTables(50).Quant, Huff: std}, false, true},
		{"a camera's table without every symbol decodes but cannot encode", Tables{Quant: StandardTables(50).Quant, Huff: partial}, false, false},
		{"a zero step is refused", Tables{Huff: std}, true, false},
		{"more codes than their lengths hold are refused", Tables{Quant: StandardTables(50).Quant,
			Huff: [4]HuffTable{{Count: [16]uint8{3}, Symbol: []uint8{0, 1, 2}}, std[1], std[2], std[3]}}, true, false},
		{"a DC symbol above 11 is refused", Tables{Quant: StandardTables(50).Quant,
			Huff: [4]HuffTable{{Count: [16]uint8{1}, Symbol: []uint8{12}}, std[1], std[2], std[3]}}, true, false},
		{"a symbol twice is refused", Tables{Quant: StandardTables(50).Quant,
			Huff: [4]HuffTable{std[0], {Count: [16]uint8{0, 2}, Symbol: []uint8{1, 1}}, std[2], std[3]}}, true, false},
		{"counts that disagree with the symbols are refused", Tables{Quant: StandardTables(50).Quant,
			Huff: [4]HuffTable{std[0], {Count: [16]uint8{0, 2}, Symbol: []uint8{1}}, std[2], std[3]}}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := NewTableSet(&tc.tb)
			if tc.err {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ts.CanEncode() != tc.canEncode {
				t.Fatalf("CanEncode = %v", ts.CanEncode())
			}
			if !tc.canEncode {
				var f CoefFrame
				fr := clip{"", testsrc(32, 16), image.Pt(32, 16), "yuvj420p", 4, "default", 0}.frames(t, 1)[0]
				if err := f.Decode(fr); err != nil {
					t.Fatal(err)
				}
				if _, err := f.AppendTile(nil, f.Bounds(), ts); !isArgs(err) {
					t.Errorf("AppendTile with an incomplete table: err = %v", err)
				}
			}
		})
	}
}

func TestTablesTravel(t *testing.T) {
	var counts SymbolCounts
	counts[HuffLumAC][0x01] = 1000
	wideSet := StandardTables(10)
	wideSet.Quant[1][40] = 1000
	for _, tc := range []struct {
		name string
		tb   Tables
		size int
	}{
		{"quality 75 with Annex K.3 tables", StandardTables(75), 619},
		{"optimal Huffman tables", Tables{Quant: StandardTables(90).Quant, Huff: OptimalHuffman(&counts)}, 0},
		{"a 16-bit quantisation table", wideSet, 683},
	} {
		t.Run(tc.name+" read back as they were written", func(t *testing.T) {
			b := AppendTables(nil, &tc.tb)
			if tc.size != 0 && len(b) != tc.size {
				t.Errorf("%d bytes, want %d", len(b), tc.size)
			}
			got, err := ParseTables(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Quant != tc.tb.Quant {
				t.Error("quantisation tables differ")
			}
			for i := range got.Huff {
				if got.Huff[i].Count != tc.tb.Huff[i].Count || !bytes.Equal(got.Huff[i].Symbol, tc.tb.Huff[i].Symbol) {
					t.Errorf("Huffman table %d differs", i)
				}
			}
		})
	}
	good := AppendTables(nil, &Tables{Quant: StandardTables(75).Quant, Huff: StandardHuffman()})
	dht := bytes.Index(good, []byte{0xff, markerDHT})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"nothing", nil},
		{"DHT first", append(bytes.Clone(good[dht:]), good[:dht]...)},
		{"a byte after the tables", append(bytes.Clone(good), 0)},
		{"a cut DHT", good[:len(good)-1]},
		{"no table 2", append(append([]byte{0xff, markerDQT, 0, 2 + 2*65}, good[4:4+2*65]...), good[dht:]...)},
		{"a zero step", func() []byte { b := bytes.Clone(good); b[5] = 0; return b }()},
	} {
		t.Run("a table set with "+tc.name+" is refused", func(t *testing.T) {
			if _, err := ParseTables(tc.b); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrShort) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
