package tile

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// wireCost is what a frame costs on the wire cut into tw x th tiles: datagram bytes
// (headers included) and datagrams, and the time the stdlib encoder took.
func wireCost(t testing.TB, img *image.YCbCr, tw, th, q, mtu int) (bytes, dgrams int, took time.Duration) {
	g, err := NewGrid(img.Rect.Dx(), img.Rect.Dy(), tw, th, wire.Sub420)
	if err != nil {
		t.Fatal(err)
	}
	var enc StdEncoder
	var p []byte
	start := time.Now()
	for i := 0; i < g.Len(); i++ {
		p, _, err = enc.AppendTile(p[:0], img, g.Rect(i), q)
		if err != nil {
			t.Fatal(err)
		}
		n := wire.Fragments(len(p), mtu-wire.HeaderSize)
		dgrams += n
		bytes += len(p) + n*wire.HeaderSize
	}
	return bytes, dgrams, time.Since(start)
}

func wholeJPEG(t testing.TB, img image.Image, q int) int {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Len()
}

// TestTiledStreamOverhead holds the default tiling to the protocol's budget: a
// tiled 1080p frame may cost at most 5% more bytes than one whole-frame JPEG.
// With HRVS_TILE_TABLE=1 it prints the table docs/PROTOCOL.md quotes.
func TestTiledStreamOverhead(t *testing.T) {
	img := patternFrame(t, 1920, 1080, 40)
	if extra := os.Getenv("HRVS_TILE_IMAGE"); extra != "" {
		f, err := os.Open(extra)
		if err != nil {
			t.Fatal(err)
		}
		m, err := jpeg.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		img = m.(*image.YCbCr)
	}
	whole := wholeJPEG(t, img, 75)
	def := [2]int{DefaultW, DefaultH}
	sizes := [][2]int{def}
	if os.Getenv("HRVS_TILE_TABLE") != "" {
		sizes = [][2]int{{64, 64}, {128, 64}, {128, 128}, {192, 128}, {256, 64}, {256, 128}, {240, 144}, {384, 128}, {480, 272}}
	}
	for _, s := range sizes {
		b, d, took := wireCost(t, img, s[0], s[1], 75, 1400)
		over := float64(b)/float64(whole)*100 - 100
		g, _ := NewGrid(1920, 1080, s[0], s[1], wire.Sub420)
		t.Log(fmt.Sprintf("| %dx%d | %d | %d | %.1f | %.1f%% | %.1f | %.0f ms |", s[0], s[1], g.Len(), d, float64(d)/float64(g.Len()), over, float64(b)/1024, float64(took.Milliseconds())))
		if s == def && over > 5 {
			t.Errorf("%dx%d tiles cost %.1f%% more than a whole JPEG (%d vs %d bytes), budget 5%%", s[0], s[1], over, b, whole)
		}
	}
	t.Logf("whole-frame JPEG: %d bytes", whole)
}
