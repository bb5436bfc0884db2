package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
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
	// Per frame, once the rule has had huffEvery frames to learn, the tiles stay
	// within frameSlack of both the frame's own optimal tables and the camera's
	// JPEG (measured: at most 3.2% and 3.0%), and within totalSlack of the own
	// tables over the whole clip (measured: at most 1.4%, the cut included).
	const frameSlack, totalSlack = 0.05, 0.03
	type huffClip struct {
		name   string
		pixFmt string
		q      int
		flat   int // flat frames before the pan
	}
	cases := []huffClip{
		{"a 4:2:2 pan at -q:v 3", "yuvj422p", 3, 0},
		{"a 4:2:2 pan at -q:v 10", "yuvj422p", 10, 0},
		{"a 4:2:0 pan at -q:v 3", "yuvj420p", 3, 0},
		{"a 4:2:0 pan at -q:v 10", "yuvj420p", 10, 0},
		{"flat frames then a 4:2:2 pan at -q:v 3", "yuvj422p", 3, 4},
		{"flat frames then a 4:2:0 pan at -q:v 10", "yuvj420p", 10, 4},
	}
	// The race detector finds nothing in this single-goroutine measurement and slows
	// it ten times over: under -race the last clip (4:2:0 after a cut: the tables
	// rebuilt), and build.sh runs all six without it.
	if testrig.Race {
		cases = cases[len(cases)-1:]
	}
	for _, c := range cases {
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
				if b := per[i]; float64(b.stream) > float64(min(b.own, b.camera))*(1+frameSlack) {
					t.Errorf("frame %d: %d bytes with the stream's tables, %d with its own, %d the camera's: more than %.0f%% over",
						i, b.stream, b.own, b.camera, 100*frameSlack)
				}
			}
		})
	}
}

// TestRebuiltTablesGoBeforeTheirTiles sends an MJPEG stream that cuts from a
// flat card to a noisy picture through a real sender: the cut rebuilds the
// stream's Huffman tables, and every tile's set reaches the wire in a table
// datagram before the tile does.
func TestRebuiltTablesGoBeforeTheirTiles(t *testing.T) {
	const flat, busy = 2, 3
	var clip []byte
	for i := range flat + busy {
		if i < flat {
			clip = append(clip, cameraJPEG(t, 0, image.Rect(0, 0, 512, 256), 1)...)
		} else {
			clip = append(clip, cameraJPEG(t, 40, image.Rectangle{}, uint64(i))...)
		}
	}
	path := filepath.Join(t.TempDir(), "cut.mjpeg")
	if err := os.WriteFile(path, clip, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.SetReadBuffer(4 << 20)
	s, err := New(Config{To: ln.LocalAddr().String(), MJPEG: MJPEGRetile, ChangeThreshold: -1, Sockets: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan error, 1)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // a failed test still stops the sender
	ln.SetReadDeadline(time.Now().Add(time.Minute))
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := s.Run(ctx, src, flat+busy)
		ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		done <- err
	}()
	announced := map[uint8]bool{}
	used := map[uint8]int{}
	buf := make([]byte, wire.MaxDatagram)
	for ends := 0; ends < flat+busy; {
		m, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("after %d frames: %v", ends, err)
		}
		var h wire.Header
		if _, err := h.Unmarshal(buf[:m], wire.DefaultLimits); err != nil {
			t.Fatalf("datagram: %v", err)
		}
		switch {
		case h.IsTables():
			announced[h.Quality] = true
		case h.IsEnd():
			ends++
		case h.Flags&wire.FlagParity == 0 && h.Format>>4 == wire.CodecTableScan:
			if !announced[h.Quality] {
				t.Fatalf("frame %d: a tile of set %d before its table datagram", h.Frame, h.Quality)
			}
			used[h.Quality]++
		}
	}
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(used) < 2 || s.mj.huffRebuilt.Load() == 0 {
		t.Fatalf("tiles of sets %v, %d rebuilds: want the cut to rebuild the tables", used, s.mj.huffRebuilt.Load())
	}
	if st := s.Stats(); st.EncodeErrors != 0 || st.FramesRetiled != flat+busy {
		t.Fatalf("%d encode errors, %d frames retiled", st.EncodeErrors, st.FramesRetiled)
	}
}
