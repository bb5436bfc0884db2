package sender

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// cjpegCamera is a 512x256 picture of soft gradients with a grey box over box
// (if not empty), coded by libjpeg's cjpeg (libjpeg-turbo-progs) with args, as
// a camera that writes restart markers would: "-restart 4B" is a restart every
// 4 MCUs.
func cjpegCamera(t testing.TB, box image.Rectangle, args ...string) []byte {
	t.Helper()
	var ppm bytes.Buffer
	fmt.Fprintf(&ppm, "P6\n512 256\n255\n")
	for y := range 256 {
		for x := range 512 {
			c := []byte{uint8(x / 3), uint8(y / 2), uint8((x + y) / 5)}
			if image.Pt(x, y).In(box) {
				c = []byte{128, 128, 128}
			}
			ppm.Write(c)
		}
	}
	in := filepath.Join(t.TempDir(), "in.ppm")
	if err := os.WriteFile(in, ppm.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("cjpeg", append(args, in)...).Output()
	if err != nil {
		t.Fatalf("cjpeg %v (libjpeg-turbo-progs): %v", args, err)
	}
	return out
}

func TestSplitRule(t *testing.T) {
	aligned := cjpegCamera(t, image.Rectangle{}, "-sample", "2x1", "-restart", "4B", "-quality", "90")
	for _, c := range []struct {
		name      string
		data      []byte
		threshold float64
		trySplit  bool
		q         int // rate control's quality, of 75
		wantCut   bool
		fellBack  uint64
	}{
		{"a frame whose restart interval lines up with the tiles is split at the camera's quality",
			aligned, -1, true, 75, true, 0},
		{"a 4:2:0 frame whose restart interval lines up is split too",
			cjpegCamera(t, image.Rectangle{}, "-sample", "2x2", "-restart", "8B"), 8, true, 75, true, 0},
		{"below the camera's quality the coefficient path requantises instead",
			aligned, -1, true, 50, false, 0},
		{"an interval that does not line up with the tiles falls back to coefficients, counted",
			cjpegCamera(t, image.Rectangle{}, "-sample", "2x1", "-restart", "3B"), -1, true, 75, false, 1},
		{"ffmpeg's 4:2:2 layout falls back to coefficients, counted",
			cjpegCamera(t, image.Rectangle{}, "-sample", "2x2,1x2,1x2", "-restart", "4B"), -1, true, 75, false, 1},
		{"a frame without restart markers goes the coefficient path, not counted",
			cjpegCamera(t, image.Rectangle{}, "-sample", "2x1"), -1, true, 75, false, 0},
		{"retile with the change test on does not split",
			aligned, 8, false, 75, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := &retiler{threshold: c.threshold, mtu: DefaultMTU, trySplit: c.trySplit}
			if err := rt.prepare(c.data, 128, 128, c.q, 75, time.Now()); err != nil {
				t.Fatal(err)
			}
			if rt.cut != c.wantCut || rt.splitFellBack.Load() != c.fellBack {
				t.Fatalf("cut %v, split fell back %d; want %v, %d", rt.cut, rt.splitFellBack.Load(), c.wantCut, c.fellBack)
			}
			wantCodec, wantRestart := wire.CodecTableScan, 0
			if c.wantCut {
				wantCodec, wantRestart = wire.CodecRestartScan, rt.splitter.Restart()
				if wantRestart == 0 || len(rt.cutTiles) != rt.grid.Len() {
					t.Fatalf("restart %d, %d payloads for %d tiles", wantRestart, len(rt.cutTiles), rt.grid.Len())
				}
			}
			if rt.format()>>4 != wantCodec || rt.set.restart != wantRestart {
				t.Fatalf("format %#x, set restart %d; want codec %d, restart %d", rt.format(), rt.set.restart, wantCodec, wantRestart)
			}
		})
	}
}

func TestSplitChangeTestComparesBytes(t *testing.T) {
	rt := &retiler{threshold: 2 * DefaultChangeThreshold, mtu: DefaultMTU, trySplit: true}
	args := []string{"-sample", "2x1", "-restart", "4B", "-quality", "90"}
	now := time.Now()
	prepare := func(t *testing.T, data []byte) {
		t.Helper()
		if err := rt.prepare(data, 128, 128, 75, 75, now); err != nil {
			t.Fatal(err)
		}
		if !rt.cut {
			t.Fatal("not split")
		}
	}
	still := cjpegCamera(t, image.Rectangle{}, args...)
	prepare(t, still)
	rt.reset(rt.grid.Len())
	for i := range rt.grid.Len() {
		if !rt.changedTile(i) {
			t.Fatalf("tile %d never sent counts as unchanged", i)
		}
		rt.sentCut(i, rt.cutTiles[i])
	}
	t.Run("the same picture again changes no tile", func(t *testing.T) {
		prepare(t, still)
		for i := range rt.grid.Len() {
			if rt.changedTile(i) {
				t.Fatalf("tile %d changed", i)
			}
		}
	})
	t.Run("a grey box changes the tiles under it and no other", func(t *testing.T) {
		box := image.Rect(140, 20, 240, 100) // inside tile 1 of the 128x128 grid
		prepare(t, cjpegCamera(t, box, args...))
		for i := range rt.grid.Len() {
			if want := rt.grid.Rect(i).Overlaps(box); rt.changedTile(i) != want {
				t.Fatalf("tile %d %v: changed %v, want %v", i, rt.grid.Rect(i), !want, want)
			}
		}
	})
	t.Run("a tile the coefficient path sent last counts as changed", func(t *testing.T) {
		rt.sent[2] = []int32{0}
		rt.sentBytes[2], rt.sentSet[2] = nil, nil
		prepare(t, still)
		if !rt.changedTile(2) || rt.changedTile(3) {
			t.Fatalf("tile 2 changed %v, tile 3 changed %v", rt.changedTile(2), rt.changedTile(3))
		}
	})
}

func TestMovingBetweenSplitAndCoefficientsKeepsTheGrid(t *testing.T) {
	c1, c2 := wire.CodecTableScan<<4, wire.CodecRestartScan<<4
	for _, c := range []struct {
		name string
		a, b uint8
		want bool
	}{
		{"codec 1 to codec 2 of 4:2:2 keeps it", c1 | wire.Sub422, c2 | wire.Sub422, true},
		{"codec 2 to codec 1 of 4:2:0 keeps it", c2 | wire.Sub420, c1 | wire.Sub420, true},
		{"another subsampling starts over", c1 | wire.Sub422, c2 | wire.Sub420, false},
		{"a frame decoded and encoded (codec 0) starts over", wire.Sub422, c2 | wire.Sub422, false},
		{"codec 0 to codec 1 starts over", c1 | wire.Sub420, wire.Sub420, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := retiledFormats(c.a, c.b); got != c.want {
				t.Fatalf("retiledFormats(%#x, %#x) = %v", c.a, c.b, got)
			}
		})
	}
}
