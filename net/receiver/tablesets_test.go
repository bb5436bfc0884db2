package receiver

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/wire"
)

// cameraFrame is a 64x32 camera JPEG (image/jpeg, quality 90: tables no quality
// of codec 0 names) re-tiled into the rig's two 32x32 tiles, with the table set
// the tiles are coded with and the pixels a decoder must produce from them.
func cameraFrame(t *testing.T) (tiles [][]byte, set fastjpeg.Tables, want *image.YCbCr) {
	t.Helper()
	src := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			src.Set(x, y, color.RGBA{uint8(4 * x), uint8(8 * y), uint8(x * y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	var f fastjpeg.CoefFrame
	if err := f.Decode(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	set = fastjpeg.Tables{Quant: f.Quant(), Huff: fastjpeg.StandardHuffman()}
	ts, err := fastjpeg.NewTableSet(&set)
	if err != nil {
		t.Fatal(err)
	}
	want = image.NewYCbCr(image.Rect(0, 0, 64, 32), image.YCbCrSubsampleRatio420)
	var d fastjpeg.Decoder
	for i := range 2 {
		r := image.Rect(32*i, 0, 32*i+32, 32)
		p, err := f.AppendTile(nil, r, ts)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.DecodeTile(want, r, ts, fastjpeg.S420, p); err != nil {
			t.Fatal(err)
		}
		tiles = append(tiles, p)
	}
	return tiles, set, want
}

func (r *rig) codec1Tile(t *testing.T, frame uint32, i int, id uint8, payload []byte) *packet {
	h := wire.Header{Stream: 7, Frame: frame, Width: 64, Height: 32, Tile: uint16(i), Seq: uint16(i), FrameTiles: 2,
		TileW: 32, TileH: 32, Fragments: 1, PayloadSize: uint32(len(payload)), Quality: id,
		Format: wire.CodecTableScan<<4 | wire.Sub420, CaptureUS: uint32(time.Unix(1000, 0).UnixMicro())}
	return r.parsed(t, &h, payload)
}

func (r *rig) tableDatagram(t *testing.T, frame uint32, id uint8, set *fastjpeg.Tables) *packet {
	t.Helper()
	fh := wire.Header{Stream: 7, Frame: frame, Width: 64, Height: 32, FrameTiles: 2, TileW: 32, TileH: 32,
		CaptureUS: uint32(time.Unix(1000, 0).UnixMicro())}
	d, err := wire.AppendTableDatagram(nil, fh, id, set)
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

func TestCodec1TilesDecodeWithTheStreamsTableSet(t *testing.T) {
	tiles, set, want := cameraFrame(t)
	samePixels := func(t *testing.T, got *image.YCbCr) {
		t.Helper()
		if !bytes.Equal(got.Y, want.Y) || !bytes.Equal(got.Cb, want.Cb) || !bytes.Equal(got.Cr, want.Cr) {
			t.Fatal("the frame's pixels are not the tiles' decode with the camera's tables")
		}
	}
	t.Run("tiles after their table set decode with it", func(t *testing.T) {
		r := newRig(t)
		r.a.handle(r.tableDatagram(t, 1, 9, &set))
		r.a.handle(r.codec1Tile(t, 1, 0, 9, tiles[0]))
		r.a.handle(r.codec1Tile(t, 1, 1, 9, tiles[1]))
		r.decodeAll(t, 2)
		if len(r.published) != 1 || !r.published[0].Complete() {
			t.Fatalf("%d frames published", len(r.published))
		}
		samePixels(t, r.published[0].Image)
	})
	t.Run("a tile that came before its table set waits for it", func(t *testing.T) {
		r := newRig(t)
		r.a.handle(r.codec1Tile(t, 1, 0, 9, tiles[0]))
		r.a.handle(r.codec1Tile(t, 1, 1, 9, tiles[1]))
		if r.a.outstanding != 0 {
			t.Fatalf("%d tiles went to the decoders without their tables", r.a.outstanding)
		}
		r.a.handle(r.tableDatagram(t, 2, 9, &set)) // sent with a later frame: still the stream's
		r.decodeAll(t, 2)
		if len(r.published) != 1 || !r.published[0].Complete() || r.a.c.tablesMissing.Load() != 0 {
			t.Fatalf("%d frames published, tables missing %d", len(r.published), r.a.c.tablesMissing.Load())
		}
		samePixels(t, r.published[0].Image)
	})
	t.Run("tiles whose set never comes are counted and concealed, not frozen", func(t *testing.T) {
		r := newRig(t)
		r.a.handle(r.tableDatagram(t, 1, 8, &set)) // another id
		r.a.handle(r.codec1Tile(t, 1, 0, 9, tiles[0]))
		r.a.handle(r.codec1Tile(t, 1, 1, 9, tiles[1]))
		r.clock = r.clock.Add(150 * time.Millisecond) // past the deadline
		r.a.expire(r.clock)
		r.a.release()
		if len(r.published) != 1 || r.published[0].TilesMissing != 2 || r.a.c.tablesMissing.Load() != 2 {
			t.Fatalf("%d frames published, tables missing %d", len(r.published), r.a.c.tablesMissing.Load())
		}
		if r.a.budget.used != 0 {
			t.Fatalf("%d reassembly bytes still held", r.a.budget.used)
		}
	})
	t.Run("a corrupt table set is counted invalid and defines nothing", func(t *testing.T) {
		r := newRig(t)
		p := r.tableDatagram(t, 1, 9, &set)
		p.payload = append([]byte(nil), p.payload...)
		p.payload[len(p.payload)-1] = p.payload[len(p.payload)-2] // a symbol twice in the last table
		r.a.handle(p)
		if r.a.c.invalid.Load() != 1 || r.a.sets.get(9) != nil {
			t.Fatalf("invalid %d, set defined %v", r.a.c.invalid.Load(), r.a.sets.get(9) != nil)
		}
	})
}

func TestTableSetsKeepTheNewestFour(t *testing.T) {
	var s tableSets
	payload := func(q int) []byte {
		t := fastjpeg.StandardTables(q)
		return fastjpeg.AppendTables(nil, &t)
	}
	for id := range uint8(5) {
		if fresh, err := s.define(id, wire.CodecTableScan, payload(50+int(id))); err != nil || !fresh {
			t.Fatalf("set %d: fresh %v, %v", id, fresh, err)
		}
	}
	if s.get(0) != nil || s.get(1) == nil || s.get(4) == nil {
		t.Fatal("the fifth set did not replace the oldest")
	}
	if fresh, _ := s.define(4, wire.CodecTableScan, payload(54)); fresh {
		t.Fatal("a repeat counted as a new set")
	}
	old := s.get(4)
	if fresh, _ := s.define(4, wire.CodecTableScan, payload(90)); !fresh || s.get(4) == old || s.get(1) == nil {
		t.Fatal("a redefinition did not replace its own id alone")
	}
	s.reset()
	if s.get(4) != nil {
		t.Fatal("a reset kept a set")
	}
}
