package receiver

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/wire"
)

// restartFrame is a 64x32 4:2:0 camera JPEG with a restart every 2 MCUs
// (libjpeg's cjpeg, from libjpeg-turbo-progs), split at its markers into the
// rig's two 32x32 tiles, with the camera's tables and the pixels its whole
// frame decodes to.
func restartFrame(t *testing.T) (tiles [][]byte, set fastjpeg.Tables, want *image.YCbCr) {
	t.Helper()
	var ppm bytes.Buffer
	fmt.Fprintf(&ppm, "P6\n64 32\n255\n")
	for y := range 32 {
		for x := range 64 {
			ppm.Write([]byte{uint8(4 * x), uint8(8 * y), uint8(x * y)})
		}
	}
	in := filepath.Join(t.TempDir(), "in.ppm")
	if err := os.WriteFile(in, ppm.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := exec.Command("cjpeg", "-sample", "2x2", "-restart", "2B", "-quality", "90", in).Output()
	if err != nil {
		t.Fatalf("cjpeg (libjpeg-turbo-progs): %v", err)
	}
	var s fastjpeg.Splitter
	if tiles, err = s.Split(data, 32, 32, nil); err != nil {
		t.Fatal(err)
	}
	set = s.Tables()
	ts, err := fastjpeg.NewTableSet(&set)
	if err != nil {
		t.Fatal(err)
	}
	set = ts.Tables() // the Splitter's symbols are its own
	// The reference: the frame's coefficients decoded as one scan.
	var f fastjpeg.CoefFrame
	if err := f.Decode(data); err != nil {
		t.Fatal(err)
	}
	std := fastjpeg.Tables{Quant: f.Quant(), Huff: fastjpeg.StandardHuffman()}
	sts, err := fastjpeg.NewTableSet(&std)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := f.AppendTile(nil, f.Bounds(), sts)
	if err != nil {
		t.Fatal(err)
	}
	want = image.NewYCbCr(f.Bounds(), image.YCbCrSubsampleRatio420)
	var d fastjpeg.Decoder
	if err := d.DecodeTile(want, f.Bounds(), sts, fastjpeg.S420, scan); err != nil {
		t.Fatal(err)
	}
	return tiles, set, want
}

func (r *rig) codec2Tile(t *testing.T, frame uint32, i int, id uint8, payload []byte) *packet {
	p := r.codec1Tile(t, frame, i, id, payload)
	p.h.Format = wire.CodecRestartScan<<4 | wire.Sub420
	return p
}

func (r *rig) restartTableDatagram(t *testing.T, frame uint32, id uint8, set *fastjpeg.Tables, restart int) *packet {
	t.Helper()
	fh := wire.Header{Stream: 7, Frame: frame, Width: 64, Height: 32, FrameTiles: 2, TileW: 32, TileH: 32,
		CaptureUS: uint32(time.Unix(1000, 0).UnixMicro())}
	d, err := wire.AppendRestartTableDatagram(nil, fh, id, set, restart)
	if err != nil {
		t.Fatal(err)
	}
	p := &packet{at: r.clock}
	pl, err := p.h.Unmarshal(d, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	p.payload, p.kind = pl, kindOf(&p.h)
	return p
}

func TestCodec2TilesDecodeWithTheirRestartInterval(t *testing.T) {
	tiles, set, want := restartFrame(t)
	t.Run("tiles cut at the camera's restart markers decode to the camera's frame", func(t *testing.T) {
		r := newRig(t)
		r.a.handle(r.restartTableDatagram(t, 1, 9, &set, 2))
		r.a.handle(r.codec2Tile(t, 1, 0, 9, tiles[0]))
		r.a.handle(r.codec2Tile(t, 1, 1, 9, tiles[1]))
		r.decodeAll(t, 2)
		if len(r.published) != 1 || !r.published[0].Complete() || r.a.c.decErr.Load() != 0 {
			t.Fatalf("%d frames published, %d decode errors", len(r.published), r.a.c.decErr.Load())
		}
		got := r.published[0].Image
		if !bytes.Equal(got.Y, want.Y) || !bytes.Equal(got.Cb, want.Cb) || !bytes.Equal(got.Cr, want.Cr) {
			t.Fatal("the frame's pixels are not the camera frame's decode")
		}
	})
	t.Run("a tile that came before its restart set waits for it", func(t *testing.T) {
		r := newRig(t)
		r.a.handle(r.codec2Tile(t, 1, 0, 9, tiles[0]))
		r.a.handle(r.codec2Tile(t, 1, 1, 9, tiles[1]))
		r.a.handle(r.restartTableDatagram(t, 2, 9, &set, 2))
		r.decodeAll(t, 2)
		if len(r.published) != 1 || !r.published[0].Complete() {
			t.Fatalf("%d frames published", len(r.published))
		}
	})
	bad := bytes.Replace(tiles[1], []byte{0xff, 0xd0}, []byte{0xff, 0xd3}, 1)
	for _, c := range []struct {
		name    string
		payload []byte
		restart int
		codec1  bool // the set defined as codec 1's
		fails   uint64
	}{
		{"a tile with a restart marker out of order", bad, 2, false, 1},
		{"a tile with a marker missing", bytes.Replace(tiles[1], []byte{0xff, 0xd0}, nil, 1), 2, false, 1},
		{"tiles whose set has another restart interval", tiles[1], 1, false, 2},
		{"tiles whose set is codec 1's", tiles[1], 0, true, 2},
	} {
		t.Run(c.name+": counted as decode errors and concealed", func(t *testing.T) {
			r := newRig(t)
			if c.codec1 {
				r.a.handle(r.tableDatagram(t, 1, 9, &set))
			} else {
				r.a.handle(r.restartTableDatagram(t, 1, 9, &set, c.restart))
			}
			r.a.handle(r.codec2Tile(t, 1, 0, 9, tiles[0]))
			r.a.handle(r.codec2Tile(t, 1, 1, 9, c.payload))
			r.decodeAll(t, 2)
			if len(r.published) != 1 || r.published[0].Complete() || r.a.c.decErr.Load() != c.fails {
				t.Fatalf("%d frames published, %d decode errors", len(r.published), r.a.c.decErr.Load())
			}
		})
	}
}
