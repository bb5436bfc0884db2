package fastjpeg

import (
	"image"
	"testing"
)

// panInput is the "photograph pan": a 1920x1080 window moving 40 pixels
// a frame across the 2560x1600 photograph.
func panInput() []string {
	return []string{"-loop", "1", "-i", photoPath, "-vf", "crop=1920:1080:n*40:100"}
}

// TestHuffmanTablesMeasured re-tiles camera frames into 256x128 tiles with the
// Annex K.3 tables, with tables optimal for each frame (Annex K.2), and with the
// first frame's optimal tables kept for the stream, and logs the bytes: the
// measurement behind the choice of tables (docs/JPEG.md). Every payload must
// decode to the same pixels whichever tables coded it.
func TestHuffmanTablesMeasured(t *testing.T) {
	// Under -race and qemu (sweepStep) the first clip and the last; all four in the
	// plain build.
	for _, c := range sample([]clip{
		{"photograph pan 1080p 4:2:2 q3", panInput(), image.Pt(1920, 1080), "yuvj422p", 3, "optimal", 0},
		{"photograph pan 1080p 4:2:2 q10", panInput(), image.Pt(1920, 1080), "yuvj422p", 10, "optimal", 0},
		{"photograph pan 1080p 4:2:0 q3", panInput(), image.Pt(1920, 1080), "yuvj420p", 3, "optimal", 0},
		{"test card 1080p 4:2:2 q3", testsrc(1920, 1080), image.Pt(1920, 1080), "yuvj422p", 3, "optimal", 0},
	}, 3) {
		t.Run(c.name+": optimal tables cost no more than Annex K.3's and decode the same", func(t *testing.T) {
			frames := c.frames(t, 3)
			var first *TableSet
			var camera, std, perFrame, perStream int
			for i, data := range frames {
				var f CoefFrame
				if err := f.Decode(data); err != nil {
					t.Fatal(err)
				}
				grid := tileGrid(f.Bounds(), 256, 128)
				var counts SymbolCounts
				for _, r := range grid {
					if err := f.CountTile(&counts, r); err != nil {
						t.Fatal(err)
					}
				}
				tsStd, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: StandardHuffman()})
				if err != nil {
					t.Fatal(err)
				}
				tsOpt, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: OptimalHuffman(&counts)})
				if err != nil {
					t.Fatal(err)
				}
				if !tsOpt.CanEncode() {
					t.Fatal("optimal tables are not complete")
				}
				if i == 0 {
					first = tsOpt
				}
				tsStream, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: first.Tables().Huff})
				if err != nil {
					t.Fatal(err)
				}
				var d Decoder
				s := f.Subsampling()
				want := image.NewYCbCr(f.Bounds(), s.Ratio())
				got := image.NewYCbCr(f.Bounds(), s.Ratio())
				for _, r := range grid {
					p, err := f.AppendTile(nil, r, tsStd)
					if err != nil {
						t.Fatal(err)
					}
					if err := d.DecodeTile(want, r, tsStd, s, p); err != nil {
						t.Fatal(err)
					}
					std += len(p)
					if p, err = f.AppendTile(p[:0], r, tsOpt); err != nil {
						t.Fatal(err)
					}
					if err := d.DecodeTile(got, r, tsOpt, s, p); err != nil {
						t.Fatal(err)
					}
					perFrame += len(p)
					if p, err = f.AppendTile(p[:0], r, tsStream); err != nil {
						t.Fatal(err)
					}
					perStream += len(p)
				}
				camera += len(data)
				if diff := samePixels(got, want, f.Bounds()); diff != "" {
					t.Fatalf("frame %d: optimal tables decode differently: %s", i, diff)
				}
			}
			n := len(frames)
			t.Logf("bytes per frame: camera JPEG %d; tiles with Annex K.3 %d (%+.1f%%), optimal per frame %d (%+.1f%%), first frame's optimal %d (%+.1f%%); DHT costs 420 bytes",
				camera/n, std/n, pct(std, camera), perFrame/n, pct(perFrame, camera), perStream/n, pct(perStream, camera))
			if perFrame > std {
				t.Errorf("optimal tables took %d bytes, Annex K.3 %d", perFrame, std)
			}
		})
	}
}

func pct(a, b int) float64 { return 100 * (float64(a) - float64(b)) / float64(b) }
