package capture

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"runtime"
	"testing"
)

func TestStandardDHT(t *testing.T) {
	t.Run("matches the tables image/jpeg writes, which are T.81 K.3's", func(t *testing.T) {
		frame := encodeJPEG(t, testPicture(t, 64, 64, image.YCbCrSubsampleRatio420, 0), 75)
		i := bytes.Index(frame, []byte{0xff, markerDHT})
		if i < 0 {
			t.Fatal("image/jpeg wrote no DHT")
		}
		n := int(frame[i+2])<<8 | int(frame[i+3])
		if got := frame[i : i+2+n]; !bytes.Equal(got, standardDHT) {
			t.Fatalf("standard DHT differs from image/jpeg's:\n got %x\nwant %x", standardDHT, got)
		}
	})
}

func TestHuffmanInsertion(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{320, 240}, {1280, 720}, {97, 33}} {
		t.Run(fmt.Sprintf("a %dx%d frame without DHT decodes like the original", sz.w, sz.h), func(t *testing.T) {
			orig := encodeJPEG(t, testPicture(t, sz.w, sz.h, image.YCbCrSubsampleRatio420, 3), 80)
			bare := stripDHT(t, orig)
			if bytes.Contains(bare, []byte{0xff, markerDHT}) {
				t.Fatal("DHT still there")
			}
			if _, err := jpeg.Decode(bytes.NewReader(bare)); err == nil {
				t.Fatal("image/jpeg accepted a frame without Huffman tables; the fix would be moot")
			}
			want, err := jpeg.Decode(bytes.NewReader(orig))
			if err != nil {
				t.Fatal(err)
			}
			var d jpegDecoder
			got, err := d.decode(bare)
			if err != nil {
				t.Fatalf("decode without DHT: %v", err)
			}
			if !planesEqual(got, want.(*image.YCbCr)) {
				t.Fatal("decoded pictures differ")
			}
		})
	}
	t.Run("a frame that has its tables is passed through untouched", func(t *testing.T) {
		orig := encodeJPEG(t, testPicture(t, 64, 32, image.YCbCrSubsampleRatio420, 0), 80)
		fixed, _, err := withHuffmanTables(orig, nil)
		if err != nil || &fixed[0] != &orig[0] {
			t.Fatalf("frame copied or failed: %v", err)
		}
	})
}

func TestJPEGDecodeErrors(t *testing.T) {
	good := encodeJPEG(t, testPicture(t, 320, 240, image.YCbCrSubsampleRatio420, 1), 80)
	bare := stripDHT(t, good)
	cases := []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"no SOI", good[2:]},
		{"only the headers", good[:bytes.Index(good, []byte{0xff, markerSOS})]},
		{"cut in the middle of the scan", good[:len(good)/2]},
		{"cut just before EOI", good[:len(good)-40]},
		{"without DHT and cut in the middle", bare[:len(bare)/2]},
		{"a segment length running past the end", append(append([]byte{}, good[:20]...), 0xff, 0xe1, 0x7f, 0xff)},
		{"garbage", bytes.Repeat([]byte{0xff}, 100)},
	}
	for _, tc := range cases {
		t.Run("a frame that is "+tc.name+" is reported corrupt", func(t *testing.T) {
			var d jpegDecoder
			_, err := d.decode(tc.frame)
			if !errors.Is(err, errCorruptJPEG) {
				t.Fatalf("got %v, want errCorruptJPEG", err)
			}
		})
	}
}

