package fastjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os/exec"
	"path/filepath"
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
	// Under -race (raceSample) every other source with the last (the grayscale
	// one); the plain build and qemu transcode every source.
	for _, src := range raceSample(sources, 2) {
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

// cjpegFrame codes the photograph scaled to w x h with libjpeg's cjpeg
// (libjpeg-turbo-progs), whose options reach layouts and restart intervals
// ffmpeg does not write.
func cjpegFrame(t testing.TB, w, h int, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	ppm := filepath.Join(dir, "in.ppm")
	if b, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", photo1080, "-vf",
		fmt.Sprintf("scale=%d:%d", w, h), "-f", "image2", "-c:v", "ppm", ppm).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	out, err := exec.Command("cjpeg", append(args, ppm)...).Output()
	if err != nil {
		t.Fatalf("cjpeg %v: %v", args, err)
	}
	return out
}

func TestCjpegLayouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"webcam 4:2:2 (Y 2x1) with a restart every MCU row", []string{"-sample", "2x1", "-restart", "1", "-quality", "92"}},
		{"webcam 4:2:2 (Y 2x1) with a restart every 7 MCUs and optimised tables", []string{"-sample", "2x1", "-restart", "7B", "-optimize", "-quality", "80"}},
		{"4:2:0 with a restart every 3 MCUs", []string{"-sample", "2x2", "-restart", "3B", "-quality", "85"}},
		{"4:2:2 as Y 4x1 and chroma 2x1 (two HRVS MCUs across)", []string{"-sample", "4x1,2x1,2x1", "-quality", "90"}},
		{"grayscale with restarts", []string{"-grayscale", "-restart", "5B", "-quality", "75"}},
		{"16-bit quantisation tables (quality 5, baseline off)", []string{"-sample", "2x1", "-quality", "5"}},
	} {
		t.Run(tc.name+": tiles decode to image/jpeg's frame and both paths agree", func(t *testing.T) {
			data := cjpegFrame(t, 333, 217, tc.args...)
			var f, g CoefFrame
			if err := g.Decode(data); err != nil {
				t.Fatal(err)
			}
			ts, err := NewTableSet(&Tables{Quant: g.Quant(), Huff: StandardHuffman()})
			if err != nil {
				t.Fatal(err)
			}
			tiles, err := f.Transcode(data, 64, 32, ts, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := g.Subsampling()
			got := image.NewYCbCr(g.Bounds(), s.Ratio())
			var d Decoder
			for i, r := range tileGrid(g.Bounds(), 64, 32) {
				want, err := g.AppendTile(nil, r, ts)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(want, tiles[i]) {
					t.Fatalf("tile %v: Transcode and AppendTile differ", r)
				}
				if err := d.DecodeTile(got, r, ts, s, tiles[i]); err != nil {
					t.Fatal(err)
				}
			}
			m, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			switch std := m.(type) {
			case *image.YCbCr:
				if d := maxDiff(got, std); d > 2 {
					t.Errorf("tiles differ from image/jpeg's decode by up to %d levels", d)
				}
				if p := psnr(got, std); p < 50 {
					t.Errorf("PSNR %.1f dB", p)
				}
			case *image.Gray:
				for y := 0; y < std.Rect.Dy(); y++ {
					for x := 0; x < std.Rect.Dx(); x++ {
						if d := abs(int(got.Y[got.YOffset(x, y)]) - int(std.Pix[std.PixOffset(x, y)])); d > 2 {
							t.Fatalf("luma at (%d,%d) differs by %d", x, y, d)
						}
					}
				}
			default:
				t.Fatalf("image/jpeg gave a %T", m)
			}
		})
	}
}
