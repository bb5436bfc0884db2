package fastjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"testing"
)

// webcamStyle rewrites a frame in the HRVS MCU layout, as webcams code 4:2:2
// (Y 2x1, chroma 1x1; ffmpeg writes Y 2x2, chroma 1x2): the same coefficients,
// coded with tables optimal for them, as a whole-frame scan.
func webcamStyle(t testing.TB, frame []byte) []byte {
	t.Helper()
	var f CoefFrame
	if err := f.Decode(frame); err != nil {
		t.Fatal(err)
	}
	var counts SymbolCounts
	if err := f.CountTile(&counts, f.Bounds()); err != nil {
		t.Fatal(err)
	}
	ts, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: OptimalHuffman(&counts)})
	if err != nil {
		t.Fatal(err)
	}
	b := f.Bounds()
	out := AppendTablesHeader(nil, b.Dx(), b.Dy(), ts, f.Subsampling())
	if out, err = f.AppendTile(out, b, ts); err != nil {
		t.Fatal(err)
	}
	return AppendEOI(out)
}

func TestTranscodeEqualsDecodeAndAppendTile(t *testing.T) {
	type source struct {
		name string
		data []byte
	}
	var sources []source
	for _, c := range clips {
		fr := c.frames(t, 1)[0]
		sources = append(sources, source{c.name, fr})
		if c.pixFmt == "yuvj422p" && c.slices == 0 {
			sources = append(sources, source{c.name + " in the webcams' Y 2x1 layout", webcamStyle(t, fr)})
		}
	}
	sources = append(sources, source{"grayscale photograph 333x217", stdEncode(t, grayOf(photoRGBA(t, 333, 217)), 80)})
	for _, src := range sources {
		for _, huff := range []string{"Annex K.3", "optimal"} {
			t.Run(fmt.Sprintf("%s re-tiled in one pass with %s tables is byte for byte the two-pass result", src.name, huff), func(t *testing.T) {
				var f, g CoefFrame
				if err := g.Decode(src.data); err != nil {
					t.Fatal(err)
				}
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
				mw, mh := g.Subsampling().MCUSize()
				for _, sz := range []image.Point{{256, 128}, {mw, mh}, {5 * mw, 3 * mh}} {
					var tiles [][]byte
					for range 2 { // the second pass reuses the buffers
						if tiles, err = f.Transcode(src.data, sz.X, sz.Y, ts, tiles); err != nil {
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
							t.Fatalf("%v tile %d %v: %d bytes differ from AppendTile's %d", sz, i, r, len(tiles[i]), len(want))
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
				}
			})
		}
	}
	t.Run("a grid off the MCU grid is an argument error", func(t *testing.T) {
		var f CoefFrame
		fr := clips[1].frames(t, 1)[0] // 4:2:0: the one-pass layout
		ts, _ := NewTableSet(&Tables{Quant: StandardTables(75).Quant, Huff: StandardHuffman()})
		if _, err := f.Transcode(fr, 24, 16, ts, nil); !isArgs(err) {
			t.Errorf("err = %v", err)
		}
		if _, err := f.Transcode(fr, 256, 128, ts, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.AppendTile(nil, image.Rect(0, 0, 16, 16), ts); !isArgs(err) {
			t.Errorf("AppendTile after a one-pass Transcode: err = %v", err)
		}
	})
	t.Run("every truncation of a webcam frame is refused", func(t *testing.T) {
		c := clip{"", testsrc(64, 48), image.Pt(64, 48), "yuvj422p", 4, "default", 0}
		fr := webcamStyle(t, c.frames(t, 1)[0])
		ts, _ := NewTableSet(&Tables{Quant: StandardTables(75).Quant, Huff: StandardHuffman()})
		var f CoefFrame
		for n := 0; n < len(fr)-2; n++ {
			if _, err := f.Transcode(fr[:n], 32, 16, ts, nil); !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%d of %d bytes: err = %v", n, len(fr), err)
			}
		}
	})
}
