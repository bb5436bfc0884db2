package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"os"
	"path/filepath"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/lab/photo"
)

// Clip kinds: the built-in test pattern, and a slow diagonal pan over a photograph,
// which is what a camera pointed at a real scene gives an encoder to chew on.
const (
	ClipPattern = "pattern"
	ClipPhoto   = "photo"
)

// Every clip frame carries its index in a row of black and white blocks at the top
// left (the "stamp"), so a receiver's output frame can be matched to its source frame
// even when frames were dropped: PSNR compares the right pictures and latency pairs
// the right instants. 16-pixel blocks survive JPEG at any quality the benchmark uses.
const (
	stampBits  = 32 // 24 bits of frame index, 8 bits of check
	stampBlack = 16
	stampWhite = 235
)

// stampBlock is the side of one stamp block for a frame width: 16 pixels when the
// frame is wide enough, less (but even, for 4:2:0 chroma) for small test frames.
func stampBlock(w int) int {
	return min(16, w/stampBits) &^ 1
}

func stampCheck(idx uint32) uint32 {
	return (idx ^ idx>>8 ^ idx>>16 ^ 0xA5) & 0xFF
}

// stamp writes frame index idx (below 2^24) into img. It needs a frame at least
// 128 pixels wide and 8 high.
func stamp(img *image.YCbCr, idx uint32) {
	b := stampBlock(img.Rect.Dx())
	if b < 4 || img.Rect.Dy() < b {
		return
	}
	word := (idx&0xFFFFFF)<<8 | stampCheck(idx&0xFFFFFF)
	for bit := 0; bit < stampBits; bit++ {
		v := uint8(stampBlack)
		if word>>(stampBits-1-bit)&1 == 1 {
			v = stampWhite
		}
		for y := 0; y < b; y++ {
			row := img.Y[y*img.YStride+bit*b:]
			for x := 0; x < b; x++ {
				row[x] = v
			}
		}
		for y := 0; y < b/2; y++ {
			o := y*img.CStride + bit*b/2
			for x := 0; x < b/2; x++ {
				img.Cb[o+x], img.Cr[o+x] = 128, 128
			}
		}
	}
}

// readStamp recovers the frame index stamp wrote, judging each block by the mean of
// its inner half so JPEG ringing at the edges cannot flip a bit.
func readStamp(img *image.YCbCr) (uint32, bool) {
	b := stampBlock(img.Rect.Dx())
	if b < 4 || img.Rect.Dy() < b {
		return 0, false
	}
	var word uint32
	for bit := 0; bit < stampBits; bit++ {
		sum, n := 0, 0
		for y := b / 4; y < b-b/4; y++ {
			row := img.Y[y*img.YStride+bit*b:]
			for x := b / 4; x < b-b/4; x++ {
				sum += int(row[x])
				n++
			}
		}
		word <<= 1
		if sum/n > (stampBlack+stampWhite)/2 {
			word |= 1
		}
	}
	idx := word >> 8
	return idx, word&0xFF == stampCheck(idx)
}

// clipSpec names one clip file.
type clipSpec struct {
	Kind   string
	W, H   int
	Frames int
	FPS    float64
	Photo  string // the photograph a ClipPhoto pans over
}

// fileName names the clip by everything that shapes its pictures, so a cached
// clip is reused only when it is the same clip.
func (c clipSpec) fileName() string {
	kind := c.Kind
	if c.Kind == ClipPhoto {
		// "pan2": the pan of internal/lab/photo; clips cached by an older bench
		// (ffmpeg's diagonal crop) have other names and are not reused.
		h := fnv.New32a()
		h.Write([]byte(c.Photo))
		kind = fmt.Sprintf("%s-pan2-%08x", c.Kind, h.Sum32())
	}
	return fmt.Sprintf("clip-%s-%dx%d-%d.y4m", kind, c.W, c.H, c.Frames)
}

// makeClip writes the clip to dir (reusing a complete earlier one) and returns its
// path.
func makeClip(ctx context.Context, dir string, c clipSpec) (string, error) {
	path := filepath.Join(dir, c.fileName())
	want := int64(len(fmt.Sprintf("%s W%d H%d F%d:1 Ip A1:1 C420jpeg XCOLORRANGE=FULL\n", y4mMagic, c.W, c.H, int(c.FPS)))) +
		int64(c.Frames)*int64(len(y4mFrameTag)+frameBytes(c.W, c.H))
	if st, err := os.Stat(path); err == nil && st.Size() == want {
		return path, nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("clip: %w", err)
	}
	defer os.Remove(tmp)
	defer f.Close()
	yw, err := newY4MWriter(f, c.W, c.H, c.FPS)
	if err != nil {
		return "", err
	}
	switch c.Kind {
	case ClipPattern:
		err = writePatternClip(yw, c)
	case ClipPhoto:
		err = writePhotoClip(yw, c, c.Photo)
	default:
		err = fmt.Errorf("unknown clip kind %q (want pattern or photo)", c.Kind)
	}
	if err == nil {
		err = yw.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return "", fmt.Errorf("clip %s: %w", c.fileName(), err)
	}
	return path, nil
}

// drawer draws frame seq of a clip's source into img.
type drawer interface {
	Draw(img *image.YCbCr, seq uint64)
}

// writeClip writes frames 0..n-1 of src, each stamped with its index.
func writeClip(yw *y4mWriter, c clipSpec, src drawer) error {
	img := image.NewYCbCr(image.Rect(0, 0, c.W, c.H), image.YCbCrSubsampleRatio420)
	for i := 0; i < c.Frames; i++ {
		src.Draw(img, uint64(i))
		stamp(img, uint32(i))
		if err := yw.WriteFrame(img); err != nil {
			return err
		}
	}
	return nil
}

// writePatternClip renders the built-in pattern, the same pictures hrvs send --source
// pattern makes.
func writePatternClip(yw *y4mWriter, c clipSpec) error {
	p, err := capture.NewPattern(c.W, c.H, 0)
	if err != nil {
		return err
	}
	return writeClip(yw, c, p)
}

// writePhotoClip writes the lab's photo clip (internal/lab/photo: a pan across the
// photograph, as bench-impair's natural clips are).
func writePhotoClip(yw *y4mWriter, c clipSpec, path string) error {
	if path == "" {
		return errors.New("no photograph to pan over: apt-get install plasma-workspace-wallpapers, or pass --photo FILE")
	}
	clip, err := photo.NewClip("photo", path, c.W, c.H, c.FPS, true)
	if err != nil {
		return err
	}
	return writeClip(yw, c, clip)
}

// limitedBuffer keeps the first 4 KB written to it: enough of a child's stderr to
// explain a failure without holding a chatty process's whole log.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
