package rtpjpeg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmjpeg"
	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/render/internal/testpic"
	"github.com/pion/rtp"
)

func TestMainHeaderLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Header
		want []byte
	}{
		{"a first fragment of a 1920x1080 4:2:0 frame with in-band tables",
			Header{Type: Type1, Q: 255, Width: 240, Height: 135}, []byte{0, 0, 0, 0, 1, 255, 240, 135}},
		{"a fragment at a 24-bit offset keeps all three offset bytes",
			Header{Offset: 0xabcdef, Type: Type0, Q: 255, Width: 1, Height: 2}, []byte{0, 0xab, 0xcd, 0xef, 0, 255, 1, 2}},
		{"the type-specific byte leads the offset",
			Header{TypeSpecific: 3, Offset: 1, Type: Type1, Q: 80, Width: 255, Height: 255}, []byte{3, 0, 0, 1, 1, 80, 255, 255}},
	} {
		t.Run(tc.name+" is laid out as RFC 2435 §3.1 draws it", func(t *testing.T) {
			buf := make([]byte, MainHeaderSize)
			n, err := tc.h.MarshalTo(buf)
			if err != nil || n != MainHeaderSize {
				t.Fatalf("MarshalTo = %d, %v", n, err)
			}
			if !bytes.Equal(buf, tc.want) {
				t.Fatalf("bytes % x, want % x", buf, tc.want)
			}
			var back Header
			if _, err := back.Unmarshal(buf); err != nil || back != tc.h {
				t.Fatalf("Unmarshal = %+v, %v; want %+v", back, err, tc.h)
			}
		})
	}
	t.Run("an offset beyond 24 bits is an error", func(t *testing.T) {
		if _, err := (Header{Offset: 1 << 24}).MarshalTo(make([]byte, 8)); !errors.Is(err, ErrBadHeader) {
			t.Fatalf("err %v, want ErrBadHeader", err)
		}
	})
	t.Run("a short buffer is an error, not a panic", func(t *testing.T) {
		if _, err := (Header{}).MarshalTo(make([]byte, 7)); !errors.Is(err, ErrShortPacket) {
			t.Fatalf("MarshalTo: %v", err)
		}
		var h Header
		if _, err := h.Unmarshal(make([]byte, 7)); !errors.Is(err, ErrShortPacket) {
			t.Fatalf("Unmarshal: %v", err)
		}
		var q QuantHeader
		if _, err := q.Unmarshal([]byte{0, 0, 0, 128, 1, 2}); !errors.Is(err, ErrShortPacket) {
			t.Fatalf("QuantHeader.Unmarshal with 2 of 128 table bytes: %v", err)
		}
	})
}

// encode returns a fastjpeg file of a test picture and the picture.
func encode(t testing.TB, w, h int, sub image.YCbCrSubsampleRatio, q int) ([]byte, *image.YCbCr) {
	t.Helper()
	img := testpic.Picture(w, h, sub, 7)
	var e fastjpeg.Encoder
	b, err := e.AppendJPEG(nil, img, q)
	if err != nil {
		t.Fatal(err)
	}
	return b, img
}

// dqt returns the two tables of a fastjpeg file's DQT segment, zig-zag order.
func dqt(t *testing.T, file []byte) []byte {
	t.Helper()
	i := bytes.Index(file, []byte{0xff, markerDQT})
	if i < 0 {
		t.Fatal("no DQT")
	}
	seg := file[i+4 : i+2+int(binary.BigEndian.Uint16(file[i+2:]))]
	return append(append([]byte(nil), seg[1:65]...), seg[66:130]...)
}

