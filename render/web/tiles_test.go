package web

import (
	"image"
	"slices"
	"testing"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

func TestTheTilerEncodesOnlyTheTilesThatChanged(t *testing.T) {
	// 100x70 in 32x32 tiles: 4 columns, 3 rows, the last ones clipped.
	for _, sub := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
		for _, tc := range []struct {
			name   string
			change func(img *image.YCbCr)
			want   []int // tiles encoded
		}{
			{"nothing changed encodes nothing", func(*image.YCbCr) {}, nil},
			{"one luma sample encodes its tile", func(img *image.YCbCr) { img.Y[img.YOffset(33, 40)]++ }, []int{5}},
			{"the last luma sample encodes the clipped corner tile", func(img *image.YCbCr) { img.Y[img.YOffset(99, 69)]++ }, []int{11}},
			{"one Cb sample encodes the tile over it", func(img *image.YCbCr) { img.Cb[img.COffset(70, 2)]++ }, []int{2}},
			{"one Cr sample on the last row encodes the tile over it", func(img *image.YCbCr) { img.Cr[img.COffset(0, 69)]++ }, []int{8}},
			{"samples in two tiles encode both", func(img *image.YCbCr) { img.Y[0]++; img.Y[img.YOffset(64, 0)]++ }, []int{0, 2}},
		} {
			t.Run(sub.String()+": "+tc.name, func(t *testing.T) {
				tl := &tiler{quality: 75, tw: 32, th: 32}
				pic := testpic.Picture(100, 70, sub, 0)
				set, n, err := tl.update(receiver.NewFrame(pic, 1), 1)
				if err != nil || n != 12 || set.grid.Len() != 12 {
					t.Fatalf("first frame: %d of %d tiles encoded, %v; want all 12", n, set.grid.Len(), err)
				}
				next := testpic.Picture(100, 70, sub, 0)
				tc.change(next)
				set2, n, err := tl.update(receiver.NewFrame(next, 2), 2)
				if err != nil {
					t.Fatal(err)
				}
				var got []int
				for i, tv := range set2.tiles {
					if tv.ver == 2 {
						got = append(got, i)
					} else if tv.ver != 1 || &tv.data[0] != &set.tiles[i].data[0] {
						t.Fatalf("tile %d: version %d, not the first frame's payload", i, tv.ver)
					}
				}
				if n != len(tc.want) || !slices.Equal(got, tc.want) || set2.epoch != set.epoch {
					t.Fatalf("tiles %v encoded (%d), want %v in the same epoch", got, n, tc.want)
				}
			})
		}
	}
	t.Run("a new size starts a new epoch with every tile", func(t *testing.T) {
		tl := &tiler{quality: 75, tw: 32, th: 32}
		a, _, _ := tl.update(receiver.NewFrame(testpic.Picture(100, 70, image.YCbCrSubsampleRatio420, 0), 1), 1)
		b, n, err := tl.update(receiver.NewFrame(testpic.Picture(64, 64, image.YCbCrSubsampleRatio420, 0), 2), 2)
		if err != nil || n != 4 || b.epoch == a.epoch || b.grid.Len() != 4 {
			t.Fatalf("%d tiles encoded of a %d-tile grid, epoch %d after %d, %v", n, b.grid.Len(), b.epoch, a.epoch, err)
		}
	})
	t.Run("a 4:4:4 frame is an error, not a panic", func(t *testing.T) {
		tl := &tiler{quality: 75, tw: 32, th: 32}
		img := image.NewYCbCr(image.Rect(0, 0, 32, 32), image.YCbCrSubsampleRatio444)
		if _, _, err := tl.update(receiver.NewFrame(img, 1), 1); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestATileSizeOffTheMCUGridIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tw, th int
		ok     bool
	}{
		{"the default", 0, 0, true},
		{"64x64", 64, 64, true},
		{"a width of 100", 100, 64, false},
		{"a height of 8, which 4:2:0 cannot cut", 64, 8, false},
	} {
		t.Run(tc.name+map[bool]string{true: " is taken", false: " is refused"}[tc.ok], func(t *testing.T) {
			s, err := New("127.0.0.1:0", Options{TileW: tc.tw, TileH: tc.th})
			if s != nil {
				s.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v", err)
			}
		})
	}
}
