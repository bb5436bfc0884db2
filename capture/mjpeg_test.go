package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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
	t.Run("a stream cut inside a frame's scan gives the cut frame, marked, which fails to decode", func(t *testing.T) {
		all := stream(frames[0], frames[1])
		s := newJPEGSplitter(bytes.NewReader(all[:len(frames[0])+len(frames[1])/2]))
		if _, err := s.next(); err != nil || s.atEnd {
			t.Fatalf("first frame: %v, atEnd %v", err, s.atEnd)
		}
		cut, err := s.next()
		if err != nil || !s.atEnd || !bytes.HasSuffix(cut, []byte{0xff, markerEOI}) {
			t.Fatalf("cut frame: %v, atEnd %v", err, s.atEnd)
		}
		var d jpegDecoder
		if _, err := d.decode(cut); !errors.Is(err, errCorruptJPEG) {
			t.Fatalf("decoding the cut frame: %v, want errCorruptJPEG", err)
		}
		if _, err := s.next(); err != io.EOF {
			t.Fatalf("after it: %v, want io.EOF", err)
		}
	})
	t.Run("a stream cut inside a frame's headers ends with io.ErrUnexpectedEOF", func(t *testing.T) {
		s := newJPEGSplitter(bytes.NewReader(stream(frames[0], frames[1][:20])))
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
	// frames without EOI: one ended by the next SOI, one by the end of the stream
	f.Add([]byte{0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x12, 0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x34})
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
	f.Add(noEOI(f, encodeJPEG(f, testPicture(f, 32, 16, image.YCbCrSubsampleRatio420, 0), 50)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sos, _, err := jpegLayout(data)
		if err == nil && (sos < 2 || sos+1 >= len(data) || data[sos] != 0xff || data[sos+1] != markerSOS) {
			t.Fatalf("SOS at %d is not an SOS marker", sos)
		}
		fixed, _, err := withHuffmanTables(data, nil)
		if err == nil && !bytes.HasSuffix(fixed, []byte{0xff, markerEOI}) {
			t.Fatalf("prepared frame %x does not end with EOI", fixed)
		}
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
	a := encodeJPEG(t, testPicture(t, 96, 64, image.YCbCrSubsampleRatio420, 1), 70)
	b := encodeJPEG(t, testPicture(t, 96, 64, image.YCbCrSubsampleRatio420, 2), 70)
	t.Run("a frame cut short in its scan by the next one fails to decode and the next one is kept", func(t *testing.T) {
		s := newJPEGSplitter(bytes.NewReader(bytes.Join([][]byte{a[:len(a)/2], b}, nil)))
		cut, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		var d jpegDecoder
		if _, err := d.decode(cut); !errors.Is(err, errCorruptJPEG) {
			t.Fatalf("decoding the cut frame: %v, want errCorruptJPEG", err)
		}
		if got, err := s.next(); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("next frame: %v", err)
		}
	})
	t.Run("a frame cut short in its headers by the next one is reported and the next one kept", func(t *testing.T) {
		sos, _, err := jpegLayout(a)
		if err != nil {
			t.Fatal(err)
		}
		s := newJPEGSplitter(bytes.NewReader(bytes.Join([][]byte{a[:sos], b}, nil))) // no scan at all
		if _, err := s.next(); !errors.Is(err, errCorruptJPEG) {
			t.Fatalf("got %v, want errCorruptJPEG", err)
		}
		if got, err := s.next(); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("next frame: %v", err)
		}
	})
}

// noEOI is frame without its final EOI marker, as some webcams send frames.
func noEOI(t testing.TB, frame []byte) []byte {
	t.Helper()
	if !bytes.HasSuffix(frame, []byte{0xff, markerEOI}) {
		t.Fatal("noEOI: the frame has no EOI to remove")
	}
	return frame[: len(frame)-2 : len(frame)-2]
}

func TestFramesWithoutEOI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const w, h, n = 160, 96, 6
	var pics []*image.YCbCr
	var whole, bare [][]byte
	for i := 0; i < n; i++ {
		pic := testPicture(t, w, h, image.YCbCrSubsampleRatio420, uint64(i))
		f := encodeJPEG(t, pic, 80)
		pics, whole, bare = append(pics, pic), append(whole, f), append(bare, noEOI(t, f))
	}
	writeFile := func(t *testing.T, frames ...[]byte) string {
		path := filepath.Join(t.TempDir(), "noeoi.mjpeg")
		if err := os.WriteFile(path, bytes.Join(frames, nil), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("a frame without EOI decodes to the same picture as with it", func(t *testing.T) {
		var d jpegDecoder
		for _, f := range [][]byte{bare[0], stripDHT(t, bare[0])} {
			got, err := d.decode(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := d.decode(whole[0])
			if err != nil {
				t.Fatal(err)
			}
			if !planesEqual(got, want) {
				t.Fatal("the pictures differ")
			}
		}
	})
	t.Run("a file of frames without EOI plays every frame", func(t *testing.T) {
		src, err := Open(ctx, writeFile(t, bare...), Options{FPS: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for i := 0; ; i++ {
			f, err := src.Next(ctx)
			if err == ErrEnd {
				if i != n {
					t.Fatalf("%d frames, want %d", i, n)
				}
				break
			}
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if p := psnr(f.Image, pics[i]); p < 30 {
				t.Fatalf("frame %d: PSNR %.1f dB against the original", i, p)
			}
		}
		if sk := src.(*FileSource).Skipped(); sk != 0 {
			t.Fatalf("skipped %d, want 0", sk)
		}
	})
	t.Run("a frame without EOI whose scan is cut is a counted skip", func(t *testing.T) {
		cut := bare[1][:len(bare[1])*2/3]
		src, err := Open(ctx, writeFile(t, bare[0], cut, bare[2]), Options{FPS: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var seqs []uint64
		for {
			f, err := src.Next(ctx)
			if err == ErrEnd {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, f.Seq)
		}
		if len(seqs) != 2 || src.(*FileSource).Skipped() != 1 {
			t.Fatalf("frames %v, skipped %d; want 2 frames and 1 skipped", seqs, src.(*FileSource).Skipped())
		}
	})
	t.Run("a file whose last frame without EOI is cut ends as truncated", func(t *testing.T) {
		src, err := Open(ctx, writeFile(t, bare[0], bare[1][:len(bare[1])/2]), Options{FPS: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if _, err := src.Next(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := src.Next(ctx); err == nil || !strings.Contains(err.Error(), "file is truncated: it ends inside frame 1") {
			t.Fatalf("got %v, want the truncation", err)
		}
	})
	t.Run("a camera that leaves out EOI has its frames shown", func(t *testing.T) {
		dev := newFakeCam("MJPG", w, h)
		dev.feed <- stripDHT(t, bare[0])
		dev.feed <- bare[1]
		dev.feed <- bare[2][:len(bare[2])/2] // truly cut: skipped
		dev.feed <- bare[3]
		c, err := openCamera(ctx, "/dev/video7", camRequest{"auto", w, h, 30, nil}, (&fakeOpener{devs: []*fakeCam{dev}}).open, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, i := range []int{0, 1, 3} {
			f, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p := psnr(f.Image, pics[i]); p < 30 {
				t.Fatalf("frame %d: PSNR %.1f dB against the original", i, p)
			}
		}
		if c.Skipped() != 1 {
			t.Fatalf("skipped %d, want 1", c.Skipped())
		}
	})
}