// huge is frame with its SOF0 size changed to 65280x39440, the kind of corrupt
// header that made the splitter's fuzz test run out of memory.
func huge(t *testing.T, frame []byte) []byte {
	t.Helper()
	f := append([]byte(nil), frame...)
	i := bytes.Index(f, []byte{0xff, markerSOF0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	// SOF0: marker, length (2), precision (1), height (2), width (2).
	f[i+5], f[i+6], f[i+7], f[i+8] = 0x9a, 0x10, 0xff, 0x00
	return f
}

// A frame whose header declares a picture far beyond 8K is refused before
// image/jpeg allocates it.
func TestJPEGDecodeRefusesHugeFrames(t *testing.T) {
	frame := huge(t, encodeJPEG(t, testPicture(t, 320, 240, image.YCbCrSubsampleRatio420, 1), 80))
	var d jpegDecoder
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := d.decode(frame)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errCorruptJPEG) {
		t.Fatalf("got %v, want errCorruptJPEG", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Fatalf("decoding it allocated %d MB", n>>20)
	}
}

func TestJPEGSplitter(t *testing.T) {
	var frames [][]byte
	for i := 0; i < 4; i++ {
		frames = append(frames, encodeJPEG(t, testPicture(t, 96, 64, image.YCbCrSubsampleRatio420, uint64(i)), 60+10*i))
	}
	// A hand-made frame with fill bytes, restart markers and a stuffed FF00 in its
	// scan data: the splitter must not end the frame early on any of them.
	odd := []byte{0xff, 0xd8, 0xff, 0xff, 0xe0, 0x00, 0x04, 0xaa, 0xbb, 0xff, 0xda, 0x00, 0x02,
		0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd1, 0xff, 0xff, 0xd9}
	stream := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	t.Run("concatenated frames come out whole and in order", func(t *testing.T) {
		s := newJPEGSplitter(bytes.NewReader(stream(frames...)))
		for i, want := range frames {
			got, err := s.next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("frame %d: err %v, equal %v", i, err, bytes.Equal(got, want))
			}
		}
		if _, err := s.next(); err != io.EOF {
			t.Fatalf("after the last frame: %v, want io.EOF", err)
		}
	})
	t.Run("junk between frames and after the last is skipped", func(t *testing.T) {
		s := newJPEGSplitter(bytes.NewReader(stream([]byte("junk\xff\x00"), frames[0], []byte{0, 0, 0xff}, frames[1], []byte{0, 0})))
		for i := 0; i < 2; i++ {
			if got, err := s.next(); err != nil || !bytes.Equal(got, frames[i]) {
				t.Fatalf("frame %d: %v", i, err)
			}
		}
		if _, err := s.next(); err != io.EOF {
			t.Fatalf("got %v, want io.EOF", err)
		}
	})
	t.Run("restart markers, fill bytes and stuffed bytes stay inside the frame", func(t *testing.T) {
		s := newJPEGSplitter(bytes.NewReader(stream(odd, frames[0])))
		got, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0xaa, 0xbb, 0xff, 0xda, 0x00, 0x02,
			0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd1, 0xff, 0xd9}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %x\nwant %x", got, want)
		}
		if got, err := s.next(); err != nil || !bytes.Equal(got, frames[0]) {
			t.Fatalf("next frame: %v", err)
		}
	})
	t.Run("a stream cut inside a frame ends with io.ErrUnexpectedEOF", func(t *testing.T) {
		all := stream(frames[0], frames[1])
		s := newJPEGSplitter(bytes.NewReader(all[:len(frames[0])+len(frames[1])/2]))
		if _, err := s.next(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("a broken frame is reported and the next one is found", func(t *testing.T) {
		broken := []byte{0xff, 0xd8, 0x12, 0x34} // no marker after SOI
		s := newJPEGSplitter(bytes.NewReader(stream(broken, frames[2])))
		if _, err := s.next(); !errors.Is(err, errCorruptJPEG) {
			t.Fatalf("got %v, want errCorruptJPEG", err)
		}
		if got, err := s.next(); err != nil || !bytes.Equal(got, frames[2]) {
			t.Fatalf("resync: %v", err)
		}
	})
}

func FuzzJPEGSplitter(f *testing.F) {
	f.Add(encodeJPEG(f, testPicture(f, 32, 16, image.YCbCrSubsampleRatio420, 0), 50))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0x00, 0xff, 0xd9})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newJPEGSplitter(bytes.NewReader(data))
		for i := 0; i < 1000; i++ {
			frame, err := s.next()
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				continue
			}
			if len(frame) < 4 || frame[0] != 0xff || frame[1] != markerSOI || frame[len(frame)-1] != markerEOI {
				t.Fatalf("frame %x is not SOI..EOI", frame)
			}
			var d jpegDecoder
			d.decode(frame) // must not panic
		}
	})
}

func FuzzJPEGLayout(f *testing.F) {
	f.Add(stripDHT(f, encodeJPEG(f, testPicture(f, 32, 16, image.YCbCrSubsampleRatio420, 0), 50)))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xff, 0xd0, 0xff, 0xda})
	f.Fuzz(func(t *testing.T, data []byte) {
		sos, _, err := jpegLayout(data)
		if err == nil && (sos < 2 || sos+1 >= len(data) || data[sos] != 0xff || data[sos+1] != markerSOS) {
			t.Fatalf("SOS at %d is not an SOS marker", sos)
		}
		withHuffmanTables(data, nil)
	})
}

// BenchmarkMJPEGDecode is the camera path for MJPEG: frames without DHT as UVC
// cameras send them, tables inserted, decoded by image/jpeg.
func BenchmarkMJPEGDecode(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"720p", 1280, 720}, {"1080p", 1920, 1080}} {
		b.Run(sz.name, func(b *testing.B) {
			frame := stripDHT(b, encodeJPEG(b, testPicture(b, sz.w, sz.h, image.YCbCrSubsampleRatio420, 7), 80))
			var d jpegDecoder
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := d.decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestJPEGSplitterCutFrame(t *testing.T) {
	t.Run("a frame cut short by the next one is reported and the next one kept", func(t *testing.T) {
		a := encodeJPEG(t, testPicture(t, 96, 64, image.YCbCrSubsampleRatio420, 1), 70)
		b := encodeJPEG(t, testPicture(t, 96, 64, image.YCbCrSubsampleRatio420, 2), 70)
		s := newJPEGSplitter(bytes.NewReader(bytes.Join([][]byte{a[:len(a)/2], b}, nil)))
		if _, err := s.next(); !errors.Is(err, errCorruptJPEG) {
			t.Fatalf("got %v, want errCorruptJPEG", err)
		}
		if got, err := s.next(); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("next frame: %v", err)
		}
	})
}
