package bench

import (
	"bytes"
	"errors"
	"image"
	"testing"
)

func TestParseY4MHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		w, h    int
		fps     float64
		wantErr bool
	}{
		{"a plain 4:2:0 header is read", "YUV4MPEG2 W1280 H720 F30:1 Ip A1:1 C420jpeg\n", 1280, 720, 30, false},
		{"a header without a colour space means 4:2:0", "YUV4MPEG2 W64 H48 F25:1\nFRAME\n", 64, 48, 25, false},
		{"a fractional rate is divided out", "YUV4MPEG2 W64 H48 F30000:1001 C420mpeg2\n", 64, 48, 30000.0 / 1001, false},
		{"a missing rate defaults to 25, as ffmpeg assumes", "YUV4MPEG2 W64 H48\n", 64, 48, 25, false},
		{"4:2:2 is refused", "YUV4MPEG2 W64 H48 F30:1 C422\n", 0, 0, 0, true},
		{"interlaced clips are refused", "YUV4MPEG2 W64 H48 F30:1 It\n", 0, 0, 0, true},
		{"another magic is refused", "YUV4MPEG3 W64 H48\n", 0, 0, 0, true},
		{"a header with no size is refused", "YUV4MPEG2 F30:1\n", 0, 0, 0, true},
		{"a zero rate is refused", "YUV4MPEG2 W64 H48 F0:1\n", 0, 0, 0, true},
		{"a huge width is refused", "YUV4MPEG2 W99999 H48\n", 0, 0, 0, true},
		{"a header without a newline is refused", "YUV4MPEG2 W64 H48", 0, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseY4MHeader([]byte(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrY4M) {
					t.Fatalf("err = %v, want an ErrY4M", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.W != tc.w || h.H != tc.h || h.FPS != tc.fps {
				t.Fatalf("got %dx%d at %v fps, want %dx%d at %v", h.W, h.H, h.FPS, tc.w, tc.h, tc.fps)
			}
		})
	}
}

func FuzzParseY4MHeader(f *testing.F) {
	f.Add([]byte("YUV4MPEG2 W1280 H720 F30:1 Ip A1:1 C420jpeg\n"))
	f.Add([]byte("YUV4MPEG2 W1 H1 F1:1 C420\nFRAME\n\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseY4MHeader(b)
		if err != nil {
			return
		}
		if h.W <= 0 || h.H <= 0 || h.W > y4mMaxSide || h.H > y4mMaxSide || h.FPS <= 0 || h.Len > len(b) {
			t.Fatalf("accepted a header it should not have: %+v", h)
		}
		// A clip of the parsed header must open without panicking whatever follows.
		c, err := openY4MClip(bytes.NewReader(b), int64(len(b)))
		if err == nil && c.n > 0 {
			_, _ = c.Frame(0, make([]byte, h.frameBytes()))
		}
	})
}

func TestClipRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		w, h int
	}{
		{"an even frame reads back byte for byte", 160, 32},
		{"an odd-sized frame keeps its rounded-up chroma", 131, 17},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			yw, err := newY4MWriter(&buf, tc.w, tc.h, 30)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			for i := 0; i < 3; i++ {
				img := image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), image.YCbCrSubsampleRatio420)
				for j := range img.Y {
					img.Y[j] = byte(j*7 + i)
				}
				for j := range img.Cb {
					img.Cb[j], img.Cr[j] = byte(j+i), byte(255-j-i)
				}
				if err := yw.WriteFrame(img); err != nil {
					t.Fatal(err)
				}
				want = append(want, planes(img))
			}
			if err := yw.Flush(); err != nil {
				t.Fatal(err)
			}
			c, err := openY4MClip(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if c.n != 3 {
				t.Fatalf("clip has %d frames, want 3", c.n)
			}
			got := make([]byte, frameBytes(tc.w, tc.h))
			for i := range want {
				if _, err := c.Frame(i, got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want[i]) {
					t.Fatalf("frame %d differs", i)
				}
			}
			if _, err := c.Frame(3, got); !errors.Is(err, ErrY4M) {
				t.Fatalf("frame past the end: err = %v, want ErrY4M", err)
			}
		})
	}
}

func TestWriteFrameRefusesAFrameOfAnotherSize(t *testing.T) {
	var buf bytes.Buffer
	yw, err := newY4MWriter(&buf, 64, 32, 30)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewYCbCr(image.Rect(0, 0, 32, 32), image.YCbCrSubsampleRatio420)
	if err := yw.WriteFrame(img); !errors.Is(err, ErrY4M) {
		t.Fatalf("err = %v, want ErrY4M", err)
	}
}
