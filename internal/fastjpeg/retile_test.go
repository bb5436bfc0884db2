package fastjpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"testing"
)

// variant is one way a camera may deliver the same frame.
type variant struct {
	name string
	edit func([]byte) []byte
	ok   func(c clip) bool // whether the variant applies to the clip
}

var variants = []variant{
	{"as ffmpeg wrote it", func(b []byte) []byte { return b }, func(clip) bool { return true }},
	// Only tables that are Annex K.3's may be dropped: that is what the convention means.
	{"without DHT (Annex K.3 implied)", func(b []byte) []byte { return stripSegments(b, markerDHT) },
		func(c clip) bool { return c.huffman == "default" }},
	{"without EOI", func(b []byte) []byte { return b[:len(b)-2] }, func(clip) bool { return true }},
	{"with 16-bit DQT", wideDQT, func(clip) bool { return true }},
}

// cameraTables is the table set the source JPEG's own scan was coded with.
func cameraTables(t testing.TB, f *CoefFrame) *TableSet {
	t.Helper()
	tb := Tables{Quant: f.Quant()}
	for class := 0; class < 2; class++ {
		for i, c := range []int{0, 1} {
			comp := f.hd.comp[min(c, f.hd.ncomp-1)]
			sel := comp.td
			if class == 1 {
				sel = comp.ta
			}
			s := f.hd.huff[class*4+int(sel)]
			tb.Huff[i*2+class] = HuffTable{Count: s.count, Symbol: s.value}
		}
	}
	ts, err := NewTableSet(&tb)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// tileGrid is the protocol's grid (docs/PROTOCOL.md §2) of tw x th tiles over r.
func tileGrid(r image.Rectangle, tw, th int) []image.Rectangle {
	var out []image.Rectangle
	for y := 0; y < r.Dy(); y += th {
		for x := 0; x < r.Dx(); x += tw {
			out = append(out, image.Rect(x, y, min(x+tw, r.Dx()), min(y+th, r.Dy())))
		}
	}
	return out
}

// samePixels reports the first sample of r where a and b differ, or "".
func samePixels(a, b *image.YCbCr, r image.Rectangle) string {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.Y[a.YOffset(x, y)] != b.Y[b.YOffset(x, y)] {
				return fmt.Sprintf("Y at (%d,%d): %d vs %d", x, y, a.Y[a.YOffset(x, y)], b.Y[b.YOffset(x, y)])
			}
			ca, cb := a.COffset(x, y), b.COffset(x, y)
			if a.Cb[ca] != b.Cb[cb] || a.Cr[ca] != b.Cr[cb] {
				return fmt.Sprintf("chroma at (%d,%d)", x, y)
			}
		}
	}
	return ""
}

