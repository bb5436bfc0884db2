package sender

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/hrvs/hrvs/net/wire"
)

// cameraJPEG is a 512x256 picture of soft gradients, plus noise of up to noise
// levels and a grey box over box (if not empty), coded by image/jpeg at q90 as a
// camera would.
func cameraJPEG(t testing.TB, noise int, box image.Rectangle, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, 512, 256))
	for y := range 256 {
		for x := range 512 {
			n := 0
			if noise > 0 {
				n = rng.IntN(2*noise+1) - noise
			}
			v := func(b int) uint8 { return uint8(min(max(b+n, 0), 255)) }
			c := color.RGBA{v(x / 3), v(y / 2), v((x + y) / 5), 255}
			if image.Pt(x, y).In(box) {
				c = color.RGBA{v(128), v(128), v(128), 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRequantFollowsTheQualityCurve(t *testing.T) {
	for _, c := range []struct {
		name              string
		q, qMax           int
		wantScale, wantKe int
	}{
		{"the top quality keeps the camera's tables", 75, 75, 100, 64},
		{"quality 50 of 75 doubles the steps", 50, 75, 200, 64},
		{"quality 30 of 75 drops high frequencies too", 30, 75, 332, 28},
		{"the floor, 20 of 75, keeps 15 coefficients", 20, 75, 500, 15},
		{"a top quality of 100 does not divide by zero", 90, 100, 2000, 15},
	} {
		t.Run(c.name, func(t *testing.T) {
			if s, k := requant(c.q, c.qMax); s != c.wantScale || k != c.wantKe {
				t.Fatalf("requant(%d, %d) = %d, %d; want %d, %d", c.q, c.qMax, s, k, c.wantScale, c.wantKe)
			}
		})
	}
}

func TestRetilerChangeTestIgnoresNoiseAndSeesABox(t *testing.T) {
	rt := &retiler{threshold: 2 * DefaultChangeThreshold, mtu: DefaultMTU}
	now := time.Now()
	if err := rt.prepare(cameraJPEG(t, 0, image.Rectangle{}, 1), 128, 128, 75, 75, now); err != nil {
		t.Fatal(err)
	}
	rt.reset(rt.grid.Len())
	for i := range rt.grid.Len() {
		if !rt.changedTile(i) {
			t.Fatalf("tile %d never sent counts as unchanged", i)
		}
		rt.sent[i] = append(rt.sent[i][:0], rt.cur[i]...)
	}
	t.Run("sensor noise of 6 levels changes no tile", func(t *testing.T) {
		if err := rt.prepare(cameraJPEG(t, 6, image.Rectangle{}, 2), 128, 128, 75, 75, now); err != nil {
			t.Fatal(err)
		}
		for i := range rt.grid.Len() {
			if rt.changedTile(i) {
				peak, _ := fastjpeg.SummaryChange(rt.cur[i], rt.sent[i])
				t.Fatalf("tile %d changed by noise: peak %.1f levels", i, peak)
			}
		}
	})
	t.Run("a grey box changes the tiles under it and no other", func(t *testing.T) {
		box := image.Rect(140, 20, 240, 100) // inside tile 1 of the 128x128 grid
		if err := rt.prepare(cameraJPEG(t, 0, box, 3), 128, 128, 75, 75, now); err != nil {
			t.Fatal(err)
		}
		for i := range rt.grid.Len() {
			if want := rt.grid.Rect(i).Overlaps(box); rt.changedTile(i) != want {
				t.Fatalf("tile %d %v: changed %v, want %v", i, rt.grid.Rect(i), !want, want)
			}
		}
	})
}

func TestRetilerRequantisesForRateControl(t *testing.T) {
	rt := &retiler{threshold: -1, mtu: DefaultMTU}
	data := cameraJPEG(t, 3, image.Rectangle{}, 4)
	now := time.Now()
	size := func(t *testing.T) (n int) {
		for i := range rt.grid.Len() {
			var p []byte
			if rt.coded {
				p = rt.tiles[i]
			} else {
				var err error
				if p, err = rt.coef.AppendTile(nil, rt.grid.Rect(i), rt.set.ts); err != nil {
					t.Fatal(err)
				}
			}
			n += len(p)
		}
		return n
	}
	if err := rt.prepare(data, 256, 128, 75, 75, now); err != nil {
		t.Fatal(err)
	}
	top, topSet := size(t), rt.set
	if err := rt.prepare(data, 256, 128, 75, 75, now); err != nil {
		t.Fatal(err)
	}
	if !rt.coded || rt.set != topSet {
		t.Fatalf("the second frame at the top quality: one pass %v, same set %v", rt.coded, rt.set == topSet)
	}
	if size(t) != top {
		t.Fatal("one pass and two give different bytes")
	}
	if err := rt.prepare(data, 256, 128, 30, 75, now); err != nil {
		t.Fatal(err)
	}
	low, lowSet := size(t), rt.set
	if lowSet == topSet || lowSet.id == topSet.id || low > top*2/3 {
		t.Fatalf("quality 30: set %d (top %d), %d bytes against %d", lowSet.id, topSet.id, low, top)
	}
	for c := range lowSet.tables.Quant {
		for k, q := range lowSet.tables.Quant[c] {
			if q < topSet.tables.Quant[c][k] {
				t.Fatalf("component %d step %d got finer: %d < %d", c, k, q, topSet.tables.Quant[c][k])
			}
		}
	}
	if err := rt.prepare(data, 256, 128, 75, 75, now); err != nil || rt.set != topSet {
		t.Fatalf("back at the top quality the camera's set is reused: %v, %v", rt.set == topSet, err)
	}
}

func TestTableSetsAreSentWhenDueAndBeforeTiles(t *testing.T) {
	rec := &recorder{}
	s := &Sender{pack: &packer{conns: []io.Writer{rec}, mtu: DefaultMTU, count: &counters{}, pace: &pacer{}}}
	rt := &retiler{threshold: -1, mtu: DefaultMTU}
	start := time.Now()
	if err := rt.prepare(cameraJPEG(t, 0, image.Rectangle{}, 1), 256, 128, 75, 75, start); err != nil {
		t.Fatal(err)
	}
	hdr := wire.Header{Stream: 5, Width: 512, Height: 256, FrameTiles: 1, TileW: 256, TileH: 128, Format: rt.format(), Quality: rt.set.id}
	sent := func(at time.Duration) bool {
		n := len(rec.dgrams)
		s.sendTables(&frameJob{hdr: hdr, rt: rt}, start.Add(at))
		return len(rec.dgrams) > n
	}
	for _, c := range []struct {
		name string
		at   time.Duration
		want bool
	}{
		{"the first frame of a set carries it", 0, true},
		{"every frame of its first second carries it", 30 * time.Millisecond, true},
		{"so does the last frame of that second", 990 * time.Millisecond, true},
		{"after the second, a frame 40 ms after the last copy does not", 1030 * time.Millisecond, false},
		{"a frame 100 ms after the last copy does", 1090 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sent(c.at); got != c.want {
				t.Fatalf("sent %v, want %v", got, c.want)
			}
		})
	}
	t.Run("the datagram is a table datagram of the set, parsed back to its tables", func(t *testing.T) {
		var h wire.Header
		p, err := h.Unmarshal(rec.dgrams[0], wire.DefaultLimits)
		if err != nil || !h.IsTables() || h.Quality != rt.set.id {
			t.Fatalf("%+v, %v", h, err)
		}
		tables, err := wire.ParseTableSet(p)
		if err != nil || tables.Quant != rt.set.tables.Quant {
			t.Fatalf("tables differ: %v", err)
		}
	})
	t.Run("a set that comes back into use is sent again at once", func(t *testing.T) {
		first := rt.set
		rt.set = &streamSet{id: first.id + 1, tables: first.tables}
		if !sent(1100 * time.Millisecond) {
			t.Fatal("a new set was not sent")
		}
		rt.set = first // last sent at 1090 ms, but the receiver may have let it go
		if !sent(1110 * time.Millisecond) {
			t.Fatal("the set back in use was not sent")
		}
	})
}

// TestAFrameThatCannotBeRetiledFallsBack: a progressive frame in an MJPEG stream
// is decoded and encoded instead, and counted.
func TestAFrameThatCannotBeRetiledFallsBack(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "frame.jpg")
	if err := os.WriteFile(base, cameraJPEG(t, 0, image.Rectangle{}, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, err := exec.Command("jpegtran", "-progressive", base).Output()
	if err != nil {
		t.Fatalf("jpegtran (libjpeg-turbo-progs): %v", err)
	}
	path := filepath.Join(dir, "prog.mjpeg")
	if err := os.WriteFile(path, prog, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	s, err := New(Config{To: "127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.closeConns()
	retiled, err := s.retileFrame(f, time.Now())
	if err != nil || retiled || f.Image == nil || s.mj.fellBack.Load() != 1 || s.mj.retiled.Load() != 0 {
		t.Fatalf("retiled %v, picture %v, fell back %d: %v", retiled, f.Image != nil, s.mj.fellBack.Load(), err)
	}
	if st := s.Stats(); st.MJPEG != MJPEGRetile || st.FramesFellBack != 1 {
		t.Fatalf("stats %q %d", st.MJPEG, st.FramesFellBack)
	}
}

// A frame that can be neither re-tiled nor decoded (the truncated last frame of an
// MJPEG file) is lost; it is counted as such, so frames captured still add up to
// frames sent, skipped and lost.
func TestAFrameThatCannotBeDecodedIsCountedAsUnreadable(t *testing.T) {
	whole := cameraJPEG(t, 0, image.Rectangle{}, 1)
	path := filepath.Join(t.TempDir(), "cut.mjpeg")
	if err := os.WriteFile(path, append(append([]byte{}, whole...), whole[:len(whole)/2]...), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(context.Background(), path, capture.Options{FPS: -1, JPEG: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	first, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	first.Release()
	f, err := src.Next(context.Background()) // the cut one
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := New(Config{To: "127.0.0.1:9", Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.closeConns()
	if err := s.submit(f); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.FramesSent != 0 || st.FramesUnreadable != 1 || st.FramesFellBack != 0 {
		t.Fatalf("sent %d, unreadable %d, fell back %d: want 0, 1 and 0", st.FramesSent, st.FramesUnreadable, st.FramesFellBack)
	}
	// The log says what happened to it: left out, not "decoded and encoded instead".
	if l := log.String(); strings.Contains(l, "decoded and encoded instead") || !strings.Contains(l, "neither re-tiled nor decoded") {
		t.Fatalf("log %q: want it to say the frame was neither re-tiled nor decoded", l)
	}
}
