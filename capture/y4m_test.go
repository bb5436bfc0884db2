package capture

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
	"testing"
)

func TestParseY4MHeader(t *testing.T) {
	limited := Colour{Range: RangeLimited}
	for _, tc := range []struct {
		line string
		want Y4MHeader
		err  string
	}{
		{line: "YUV4MPEG2 W1280 H720 F30000:1001 Ip A1:1 C420jpeg XYSCSS=420JPEG",
			want: Y4MHeader{Interlace: "p", Width: 1280, Height: 720, RateNum: 30000, RateDen: 1001, Chroma: "420jpeg", Sub: image.YCbCrSubsampleRatio420, Colour: limited}},
		{line: "YUV4MPEG2 W64 H48 F25:1",
			want: Y4MHeader{Interlace: "p", Width: 64, Height: 48, RateNum: 25, RateDen: 1, Chroma: "420jpeg", Sub: image.YCbCrSubsampleRatio420, Colour: limited}},
		{line: "YUV4MPEG2 H48 W63 C422 F50:1 XCOLORRANGE=FULL",
			want: Y4MHeader{Interlace: "p", Width: 63, Height: 48, RateNum: 50, RateDen: 1, Chroma: "422", Sub: image.YCbCrSubsampleRatio422, Colour: Colour{Range: RangeFull}}},
		{line: "YUV4MPEG2 W8 H8 F25:1 XCOLORRANGE=LIMITED",
			want: Y4MHeader{Interlace: "p", Width: 8, Height: 8, RateNum: 25, RateDen: 1, Chroma: "420jpeg", Sub: image.YCbCrSubsampleRatio420, Colour: limited}},
		{line: "YUV4MPEG2 W8 H8 F1:1 Cmono",
			want: Y4MHeader{Interlace: "p", Width: 8, Height: 8, RateNum: 1, RateDen: 1, Chroma: "mono", Sub: image.YCbCrSubsampleRatio420, Mono: true, Colour: limited}},
		{line: "YUV4MPEG2 W8 H8 F1:1 C444alpha",
			want: Y4MHeader{Interlace: "p", Width: 8, Height: 8, RateNum: 1, RateDen: 1, Chroma: "444alpha", Sub: image.YCbCrSubsampleRatio444, Alpha: true, Colour: limited}},
		{line: "YUV4MPEG2 W8 H8 F25:1 C420p10", err: "unsupported"},
		{line: "YUV4MPEG2 W0 H8 F25:1", err: "size 0x8"},
		{line: "YUV4MPEG2 H8 F25:1", err: "need W and H"},
		{line: "YUV4MPEG2 W8 H8 F25", err: "bad F"},
		{line: "YUV4MPEG2 W8 H8 F25:0", err: "frame rate"},
		{line: "YUV4MPEG2 W99999 H8", err: "size"},
		{line: "YUV4MPEG2 Wx H8", err: "bad W"},
		{line: "YUV4MPEG W8 H8", err: "not a YUV4MPEG2"},
		{line: "", err: "not a YUV4MPEG2"},
	} {
		name := "header " + tc.line + " parses"
		if tc.err != "" {
			name = "header " + tc.line + " is refused"
		}
		t.Run(name, func(t *testing.T) {
			got, err := ParseY4MHeader([]byte(tc.line))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

// makeY4M writes frames of the given chroma layout; plane contents derive from
// the frame index so every frame differs.
func makeY4M(w, h, frames int, chroma string) []byte {
	hdr, _ := ParseY4MHeader([]byte(fmt.Sprintf("YUV4MPEG2 W%d H%d F25:1 C%s", w, h, chroma)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C%s\n", w, h, chroma)
	for f := 0; f < frames; f++ {
		b.WriteString("FRAME\n")
		for i := 0; i < hdr.frameBytes(); i++ {
			b.WriteByte(byte(i*13 + f*29 + i/w))
		}
	}
	return b.Bytes()
}

func TestY4MReader(t *testing.T) {
	for _, tc := range []struct {
		chroma string
		w, h   int
		sub    image.YCbCrSubsampleRatio
	}{
		{"420jpeg", 64, 48, image.YCbCrSubsampleRatio420},
		{"420mpeg2", 33, 17, image.YCbCrSubsampleRatio420},
		{"422", 64, 48, image.YCbCrSubsampleRatio422},
		{"422", 17, 9, image.YCbCrSubsampleRatio422},
		{"444", 32, 16, image.YCbCrSubsampleRatio420},
		{"444alpha", 32, 16, image.YCbCrSubsampleRatio420},
		{"411", 32, 16, image.YCbCrSubsampleRatio420},
		{"mono", 31, 15, image.YCbCrSubsampleRatio420},
	} {
		t.Run(fmt.Sprintf("C%s %dx%d frames arrive as %v with the file's samples", tc.chroma, tc.w, tc.h, tc.sub), func(t *testing.T) {
			data := makeY4M(tc.w, tc.h, 3, tc.chroma)
			y, err := newY4MReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if y.hdr.OutSub() != tc.sub {
				t.Fatalf("out subsampling %v", y.hdr.OutSub())
			}
			off := int(y.hdrLen)
			for f := 0; f < 3; f++ {
				off += len("FRAME\n")
				dst := image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), tc.sub)
				got, err := y.readFrame(dst)
				if err != nil {
					t.Fatalf("frame %d: %v", f, err)
				}
				if got.SubsampleRatio != tc.sub || got.Rect.Dx() != tc.w || got.Rect.Dy() != tc.h {
					t.Fatalf("frame %d is %v %v", f, got.SubsampleRatio, got.Rect)
				}
				if !bytes.Equal(got.Y[:tc.w*tc.h], data[off:off+tc.w*tc.h]) {
					t.Fatalf("frame %d: Y plane differs", f)
				}
				if tc.chroma == "mono" && (got.Cb[0] != 128 || got.Cr[len(got.Cr)-1] != 128) {
					t.Fatal("mono chroma is not neutral")
				}
				if keepsSubsampling(y.hdr.Sub) {
					cw, ch := y.hdr.chromaSize()
					cb := data[off+tc.w*tc.h:][:cw*ch]
					if !bytes.Equal(got.Cb[:cw*ch], cb) {
						t.Fatalf("frame %d: Cb plane differs", f)
					}
				}
				off += y.hdr.frameBytes()
			}
			if _, err := y.readFrame(image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), tc.sub)); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
	t.Run("a stream cut inside a frame ends with io.ErrUnexpectedEOF", func(t *testing.T) {
		data := makeY4M(16, 16, 2, "420jpeg")
		y, _ := newY4MReader(bytes.NewReader(data[:len(data)-10]))
		dst := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
		if _, err := y.readFrame(dst); err != nil {
			t.Fatal(err)
		}
		if _, err := y.readFrame(dst); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a stream cut inside a FRAME line ends with io.ErrUnexpectedEOF", func(t *testing.T) {
		data := makeY4M(16, 16, 1, "420jpeg")
		data = append(data, "FRA"...)
		y, _ := newY4MReader(bytes.NewReader(data))
		if err := y.skipFrame(); err != nil {
			t.Fatal(err)
		}
		if err := y.skipFrame(); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("garbage where FRAME should be is an error", func(t *testing.T) {
		data := append(makeY4M(16, 16, 1, "420jpeg"), "GARBAGE\n"...)
		y, _ := newY4MReader(bytes.NewReader(data))
		y.skipFrame()
		if err := y.skipFrame(); err == nil || !strings.Contains(err.Error(), "expected FRAME") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a file that is not Y4M is refused", func(t *testing.T) {
		if _, err := newY4MReader(strings.NewReader("RIFF....AVI LIST")); !errors.Is(err, errNotY4M) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a header without a newline is truncated", func(t *testing.T) {
		if _, err := newY4MReader(strings.NewReader("YUV4MPEG2 W16 H16")); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
}

func FuzzY4M(f *testing.F) {
	f.Add(makeY4M(4, 4, 2, "420jpeg"))
	f.Add(makeY4M(3, 2, 1, "422"))
	f.Add(makeY4M(2, 2, 1, "mono"))
	f.Add(bytes.Replace(makeY4M(5, 3, 2, "420jpeg"), []byte("\n"), []byte(" XCOLORRANGE=LIMITED\n"), 1))
	f.Add(bytes.Replace(makeY4M(3, 3, 1, "411"), []byte("\n"), []byte(" XCOLORRANGE=FULL\n"), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		y, err := newY4MReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if y.hdr.Width*y.hdr.Height > 1<<16 {
			return // a real size with too little data; not worth allocating
		}
		conv, err := NewColourConverter(y.hdr.Colour)
		if err != nil {
			t.Fatalf("header colour %v has no converter: %v", y.hdr.Colour, err)
		}
		dst := image.NewYCbCr(image.Rect(0, 0, y.hdr.Width, y.hdr.Height), y.hdr.OutSub())
		for i := 0; i < 8; i++ {
			out, err := y.readFrame(dst)
			if err != nil {
				return
			}
			conv.Convert(out) // must stay inside the picture for every size
		}
	})
}