func TestRetiledTilesDecodeToTheCameraFrame(t *testing.T) {
	// Under -race (raceSample) every third clip with the last (a 4:2:2 test card,
	// a 4:2:0 photograph with restart markers, a small 4:2:2 one and the 17x9 one);
	// the plain build and qemu re-tile every clip.
	for _, c := range raceSample(clips, 3) {
		src := c.frames(t, 1)[0]
		// Under -race and qemu (sweepStep) the camera's frame as it is and with 16-bit
		// DQT; the frames without DHT and without EOI run in the plain build.
		for _, v := range sample(variants, 3) {
			if !v.ok(c) {
				continue
			}
			t.Run(c.name+" "+v.name+": every tile decodes to the camera frame's pixels", func(t *testing.T) {
				data := v.edit(bytes.Clone(src))
				var f CoefFrame
				if err := f.Decode(data); err != nil {
					t.Fatal(err)
				}
				if w, h := f.Size(); w != c.size.X || h != c.size.Y {
					t.Fatalf("size %dx%d, want %v", w, h, c.size)
				}
				wantSub := S420
				if c.pixFmt == "yuvj422p" {
					wantSub = S422
				}
				if f.Subsampling() != wantSub {
					t.Fatalf("subsampling %v, want %v", f.Subsampling(), wantSub)
				}
				if (f.Restart() > 0) != (c.slices > 1) {
					t.Fatalf("restart interval %d with %d slices", f.Restart(), c.slices)
				}
				s := f.Subsampling()
				ts, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: StandardHuffman()})
				if err != nil {
					t.Fatal(err)
				}
				var d Decoder
				bounds := f.Bounds()

				// The reference: the camera's own scan through the same decoder, where it
				// has no restart markers and the HRVS MCU layout (DecodeTile takes no
				// others; ffmpeg codes 4:2:2 as Y 2x2, C 1x2), else the whole frame
				// re-tiled as one tile (its coefficients are checked below).
				ref := image.NewYCbCr(bounds, s.Ratio())
				whole, err := f.AppendTile(nil, bounds, ts)
				if err != nil {
					t.Fatal(err)
				}
				if f.Restart() == 0 && f.hd.comp[1].h == 1 && f.hd.comp[1].v == 1 {
					err = d.DecodeTile(ref, bounds, cameraTables(t, &f), s, f.hd.scan)
				} else {
					err = d.DecodeTile(ref, bounds, ts, s, whole)
				}
				if err != nil {
					t.Fatal(err)
				}

				mw, mh := s.MCUSize()
				// One-MCU tiles and the 256x128 the sender uses; under -race and qemu
				// (sweepStep) the odd 3x5-MCU grid runs in the plain build only.
				for _, g := range sample([]image.Point{{mw, mh}, {3 * mw, 5 * mh}, {256, 128}}, 2) {
					got := image.NewYCbCr(bounds, s.Ratio())
					var payload []byte
					for _, r := range tileGrid(bounds, g.X, g.Y) {
						payload, err = f.AppendTile(payload[:0], r, ts)
						if err != nil {
							t.Fatalf("tile %v: %v", r, err)
						}
						if err := d.DecodeTile(got, r, ts, s, payload); err != nil {
							t.Fatalf("tile %v: %v", r, err)
						}
					}
					if diff := samePixels(got, ref, bounds); diff != "" {
						t.Fatalf("%dx%d tiles: %s", g.X, g.Y, diff)
					}
				}

				std, err := jpeg.Decode(bytes.NewReader(src))
				if err != nil {
					t.Fatal(err)
				}
				// ffmpeg's q3 tables are coarse (every step >= ifastMinStep), so the
				// blocks take the fast IDCT, whose 16-bit arithmetic (JDCT_IFAST: not
				// IEEE 1180 accurate) lands up to 3 levels from image/jpeg's exact
				// one on a few pixels; the exact IDCT stays within 2.
				if m := maxDiff(ref, std.(*image.YCbCr)); m > 3 {
					t.Errorf("the same decoder differs from image/jpeg by up to %d levels", m)
				}
				// The bar for the received frames against the clip's own decode.
				if p := psnr(ref, std.(*image.YCbCr)); p < 50 {
					t.Errorf("PSNR against image/jpeg's decode of the camera frame %.1f dB", p)
				}

				// Header + whole-frame payload is a file: image/jpeg reads it, and it
				// parses back to the very same coefficients.
				file := AppendEOI(append(AppendTablesHeader(nil, bounds.Dx(), bounds.Dy(), ts, s), whole...))
				again, err := jpeg.Decode(bytes.NewReader(file))
				if err != nil {
					t.Fatalf("image/jpeg reads the rebuilt file: %v", err)
				}
				if m := maxDiff(again.(*image.YCbCr), std.(*image.YCbCr)); m != 0 {
					t.Errorf("image/jpeg decodes the rebuilt file up to %d levels away from the camera's", m)
				}
				var g CoefFrame
				if err := g.Decode(file); err != nil {
					t.Fatal(err)
				}
				if !equalCoefs(&f, &g) {
					t.Error("the rebuilt file's coefficients differ from the camera's")
				}
			})
		}
	}
}

// equalCoefs compares two decoded frames' tables and the coefficients of their
// HRVS grids' MCUs (a source layout may store more, past the frame's edge).
func equalCoefs(a, b *CoefFrame) bool {
	if a.w != b.w || a.h != b.h || a.sub != b.sub || a.quant != b.quant || a.mcusX != b.mcusX || a.mcusY != b.mcusY {
		return false
	}
	for my := 0; my < a.mcusY; my++ {
		for mx := 0; mx < a.mcusX; mx++ {
			i, j := (my*a.stride+mx)*a.bpm, (my*b.stride+mx)*b.bpm
			if !slicesEqual(a.nz[i:i+a.bpm], b.nz[j:j+a.bpm]) ||
				!slicesEqual(a.coef[i*blockSize:(i+a.bpm)*blockSize], b.coef[j*blockSize:(j+a.bpm)*blockSize]) {
				return false
			}
		}
	}
	return true
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetileGrayscale(t *testing.T) {
	for _, sz := range []image.Point{{333, 217}, {64, 48}, {7, 5}} {
		t.Run(fmt.Sprintf("a %dx%d grayscale JPEG travels as 4:2:0 with neutral chroma", sz.X, sz.Y), func(t *testing.T) {
			gray := grayOf(photoRGBA(t, sz.X, sz.Y))
			src := stdEncode(t, gray, 85)
			var f CoefFrame
			if err := f.Decode(src); err != nil {
				t.Fatal(err)
			}
			if !f.Gray() || f.Subsampling() != S420 {
				t.Fatalf("gray %v subsampling %v", f.Gray(), f.Subsampling())
			}
			ts, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: StandardHuffman()})
			if err != nil {
				t.Fatal(err)
			}
			std, err := jpeg.Decode(bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			want := std.(*image.Gray)
			got := image.NewYCbCr(f.Bounds(), image.YCbCrSubsampleRatio420)
			var d Decoder
			for _, r := range tileGrid(f.Bounds(), 32, 16) {
				payload, err := f.AppendTile(nil, r, ts)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.DecodeTile(got, r, ts, S420, payload); err != nil {
					t.Fatal(err)
				}
			}
			worst := 0
			for y := 0; y < sz.Y; y++ {
				for x := 0; x < sz.X; x++ {
					worst = max(worst, abs(int(got.Y[got.YOffset(x, y)])-int(want.Pix[want.PixOffset(x, y)])))
					if o := got.COffset(x, y); got.Cb[o] != 128 || got.Cr[o] != 128 {
						t.Fatalf("chroma at (%d,%d) is %d/%d, want 128", x, y, got.Cb[o], got.Cr[o])
					}
				}
			}
			if worst > 2 {
				t.Errorf("luma differs from image/jpeg's by up to %d levels", worst)
			}
		})
	}
}

