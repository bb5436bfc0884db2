package fastjpeg

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"testing"
)

// goldenRetile are SHA-256 digests of everything re-tiling makes of the frames in
// testdata/golden (camera-style JPEGs: cjpeg's 4:2:2 in the webcams' Y 2x1 layout
// with optimised tables, 4:2:0 with a restart interval, grayscale, and ffmpeg's
// 4:2:2), computed on amd64. The same digests on arm64 (qemu-aarch64, see
// TestRetiledTilesAreTheGoldenOnes) show the tiles are bit-exact across
// architectures. Print new ones with HRVS_GOLDEN=print after a deliberate change
// of the coded bytes.
var goldenRetile = map[string]string{
	"g420dri.jpg": "be2ae04b617a549b66a6b900397607cd445bc6368860d4773799bb01016e9e77",
	"g422.jpg":    "0d1845583fb3c9979350be68d475aeff056c9e77861facebf305288d69c0f03d",
	"ggray.jpg":   "594d9cbfe10a1f4e15d3533716fba20c616909c126916f1f7f189effc469f168",
	"gff422.jpg":  "c28aa4a086a4fd5120cf55b7ba818c8a117b350ceb6868a6e032833d9f9ec82a",
}

// retileDigest re-tiles one camera frame every way the sender does and hashes the
// results in order: Transcode's tiles (Annex K.3 tables) on two grids, the
// stream's optimal Huffman tables and the table set's wire form, the change
// summaries, and the tiles requantised for rate control.
func retileDigest(t *testing.T, frame []byte) string {
	t.Helper()
	h := sha256.New()
	put := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var f CoefFrame
	std, err := NewTableSet(&Tables{Quant: StandardTables(50).Quant, Huff: StandardHuffman()})
	if err != nil {
		t.Fatal(err)
	}
	var tiles [][]byte
	for _, g := range []image.Point{{64, 32}, {128, 64}} {
		if tiles, err = f.Transcode(frame, g.X, g.Y, std, tiles); err != nil {
			t.Fatal(err)
		}
		for _, p := range tiles {
			put(p)
		}
	}
	if err := f.Decode(frame); err != nil {
		t.Fatal(err)
	}
	grid := tileGrid(f.Bounds(), 64, 32)
	var counts SymbolCounts
	for _, r := range grid {
		if err := f.CountTile(&counts, r); err != nil {
			t.Fatal(err)
		}
	}
	tables := Tables{Quant: f.Quant(), Huff: OptimalHuffman(&counts)}
	put(AppendTables(nil, &tables))
	var sum []int32
	for _, r := range grid {
		if sum, err = f.AppendSummary(sum[:0], r); err != nil {
			t.Fatal(err)
		}
		for _, v := range sum {
			put(binary.BigEndian.AppendUint32(nil, uint32(v)))
		}
	}
	if _, err := f.Requantize(250, 28); err != nil {
		t.Fatal(err)
	}
	tables.Quant = f.Quant()
	ts, err := NewTableSet(&tables)
	if err != nil {
		t.Fatal(err)
	}
	put(AppendTables(nil, &tables))
	for _, r := range grid {
		p, err := f.AppendTile(nil, r, ts)
		if err != nil {
			t.Fatal(err)
		}
		put(p)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestRetiledTilesAreTheGoldenOnes holds re-tiling to digests computed on amd64,
// so that running this package's test binary on arm64 (GOARCH=arm64 go test -c,
// then qemu-aarch64 ./fastjpeg.test -test.run Golden) proves the tiles bit-exact
// across architectures.
func TestRetiledTilesAreTheGoldenOnes(t *testing.T) {
	for name, want := range goldenRetile {
		t.Run(name+" re-tiles to the amd64 bytes", func(t *testing.T) {
			frame, err := os.ReadFile(filepath.Join("testdata", "golden", name))
			if err != nil {
				t.Fatal(err)
			}
			got := retileDigest(t, frame)
			if os.Getenv("HRVS_GOLDEN") == "print" {
				fmt.Printf("\t%q: %q,\n", name, got)
				return
			}
			if got != want {
				t.Fatalf("digest %s, amd64's %s", got, want)
			}
		})
	}
}
