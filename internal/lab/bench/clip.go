package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hrvs/hrvs/capture"
)

// Clip kinds: the built-in test pattern, and a slow diagonal pan over a photograph,
// which is what a camera pointed at a real scene gives an encoder to chew on.
const (
	ClipPattern = "pattern"
	ClipPhoto   = "photo"
)

// photoCandidates are photographs Debian ships in plasma-workspace-wallpapers,
// most detailed first: a forest path (about 360 KB a 1080p frame at quality 75,
// like a camera's view of a real scene), moss seen from above, then a smooth
// mountain landscape. Some of the package's other wallpapers are paintings.
var photoCandidates = []string{
	"/usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg",
	"/usr/share/wallpapers/Altai/contents/images/5120x2880.png",
}

// findPhoto returns the first photograph that exists, or "".
func findPhoto() string {
	for _, p := range photoCandidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

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
		h := fnv.New32a()
		h.Write([]byte(c.Photo))
		kind = fmt.Sprintf("%s-%08x", c.Kind, h.Sum32())
	}
	return fmt.Sprintf("clip-%s-%dx%d-%d.y4m", kind, c.W, c.H, c.Frames)
}

// makeClip writes the clip to dir (reusing a complete earlier one) and returns its
// path.
func makeClip(ctx context.Context, dir string, c clipSpec) (string, error) {
	path := filepath.Join(dir, c.fileName())
	want := int64(len(fmt.Sprintf("%s W%d H%d F%d:1 Ip A1:1 C420jpeg\n", y4mMagic, c.W, c.H, int(c.FPS)))) +
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
		err = writePhotoClip(ctx, yw, c, c.Photo)
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

// writePatternClip renders frames 0..n-1 of the built-in pattern, the same pictures
// hrvs send --source pattern makes, plus the stamp.
func writePatternClip(yw *y4mWriter, c clipSpec) error {
	p, err := capture.NewPattern(c.W, c.H, 0)
	if err != nil {
		return err
	}
	img := image.NewYCbCr(image.Rect(0, 0, c.W, c.H), image.YCbCrSubsampleRatio420)
	for i := 0; i < c.Frames; i++ {
		p.Draw(img, uint64(i))
		stamp(img, uint32(i))
		if err := yw.WriteFrame(img); err != nil {
			return err
		}
	}
	return nil
}

// writePhotoClip has ffmpeg pan a c.W x c.H window diagonally across the photograph
// scaled to 5/4 of the frame, a quarter of the frame's width over the clip: a few
// pixels a frame at 1080p, like a slowly panning camera.
func writePhotoClip(ctx context.Context, yw *y4mWriter, c clipSpec, photo string) error {
	if photo == "" {
		return errors.New("no photograph to pan over: apt-get install plasma-workspace-wallpapers, or pass --photo FILE")
	}
	last := max(c.Frames-1, 1)
	vf := fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=increase,crop=%d:%d:x='(iw-ow)*n/%d':y='(ih-oh)*n/%d',format=yuv420p",
		c.W*5/4, c.H*5/4, c.W, c.H, last, last)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
		"-loop", "1", "-framerate", fmt.Sprint(int(c.FPS)), "-i", photo, "-vf", vf,
		"-frames:v", fmt.Sprint(c.Frames), "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1")
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ffmpeg: %w", err)
	}
	buf := make([]byte, frameBytes(c.W, c.H))
	var rerr error
	for i := 0; i < c.Frames; i++ {
		if _, rerr = io.ReadFull(out, buf); rerr != nil {
			rerr = fmt.Errorf("ffmpeg gave %d of %d frames: %w", i, c.Frames, rerr)
			break
		}
		img := fromPlanes(buf, c.W, c.H)
		stamp(img, uint32(i))
		if rerr = yw.WriteFrame(img); rerr != nil {
			break
		}
	}
	if rerr != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if rerr != nil {
		return fmt.Errorf("%w (%s)", rerr, stderr.String())
	}
	if werr != nil {
		return fmt.Errorf("ffmpeg: %w (%s)", werr, stderr.String())
	}
	return nil
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
