package fastjpeg

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// photo1080 is a 1920x1080 photograph from plasma-workspace-wallpapers (the
// same package as photoPath), the "photograph" source for clips.
const photo1080 = "/usr/share/wallpapers/Path/contents/images/1920x1080.jpg"

// clip describes a camera-style MJPEG frame made by ffmpeg's mjpeg encoder.
type clip struct {
	name    string
	input   []string // ffmpeg input arguments
	size    image.Point
	pixFmt  string // yuvj420p or yuvj422p
	q       int    // -q:v
	huffman string // default (Annex K.3) or optimal
	slices  int    // > 1: ffmpeg writes DRI and RST markers between slices
}

func testsrc(w, h int) []string {
	return []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", w, h)}
}

func photoInput(w, h int) []string {
	return []string{"-i", photo1080, "-vf", fmt.Sprintf("scale=%d:%d", w, h)}
}

// frames runs ffmpeg and returns the clip's frames, each a whole JPEG.
func (c clip) frames(t testing.TB, n int) [][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip.mjpeg")
	args := append([]string{"-v", "error", "-y"}, c.input...)
	args = append(args, "-frames:v", fmt.Sprint(n), "-c:v", "mjpeg", "-q:v", fmt.Sprint(c.q),
		"-pix_fmt", c.pixFmt, "-huffman", c.huffman)
	if c.slices > 1 {
		args = append(args, "-threads", fmt.Sprint(c.slices), "-slices", fmt.Sprint(c.slices))
	}
	args = append(args, "-f", "mjpeg", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	fs := splitMJPEG(data)
	if len(fs) != n {
		t.Fatalf("ffmpeg wrote %d frames, want %d", len(fs), n)
	}
	return fs
}

// splitMJPEG cuts a raw MJPEG stream at each EOI followed by SOI.
func splitMJPEG(b []byte) [][]byte {
	var out [][]byte
	for {
		i := bytes.Index(b, []byte{0xff, 0xd9, 0xff, 0xd8})
		if i < 0 {
			return append(out, b)
		}
		out = append(out, b[:i+2])
		b = b[i+2:]
	}
}

// clips are the variants the coefficient path must take.
var clips = []clip{
	{"test card 1080p 4:2:2 q3 default tables", testsrc(1920, 1080), image.Pt(1920, 1080), "yuvj422p", 3, "default", 0},
	{"test card 1080p 4:2:0 q10 optimal tables", testsrc(1920, 1080), image.Pt(1920, 1080), "yuvj420p", 10, "optimal", 0},
	{"photograph 1080p 4:2:2 q3 optimal tables", photoInput(1920, 1080), image.Pt(1920, 1080), "yuvj422p", 3, "optimal", 0},
	{"photograph 1080p 4:2:0 q3 with restart markers", photoInput(1920, 1080), image.Pt(1920, 1080), "yuvj420p", 3, "optimal", 4},
	{"photograph 720p 4:2:2 q5 with restart markers", photoInput(1280, 720), image.Pt(1280, 720), "yuvj422p", 5, "default", 3},
	{"photograph 333x217 4:2:0 q2", photoInput(333, 217), image.Pt(333, 217), "yuvj420p", 2, "optimal", 0},
	{"photograph 333x217 4:2:2 q31", photoInput(333, 217), image.Pt(333, 217), "yuvj422p", 31, "default", 0},
	{"photograph 17x9 4:2:0 q1", photoInput(17, 9), image.Pt(17, 9), "yuvj420p", 1, "default", 0},
}

// stripSegments returns a copy of a JPEG without its segments of marker m.
func stripSegments(b []byte, m byte) []byte {
	out := append([]byte(nil), b[:2]...)
	p := 2
	for p+4 <= len(b) && b[p] == 0xff {
		n := int(b[p+2])<<8 | int(b[p+3])
		if b[p+1] != m {
			out = append(out, b[p:p+2+n]...)
		}
		if b[p+1] == markerSOS {
			return append(out, b[p+2+n:]...)
		}
		p += 2 + n
	}
	return append(out, b[p:]...)
}

// wideDQT rewrites every 8-bit DQT table of a JPEG as a 16-bit one with the same
// steps: a stream must parse the same either way.
func wideDQT(b []byte) []byte {
	out := append([]byte(nil), b[:2]...)
	p := 2
	for p+4 <= len(b) && b[p] == 0xff {
		n := int(b[p+2])<<8 | int(b[p+3])
		seg := b[p+4 : p+2+n]
		if b[p+1] != markerDQT {
			out = append(out, b[p:p+2+n]...)
		} else {
			var body []byte
			for len(seg) >= 65 && seg[0]>>4 == 0 {
				body = append(body, 0x10|seg[0]&15)
				for _, v := range seg[1:65] {
					body = append(body, 0, v)
				}
				seg = seg[65:]
			}
			out = append(out, 0xff, markerDQT, byte((len(body)+2)>>8), byte(len(body)+2))
			out = append(out, body...)
		}
		if b[p+1] == markerSOS {
			return append(out, b[p+2+n:]...)
		}
		p += 2 + n
	}
	return append(out, b[p:]...)
}
