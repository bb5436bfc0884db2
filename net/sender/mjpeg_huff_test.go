package sender

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/tile"
)

// mjpegFrames cuts an MJPEG file into its JPEGs.
func mjpegFrames(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for len(data) > 0 {
		end := bytes.Index(data, []byte{0xff, 0xd9, 0xff, 0xd8}) + 2
		if end < 2 {
			end = len(data)
		}
		frames = append(frames, data[:end])
		data = data[end:]
	}
	return frames
}

// flatThenPan writes an MJPEG clip of flat frames of ffmpeg's mjpeg (a grey
// test card with little detail) followed by a photo pan, same size, sampling
// and -q:v, and returns its frames.
func flatThenPan(t testing.TB, pixFmt string, q, flat, pan int) [][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "flat.mjpeg")
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x808070:s=1920x1080:r=30",
		"-frames:v", fmt.Sprint(flat), "-c:v", "mjpeg", "-q:v", fmt.Sprint(q), "-pix_fmt", pixFmt, "-f", "mjpeg", out}
	if msg, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, msg)
	}
	return append(mjpegFrames(t, out), mjpegFrames(t, benchClip(t, pixFmt, q, 0, pan))...)
}

// huffBytes is the tile-payload bytes of one frame under each Huffman rule.
type huffBytes struct {
	camera, frame0, standard, stream, own int
}

// measureHuffman codes every tile of every frame (the change test off) with
// (a) optimal tables from frame 0's symbols, (b) the Annex K.3 tables, (c) the
// retiler's tables (the stream's rule: rebuilt when a frame drifts), and (d)
// each frame's own optimal tables, the lower bound; camera is the JPEG's size.
func measureHuffman(t testing.TB, frames [][]byte) (per []huffBytes, rt *retiler) {
	t.Helper()
	var f fastjpeg.CoefFrame
	count := func(g tile.Grid) *fastjpeg.SymbolCounts {
		var c fastjpeg.SymbolCounts
		for i := range g.Len() {
			if err := f.CountTile(&c, g.Rect(i)); err != nil {
				t.Fatal(err)
			}
		}
		return &c
	}
	set := func(huff [4]fastjpeg.HuffTable) *fastjpeg.TableSet {
		ts, err := fastjpeg.NewTableSet(&fastjpeg.Tables{Quant: f.Quant(), Huff: huff})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	var tiles [][]byte
	size := func(data []byte, ts *fastjpeg.TableSet) int {
		var err error
		if tiles, err = f.Transcode(data, DefaultTileW, DefaultTileH, ts, tiles); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range tiles {
			n += len(p)
		}
		return n
	}
	grid := func() tile.Grid {
		w, h := f.Size()
		g, err := tile.NewGrid(w, h, DefaultTileW, DefaultTileH, uint8(f.Subsampling()))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	rt = &retiler{threshold: -1, mtu: DefaultMTU}
	var first [4]fastjpeg.HuffTable
	now := time.Unix(0, 0)
	for i, data := range frames {
		if err := f.Decode(data); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		own := fastjpeg.OptimalHuffman(count(grid()))
		if i == 0 {
			first = own
		}
		b := huffBytes{camera: len(data), frame0: size(data, set(first)), standard: size(data, set(fastjpeg.StandardHuffman())), own: size(data, set(own))}
		if err := rt.prepare(data, DefaultTileW, DefaultTileH, 75, 75, now); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		now = now.Add(time.Second / 30)
		for k := range rt.grid.Len() {
			var p []byte
			if rt.coded {
				p = rt.tiles[k]
			} else {
				var err error
				if p, err = rt.coef.AppendTile(nil, rt.grid.Rect(k), rt.set.ts); err != nil {
					t.Fatal(err)
				}
			}
			b.stream += len(p)
		}
		per = append(per, b)
	}
	return per, rt
}

// TestHuffmanTablesOverClips is the measurement behind the stream's Huffman
// rule (docs/JPEG.md, Re-tiling): the tile bytes of whole 1080p clips under
// each rule, logged as a table, and the rule held to within a few percent of
// each frame's own optimal tables on every clip, frame by frame once it has
// had a frame to learn from.
//
//	go test -run HuffmanTablesOverClips -v ./net/sender/
func TestHuffmanTablesOverClips(t *testing.T) {
	if _, err := os.Stat(benchPhoto); err != nil {
		t.Fatalf("the photo: %v (plasma-workspace-wallpapers)", err)
	}
	const pan = 16
	// Per frame, the rule's tiles stay within this of the frame's own optimal
	// tables (after the first rebuild), and within totalSlack over the clip.
	const frameSlack, totalSlack = 0.12, 0.05
	for _, c := range []struct {
		name   string
		pixFmt string
		q      int
		flat   int // flat frames before the pan
	}{
		{"a 4:2:2 pan at -q:v 3", "yuvj422p", 3, 0},
		{"a 4:2:2 pan at -q:v 10", "yuvj422p", 10, 0},
		{"a 4:2:0 pan at -q:v 3", "yuvj420p", 3, 0},
		{"a 4:2:0 pan at -q:v 10", "yuvj420p", 10, 0},
		{"flat frames then a 4:2:2 pan at -q:v 3", "yuvj422p", 3, 4},
		{"flat frames then a 4:2:0 pan at -q:v 10", "yuvj420p", 10, 4},
	} {
		t.Run(c.name+" codes within a few percent of each frame's own tables", func(t *testing.T) {
			frames := mjpegFrames(t, benchClip(t, c.pixFmt, c.q, 0, pan))
			if c.flat > 0 {
				frames = flatThenPan(t, c.pixFmt, c.q, c.flat, pan)
			}
			per, rt := measureHuffman(t, frames)
			var sum huffBytes
			t.Logf("%5s %9s %9s %9s %9s %9s", "frame", "camera", "frame0", "annexK3", "stream", "own")
			for i, b := range per {
				t.Logf("%5d %9d %9d %9d %9d %9d", i, b.camera, b.frame0, b.standard, b.stream, b.own)
				sum.camera += b.camera
				sum.frame0 += b.frame0
				sum.standard += b.standard
				sum.stream += b.stream
				sum.own += b.own
			}
			pct := func(n int) string { return fmt.Sprintf("%+.1f%%", 100*(float64(n)/float64(sum.own)-1)) }
			t.Logf("%s, %d frames, bytes/frame: camera %d, frame 0's tables %d (%s), Annex K.3 %d (%s), stream rule %d (%s), own %d; %d rebuilds",
				c.name, len(per), sum.camera/len(per), sum.frame0/len(per), pct(sum.frame0), sum.standard/len(per), pct(sum.standard),
				sum.stream/len(per), pct(sum.stream), sum.own/len(per), rt.huffRebuilt.Load())
			if float64(sum.stream) > float64(sum.own)*(1+totalSlack) {
				t.Errorf("the stream rule codes %s over each frame's own tables, want at most %+.0f%%", pct(sum.stream), 100*totalSlack)
			}
			// Frames before the first drift check may still use tables of another
			// picture (the flat frames'): the rule promises the frames after it.
			for i := c.flat + huffEvery + 1; i < len(per); i++ {
				if b := per[i]; float64(b.stream) > float64(b.own)*(1+frameSlack) {
					t.Errorf("frame %d: %d bytes with the stream's tables, %d with its own: more than %.0f%% over", i, b.stream, b.own, 100*frameSlack)
				}
			}
		})
	}
}