// patch returns a copy of b with the byte at the first occurrence of marker m's
// segment, offset off from the marker, set to v.
func patch(b []byte, m byte, off int, v byte) []byte {
	out := bytes.Clone(b)
	i := bytes.Index(out, []byte{0xff, m})
	out[i+off] = v
	return out
}

func TestDecodeRefuses(t *testing.T) {
	c := clip{"", testsrc(64, 48), image.Pt(64, 48), "yuvj422p", 4, "default", 0}
	src := c.frames(t, 1)[0]
	rst := clip{"", testsrc(64, 64), image.Pt(64, 64), "yuvj420p", 4, "default", 4}.frames(t, 1)[0]
	s444 := clip{"", testsrc(64, 48), image.Pt(64, 48), "yuvj444p", 4, "default", 0}.frames(t, 1)[0]
	sof := bytes.Index(src, []byte{0xff, markerSOF0})
	sos := bytes.Index(src, []byte{0xff, markerSOS})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"a progressive JPEG (SOF2)", patch(src, markerSOF0, 1, markerSOF2), ErrUnsupported},
		{"a lossless JPEG (SOF3)", patch(src, markerSOF0, 1, markerSOF3), ErrUnsupported},
		{"an arithmetic-coded JPEG (SOF9)", patch(src, markerSOF0, 1, 0xc9), ErrUnsupported},
		{"12-bit samples", patch(src, markerSOF0, 4, 12), ErrUnsupported},
		{"a frame wider than 7680", patch(patch(src, markerSOF0, 7, 0x1e), markerSOF0, 8, 0x01), ErrUnsupported},
		{"a frame taller than 4320", patch(src, markerSOF0, 5, 0x11), ErrUnsupported},
		{"a frame whose height comes in DNL", patch(patch(src, markerSOF0, 5, 0), markerSOF0, 6, 0), ErrUnsupported},
		{"4:4:4 sampling", s444, ErrUnsupported},
		{"a scan of one of three components (several scans)", append(append(bytes.Clone(src[:sos]),
			0xff, markerSOS, 0, 8, 1, 1, 0, 0, 63, 0), src[sos+14:]...), ErrUnsupported},
		{"a scan with spectral selection", patch(src, markerSOS, 12, 5), ErrUnsupported},
		{"no SOI", src[2:], ErrCorrupt},
		{"SOS before SOF", append([]byte{0xff, 0xd8}, src[sos:]...), ErrCorrupt},
		{"a zero quantisation step", patch(src, markerDQT, 6, 0), ErrCorrupt},
		{"a DQT table id 4", patch(src, markerDQT, 4, 4), ErrCorrupt},
		{"a Huffman table with too many short codes", patch(src, markerDHT, 6, 9), ErrCorrupt},
		{"a component using an undefined quantisation table", patch(src, markerSOF0, 12, 3), ErrCorrupt},
		{"a segment longer than the data", src[:sof+6], ErrShort},
		{"a scan cut short", src[:len(src)-40], ErrShort},
		{"restart markers out of order", bytes.Replace(rst, []byte{0xff, 0xd1}, []byte{0xff, 0xd2}, 1), ErrCorrupt},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			var f CoefFrame
			err := f.Decode(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("every truncation of a frame is refused, not accepted or a panic", func(t *testing.T) {
		var f CoefFrame
		end := len(src) - 2 // without EOI the frame is still whole
		for n := 0; n < end; n++ {
			err := f.Decode(src[:n])
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%d of %d bytes: err = %v", n, len(src), err)
			}
		}
	})
	t.Run("a tile off the MCU grid is an argument error", func(t *testing.T) {
		var f CoefFrame
		if err := f.Decode(src); err != nil {
			t.Fatal(err)
		}
		ts, _ := NewTableSet(&Tables{Quant: f.Quant(), Huff: StandardHuffman()})
		for _, r := range []image.Rectangle{image.Rect(8, 0, 24, 8), image.Rect(0, 0, 24, 8), image.Rect(0, 0, 64, 56), image.Rect(0, 0, 0, 0)} {
			if _, err := f.AppendTile(nil, r, ts); !isArgs(err) {
				t.Errorf("tile %v: err = %v", r, err)
			}
		}
	})
}