func TestPacketize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		w, h     int
		sub      image.YCbCrSubsampleRatio
		mtu      int
		wantType uint8
	}{
		{"a 4:2:0 640x360 frame is type 1", 640, 360, image.YCbCrSubsampleRatio420, 0, Type1},
		{"a 4:2:2 640x360 frame is type 0", 640, 360, image.YCbCrSubsampleRatio422, 0, Type0},
		{"a 301x203 frame declares its size rounded up to 8-pixel units", 301, 203, image.YCbCrSubsampleRatio420, 600, Type1},
		{"a 2040x1144 frame, the largest width, fits the header", 2040, 1144, image.YCbCrSubsampleRatio420, 1400, Type1},
	} {
		t.Run(tc.name+" and its packets follow RFC 2435 §3", func(t *testing.T) {
			file, src := encode(t, tc.w, tc.h, tc.sub, 85)
			p := Packetizer{SSRC: 0x01020304, Seq: 65530, MTU: tc.mtu}
			mtu := tc.mtu
			if mtu == 0 {
				mtu = DefaultMTU
			}
			var pkts [][]byte
			n, err := p.Packetize(file, 0xfffffff0, func(b []byte) error {
				pkts = append(pkts, append([]byte(nil), b...))
				return nil
			})
			if err != nil || n != len(pkts) || n < 2 {
				t.Fatalf("Packetize = %d, %v; %d packets", n, err, len(pkts))
			}
			off := 0
			for i, raw := range pkts {
				if len(raw) > mtu {
					t.Fatalf("packet %d: %d bytes, MTU %d", i, len(raw), mtu)
				}
				var r rtp.Packet
				if err := r.Unmarshal(raw); err != nil {
					t.Fatal(err)
				}
				if r.Version != 2 || r.PayloadType != 26 || r.SSRC != 0x01020304 || r.Timestamp != 0xfffffff0 {
					t.Fatalf("packet %d RTP header %+v", i, r.Header)
				}
				if r.SequenceNumber != uint16(65530+i) {
					t.Fatalf("packet %d sequence %d, want %d (wrapping)", i, r.SequenceNumber, uint16(65530+i))
				}
				if r.Marker != (i == len(pkts)-1) {
					t.Fatalf("packet %d of %d marker %v", i, len(pkts), r.Marker)
				}
				var h Header
				k, err := h.Unmarshal(r.Payload)
				if err != nil {
					t.Fatal(err)
				}
				want := Header{Offset: uint32(off), Type: tc.wantType, Q: 255, Width: uint8((tc.w + 7) / 8), Height: uint8((tc.h + 7) / 8)}
				if h != want {
					t.Fatalf("packet %d main header %+v, want %+v", i, h, want)
				}
				body := r.Payload[k:]
				if i == 0 {
					if !bytes.Equal(body[:4], []byte{0, 0, 0, 128}) {
						t.Fatalf("quantisation header % x, want MBZ 0, precision 0, length 128", body[:4])
					}
					if !bytes.Equal(body[4:132], dqt(t, file)) {
						t.Fatal("in-band tables differ from the JPEG's DQT")
					}
					body = body[132:]
				}
				off += len(body)
			}
			if p.Seq != uint16(65530+len(pkts)) {
				t.Fatalf("next sequence %d", p.Seq)
			}
			f, _ := parseJPEG(file)
			if off != len(f.scan) {
				t.Fatalf("%d scan bytes sent, file has %d", off, len(f.scan))
			}

			var d Depacketizer
			var rebuilt []byte
			for _, raw := range pkts {
				out, err := d.Push(raw)
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					rebuilt = append([]byte(nil), out...)
				}
			}
			got := decode(t, rebuilt)
			if gw, gh := got.Bounds().Dx(), got.Bounds().Dy(); gw != (tc.w+7)/8*8 || gh != (tc.h+7)/8*8 {
				t.Fatalf("rebuilt JPEG is %dx%d", gw, gh)
			}
			if psnr := testpic.PSNR(src, got); psnr < 30 {
				t.Fatalf("rebuilt frame PSNR %.1f dB against the source, want >= 30", psnr)
			}
			orig := decode(t, file)
			if p := testpic.PSNR(orig, got); p < 99 {
				t.Fatalf("rebuilt frame differs from the file sent: PSNR %.1f dB", p)
			}

			// gortsplib's depacketiser, written by others, reads the same packets.
			var gd rtpmjpeg.Decoder
			if err := gd.Init(); err != nil {
				t.Fatal(err)
			}
			var theirs []byte
			for _, raw := range pkts {
				var r rtp.Packet
				if err := r.Unmarshal(raw); err != nil {
					t.Fatal(err)
				}
				out, err := gd.Decode(&r)
				if err != nil && !errors.Is(err, rtpmjpeg.ErrMorePacketsNeeded) {
					t.Fatalf("gortsplib: %v", err)
				}
				if out != nil {
					theirs = out
				}
			}
			if p := testpic.PSNR(orig, decode(t, theirs)); p < 99 {
				t.Fatalf("gortsplib's rebuilt frame differs from the file sent: PSNR %.1f dB", p)
			}
		})
	}
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img
}

