package capture

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"testing"
	"unsafe"
)

// readTally is a reader that counts the bytes it hands to reads into dst's planes
// (straight into the frame) and into any other buffer (bufio's, copied again).
type readTally struct {
	r        io.Reader
	dst      *image.YCbCr
	direct   int
	buffered int
}

func (t *readTally) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if inPlane(p, t.dst.Y) || inPlane(p, t.dst.Cb) || inPlane(p, t.dst.Cr) {
		t.direct += n
	} else {
		t.buffered += n
	}
	return n, err
}

// inPlane reports whether p lies in plane's memory.
func inPlane(p, plane []byte) bool {
	if len(p) == 0 || len(plane) == 0 {
		return false
	}
	a, lo := uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(unsafe.Pointer(unsafe.SliceData(plane)))
	return a >= lo && a < lo+uintptr(len(plane))
}

// A Y4M frame's planes are read straight into the frame: what goes through the
// reader's buffer, and so is copied twice, is at most the buffer's size a frame
// (a 1 MB buffer put two of a 1080p frame's 3 MB through it).
func TestY4MPlanesAreReadStraightIntoTheFrame(t *testing.T) {
	for _, size := range [][2]int{{1920, 1080}, {3840, 2160}} {
		t.Run(fmt.Sprintf("%dx%d frames copy at most %d KB each through the buffer", size[0], size[1], y4mBuffer>>10), func(t *testing.T) {
			w, h := size[0], size[1]
			frame := w*h + 2*(w/2)*(h/2)
			const frames = 4
			var file bytes.Buffer
			fmt.Fprintf(&file, "YUV4MPEG2 W%d H%d F30:1 C420jpeg XCOLORRANGE=FULL\n", w, h)
			for i := range frames {
				file.WriteString("FRAME\n")
				file.Write(bytes.Repeat([]byte{byte(i + 1)}, frame))
			}
			dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
			tally := &readTally{r: &file, dst: dst}
			y, err := newY4MReader(tally)
			if err != nil {
				t.Fatal(err)
			}
			for i := range frames {
				got, err := y.readFrame(dst)
				if err != nil {
					t.Fatal(err)
				}
				if got != dst || got.Y[0] != byte(i+1) || got.Cr[len(got.Cr)-1] != byte(i+1) {
					t.Fatalf("frame %d read wrong", i)
				}
			}
			if tally.buffered > frames*y4mBuffer || tally.direct < frames*(frame-y4mBuffer) {
				t.Fatalf("%d bytes read through the buffer and %d straight into frames, for %d frames of %d bytes", tally.buffered, tally.direct, frames, frame)
			}
		})
	}
}
