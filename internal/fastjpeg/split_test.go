package fastjpeg

import (
	"bytes"
	"errors"
	"image"
	"testing"
)

// frameDecode is the reference a split frame must match: the whole frame's
// coefficients (CoefFrame.Decode, which reads restart markers its own way)
// decoded as one scan.
func frameDecode(t testing.TB, data []byte) *image.YCbCr {
	t.Helper()
	var f CoefFrame
	if err := f.Decode(data); err != nil {
		t.Fatalf("CoefFrame.Decode: %v", err)
	}
	tables := Tables{Quant: f.Quant(), Huff: StandardHuffman()} // complete, so AppendTile codes with it
	ts, err := NewTableSet(&tables)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := f.AppendTile(nil, f.Bounds(), ts)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewYCbCr(f.Bounds(), f.Subsampling().Ratio())
	var d Decoder
	if err := d.DecodeTile(img, f.Bounds(), ts, f.Subsampling(), scan); err != nil {
		t.Fatal(err)
	}
	return img
}

// splitDecode splits data on the grid of tw x th tiles and decodes every tile's
// payload into one frame with DecodeRestartTile.
func splitDecode(t testing.TB, data []byte, tw, th int) (*image.YCbCr, [][]byte, *Splitter) {
	t.Helper()
	var s Splitter
	tiles, err := s.Split(data, tw, th, nil)
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	tables := s.Tables()
	ts, err := NewTableSet(&tables)
	if err != nil {
		t.Fatal(err)
	}
	w, h := s.Size()
	b := image.Rect(0, 0, w, h)
	img := image.NewYCbCr(b, s.Subsampling().Ratio())
	grid := tileGrid(b, tw, th)
	if len(tiles) != len(grid) {
		t.Fatalf("%d payloads for %d tiles", len(tiles), len(grid))
	}
	var d Decoder
	for i, r := range grid {
		if err := d.DecodeRestartTile(img, r, ts, s.Subsampling(), s.Restart(), tiles[i]); err != nil {
			t.Fatalf("tile %v: %v", r, err)
		}
	}
	return img, tiles, &s
}

func TestSplitTilesDecodeToTheCameraFrame(t *testing.T) {
	for _, tc := range []struct {
		name           string
		w, h, tw, th   int
		restart        int
		sub            Subsampling
		args           []string
		strip          bool // drop DHT: the Annex K.3 tables apply
		markersPerTile int  // RST markers in the first tile's payload
	}{
		{"a 1080p webcam 4:2:2 frame with a restart every 8 MCUs cuts into 256x128 tiles", 1920, 1080, 256, 128, 8, S422,
			[]string{"-sample", "2x1", "-restart", "8B", "-quality", "90"}, false, 16*2 - 1},
		{"a 1080p 4:2:0 frame (partial last MCU row) with a restart every 4 MCUs cuts into 256x128 tiles", 1920, 1080, 256, 128, 4, S420,
			[]string{"-sample", "2x2", "-restart", "4B", "-quality", "85", "-optimize"}, false, 8*4 - 1},
		{"a 1080p webcam 4:2:2 frame with a restart every 40 MCUs cuts into 640x128 tiles", 1920, 1080, 640, 128, 40, S422,
			[]string{"-sample", "2x1", "-restart", "40B", "-quality", "90"}, false, 16 - 1},
		{"a 1080p webcam 4:2:2 frame with a restart every MCU row cuts into full-width tiles", 1920, 1080, 1920, 64, 120, S422,
			[]string{"-sample", "2x1", "-restart", "1", "-quality", "75"}, false, 8 - 1},
		{"an odd-sized 4:2:0 frame (partial MCU column and row) with a restart every 7 MCUs", 1000, 562, 112, 64, 7, S420,
			[]string{"-sample", "2x2", "-restart", "7B", "-quality", "95"}, false, 4 - 1},
		{"a webcam 4:2:2 frame without DHT decodes with the Annex K.3 tables", 640, 360, 64, 32, 2, S422,
			[]string{"-sample", "2x1", "-restart", "2B", "-quality", "80"}, true, 4*2 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := cjpegFrame(t, tc.w, tc.h, tc.args...)
			if tc.strip {
				data = stripSegments(data, markerDHT)
			}
			want := frameDecode(t, data)
			got, tiles, s := splitDecode(t, data, tc.tw, tc.th)
			if w, h := s.Size(); w != tc.w || h != tc.h || s.Restart() != tc.restart || s.Subsampling() != tc.sub {
				t.Fatalf("split a %dx%d %v frame with interval %d", w, h, s.Subsampling(), s.Restart())
			}
			if d := samePixels(got, want, want.Rect); d != "" {
				t.Fatalf("split tiles differ from the frame's decode: %s", d)
			}
			n := 0
			for m := byte(0); m < 8; m++ {
				n += bytes.Count(tiles[0], []byte{0xff, markerRST0 + m})
			}
			if n != tc.markersPerTile {
				t.Fatalf("the first tile has %d RST markers, want %d", n, tc.markersPerTile)
			}
			total := 0
			for _, p := range tiles {
				total += len(p)
			}
			t.Logf("camera JPEG %d bytes, %d tiles of %d bytes in all", len(data), len(tiles), total)
		})
	}
}