func TestPacketizeRefuses(t *testing.T) {
	wide, _ := encode(t, 2048, 64, image.YCbCrSubsampleRatio420, 80)
	good, _ := encode(t, 64, 64, image.YCbCrSubsampleRatio420, 80)
	progressive := bytes.Replace(good, []byte{0xff, markerSOF0}, []byte{0xff, 0xc2}, 1)
	noEOI := good[:len(good)-2]
	restart := append(append(append([]byte(nil), good[:2]...), 0xff, markerDRI, 0, 4, 0, 8), good[2:]...)
	for _, tc := range []struct {
		name string
		file []byte
		mtu  int
		want error
	}{
		{"a frame 2048 pixels wide", wide, 0, ErrTooLarge},
		{"a progressive JPEG", progressive, 0, ErrBadJPEG},
		{"a JPEG without its EOI", noEOI, 0, ErrBadJPEG},
		{"a JPEG with restart markers", restart, 0, ErrBadJPEG},
		{"bytes that are no JPEG", []byte("hello"), 0, ErrBadJPEG},
		{"an MTU too small for the tables", good, 100, nil},
	} {
		t.Run(tc.name+" is refused with nothing sent", func(t *testing.T) {
			p := Packetizer{MTU: tc.mtu}
			sent := 0
			_, err := p.Packetize(tc.file, 0, func([]byte) error { sent++; return nil })
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if sent != 0 || p.Seq != 0 {
				t.Fatalf("%d packets sent, sequence moved to %d", sent, p.Seq)
			}
		})
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		w, h, fw, fh int
		scaled       bool
	}{
		{1920, 1080, 1920, 1080, false},
		{2040, 2040, 2040, 2040, false},
		{2041, 100, 2040, 96, true},
		{2560, 1440, 2040, 1144, true},
		{3840, 2160, 2040, 1144, true},
		{100, 5000, 40, 2040, true},
		{8000, 3, 2040, 8, true},
	} {
		t.Run(fmt.Sprintf("%dx%d is sent at %dx%d", tc.w, tc.h, tc.fw, tc.fh), func(t *testing.T) {
			fw, fh, scaled := fit(tc.w, tc.h)
			if fw != tc.fw || fh != tc.fh || scaled != tc.scaled {
				t.Fatalf("fit = %dx%d %v", fw, fh, scaled)
			}
		})
	}
}

func TestShrink(t *testing.T) {
	type shrinkCase struct {
		name    string
		w, h    int
		sub     image.YCbCrSubsampleRatio
		dw, dh  int
		minPSNR float64
	}
	cases := []shrinkCase{
		{"2560x1440 4:2:0 to 2040x1144", 2560, 1440, image.YCbCrSubsampleRatio420, 2040, 1144, 40},
		{"3840x2160 4:2:2 to 2040x1144", 3840, 2160, image.YCbCrSubsampleRatio422, 2040, 1144, 35},
		{"odd-sized 4:4:4 301x203 to 96x64", 301, 203, image.YCbCrSubsampleRatio444, 96, 64, 35},
	}
	// The shrinker is one goroutine's arithmetic, in which the race detector finds
	// nothing and which it slows ten times over: under -race the first case and the
	// last, and build.sh runs all three without it (the 4K one took 15 s of the
	// race step).
	if testrig.Race {
		cases = []shrinkCase{cases[0], cases[len(cases)-1]}
	}
	for _, tc := range cases {
		t.Run(tc.name+" matches an area filter", func(t *testing.T) {
			img := testpic.Picture(tc.w, tc.h, tc.sub, 2)
			var s shrinker
			got, err := s.shrink(img, tc.dw, tc.dh)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rect.Dx() != tc.dw || got.Rect.Dy() != tc.dh || got.SubsampleRatio != tc.sub {
				t.Fatalf("got %v %v", got.Rect, got.SubsampleRatio)
			}
			if p := testpic.PSNR(testpic.Shrink(img, tc.dw, tc.dh), got); p < tc.minPSNR {
				t.Fatalf("PSNR %.1f dB against testpic.Shrink, want >= %.0f", p, tc.minPSNR)
			}
		})
	}
	t.Run("a picture whose planes are too short is an error, not a panic", func(t *testing.T) {
		img := testpic.Picture(64, 64, image.YCbCrSubsampleRatio420, 0)
		img.Cb = img.Cb[:10]
		var s shrinker
		if _, err := s.shrink(img, 32, 32); err == nil {
			t.Fatal("no error")
		}
	})
}