func TestSplitRefuses(t *testing.T) {
	webcam := cjpegFrame(t, 320, 176, "-sample", "2x1", "-restart", "4B")
	for _, tc := range []struct {
		name   string
		data   []byte
		tw, th int
		want   error
	}{
		{"a frame without restart markers", cjpegFrame(t, 320, 176, "-sample", "2x1"), 64, 32, ErrUnsupported},
		{"an interval that does not divide the tile width", webcam, 48, 32, ErrUnsupported},
		{"an interval that does not divide the frame width", cjpegFrame(t, 336, 176, "-sample", "2x1", "-restart", "4B"), 64, 32, ErrUnsupported},
		{"tiles that are not whole MCUs", webcam, 64, 36, ErrUnsupported},
		{"ffmpeg's 4:2:2 layout (Y 2x2, chroma 1x2)", cjpegFrame(t, 320, 176, "-sample", "2x2,1x2,1x2", "-restart", "4B"), 64, 32, ErrUnsupported},
		{"a grayscale frame", cjpegFrame(t, 320, 176, "-grayscale", "-restart", "4B"), 64, 32, ErrUnsupported},
		{"a progressive frame", cjpegFrame(t, 320, 176, "-progressive", "-restart", "4B"), 64, 32, ErrUnsupported},
		{"an RST marker out of order", swapFirstRST(t, webcam), 64, 32, ErrCorrupt},
		{"a frame cut short", webcam[:len(webcam)/2], 64, 32, ErrShort},
		{"a frame with a DNL marker in its scan", insertAfterFirstRST(webcam, []byte{0xff, markerDNL, 0, 4, 0, 176}), 64, 32, ErrCorrupt},
		{"a frame with an empty restart interval", insertAfterFirstRST(webcam, []byte{0xff, markerRST0 + 1}), 64, 32, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Splitter
			if _, err := s.Split(tc.data, tc.tw, tc.th, nil); !errors.Is(err, tc.want) {
				t.Fatalf("Split: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("every prefix of a frame that lacks an interval is refused, not a panic", func(t *testing.T) {
		// A prefix inside the last interval splits (only Huffman decoding could
		// tell), and the receiver's decode of that tile finds it short.
		var s Splitter
		last := bytes.LastIndex(webcam, []byte{0xff, markerRST0 + byte((320/16*176/8/4-2)&7)})
		if last < 0 {
			t.Fatal("no last RST marker")
		}
		for n := 0; n < last+2; n++ {
			if _, err := s.Split(webcam[:n], 64, 32, nil); err == nil {
				t.Fatalf("%d of %d bytes split", n, len(webcam))
			}
		}
	})
}

// swapFirstRST renumbers a JPEG's first RST marker (RST0) as RST1.
func swapFirstRST(t testing.TB, b []byte) []byte {
	out := append([]byte(nil), b...)
	i := bytes.Index(out, []byte{0xff, markerRST0})
	if i < 0 {
		t.Fatal("no RST0")
	}
	out[i+1] = markerRST0 + 1
	return out
}

// insertAfterFirstRST returns b with x inserted after its first RST0 marker.
func insertAfterFirstRST(b, x []byte) []byte {
	i := bytes.Index(b, []byte{0xff, markerRST0}) + 2
	out := append([]byte(nil), b[:i]...)
	out = append(out, x...)
	return append(out, b[i:]...)
}

func TestDecodeRestartTileRefuses(t *testing.T) {
	data := cjpegFrame(t, 128, 32, "-sample", "2x1", "-restart", "2B")
	var s Splitter
	tiles, err := s.Split(data, 64, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	tables := s.Tables()
	ts, err := NewTableSet(&tables)
	if err != nil {
		t.Fatal(err)
	}
	r := image.Rect(0, 0, 64, 32) // 4 MCUs across, 4 rows: 8 intervals, 7 markers
	good := tiles[0]
	first := bytes.Index(good, []byte{0xff, markerRST0})
	for _, tc := range []struct {
		name    string
		payload []byte
		restart int
	}{
		{"a marker misnumbered", bytes.Replace(good, []byte{0xff, markerRST0 + 1}, []byte{0xff, markerRST0 + 2}, 1), 2},
		{"a marker missing", append(append([]byte(nil), good[:first]...), good[first+2:]...), 2},
		{"a marker too many", append(append([]byte(nil), good...), 0xff, markerRST0+7, 0x12), 2},
		{"another marker", append(append([]byte(nil), good...), 0xff, markerEOI), 2},
		{"an interval that does not divide the tile", good, 3},
		{"no interval", good, 0},
		{"the payload cut at a marker", good[:first+1], 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := image.NewYCbCr(image.Rect(0, 0, 128, 32), image.YCbCrSubsampleRatio422)
			var d Decoder
			err := d.DecodeRestartTile(img, r, ts, S422, tc.restart, tc.payload)
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrShort) {
				t.Fatalf("DecodeRestartTile: %v, want corrupt or short", err)
			}
		})
	}
	t.Run("the whole payload decodes", func(t *testing.T) {
		img := image.NewYCbCr(image.Rect(0, 0, 128, 32), image.YCbCrSubsampleRatio422)
		var d Decoder
		if err := d.DecodeRestartTile(img, r, ts, S422, 2, good); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSplit feeds arbitrary bytes to Splitter.Split and the payloads it makes to
// DecodeRestartTile. They may refuse them but must not panic; and when the frame
// also entropy-decodes whole (CoefFrame.Decode), the tiles must decode to exactly
// its pixels.
func FuzzSplit(f *testing.F) {
	f.Add(cjpegFrame(f, 64, 32, "-sample", "2x1", "-restart", "2B"))
	f.Add(cjpegFrame(f, 48, 40, "-sample", "2x2", "-restart", "1B", "-optimize"))
	f.Add(stripSegments(cjpegFrame(f, 32, 16, "-sample", "2x1", "-restart", "1", "-quality", "20"), markerDHT))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Splitter
		const tw, th = 32, 16
		tiles, err := s.Split(data, tw, th, nil)
		if err != nil {
			return
		}
		tables := s.Tables()
		ts, err := NewTableSet(&tables)
		if err != nil {
			t.Fatalf("the split frame's tables: %v", err)
		}
		w, h := s.Size()
		b := image.Rect(0, 0, w, h)
		img := image.NewYCbCr(b, s.Subsampling().Ratio())
		var d Decoder
		ok := true
		for i, r := range tileGrid(b, tw, th) {
			if d.DecodeRestartTile(img, r, ts, s.Subsampling(), s.Restart(), tiles[i]) != nil {
				ok = false
			}
		}
		var cf CoefFrame
		if !ok || cf.Decode(data) != nil {
			return
		}
		if diff := samePixels(img, frameDecode(t, data), b); diff != "" {
			t.Fatalf("split tiles differ from the frame's decode: %s", diff)
		}
	})
}

// BenchmarkSplit measures, per 1080p webcam 4:2:2 frame with a restart every 8
// MCUs cut into 256x128 tiles, the sender's Splitter.Split and the receiver's
// decode of every tile: DecodeRestartTile (interval by interval) against
// DecodeTile of the same tiles re-tiled without markers (CoefFrame.AppendTile).
//
//	go test -run XXX -bench Split -benchtime 20x ./internal/fastjpeg/
func BenchmarkSplit(b *testing.B) {
	data := cjpegFrame(b, 1920, 1080, "-sample", "2x1", "-restart", "8B", "-quality", "90")
	const tw, th = 256, 128
	var s Splitter
	tiles, err := s.Split(data, tw, th, nil)
	if err != nil {
		b.Fatal(err)
	}
	tables := s.Tables()
	ts, err := NewTableSet(&tables)
	if err != nil {
		b.Fatal(err)
	}
	var f CoefFrame
	if err := f.Decode(data); err != nil {
		b.Fatal(err)
	}
	std := Tables{Quant: f.Quant(), Huff: StandardHuffman()}
	sts, err := NewTableSet(&std)
	if err != nil {
		b.Fatal(err)
	}
	grid := tileGrid(f.Bounds(), tw, th)
	plain := make([][]byte, len(grid))
	for i, r := range grid {
		if plain[i], err = f.AppendTile(nil, r, sts); err != nil {
			b.Fatal(err)
		}
	}
	img := image.NewYCbCr(f.Bounds(), S422.Ratio())
	var d Decoder
	b.Run("split", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for range b.N {
			if tiles, err = s.Split(data, tw, th, tiles); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode restart tiles", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for i, r := range grid {
				if err := d.DecodeRestartTile(img, r, ts, S422, s.Restart(), tiles[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("decode plain tiles", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for i, r := range grid {
				if err := d.DecodeTile(img, r, sts, S422, plain[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
