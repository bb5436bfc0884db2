package fastjpeg

import (
	"fmt"
	"image"
	"testing"
)

// changeThreshold is the peak block change, in levels, above which the tests
// call a tile changed; the sender picks its own.
const changeThreshold = 8

func TestSummaryChange(t *testing.T) {
	// A still photograph with fresh sensor-like noise in every frame, and a grey
	// box that appears in the second frame.
	box := image.Rect(608, 320, 736, 416)
	c := clip{"", []string{"-loop", "1", "-i", photo1080, "-vf",
		"noise=alls=8:allf=t+u,drawbox=enable='gte(n\\,1)':x=608:y=320:w=128:h=96:color=gray:t=fill"},
		image.Pt(1920, 1080), "yuvj422p", 3, "default", 0}
	fs := c.frames(t, 2)
	var a, b CoefFrame
	if err := a.Decode(fs[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.Decode(fs[1]); err != nil {
		t.Fatal(err)
	}
	var sa, sb []int32
	var err error
	var worstStill, leastMoved float64 = 0, 1e9
	for _, r := range tileGrid(a.Bounds(), 256, 128) {
		if sa, err = a.AppendSummary(sa[:0], r); err != nil {
			t.Fatal(err)
		}
		if sb, err = b.AppendSummary(sb[:0], r); err != nil {
			t.Fatal(err)
		}
		if p, m := SummaryChange(sa, sa); p != 0 || m != 0 {
			t.Fatalf("a tile against itself changed by %v/%v", p, m)
		}
		p, _ := SummaryChange(sa, sb)
		if r.Overlaps(box) {
			leastMoved = min(leastMoved, p)
		} else {
			worstStill = max(worstStill, p)
		}
	}
	t.Logf("peak change of still tiles under noise %.1f levels, of tiles under the box at least %.1f", worstStill, leastMoved)
	t.Run("tiles that only got new sensor noise stay below the threshold", func(t *testing.T) {
		if worstStill >= changeThreshold {
			t.Errorf("a still tile changed by %.1f levels", worstStill)
		}
	})
	t.Run("tiles the box covers are well above it", func(t *testing.T) {
		if leastMoved < 2*changeThreshold {
			t.Errorf("a tile under the box changed by only %.1f levels", leastMoved)
		}
	})
	t.Run("summaries of different shapes are an infinite change", func(t *testing.T) {
		if p, _ := SummaryChange(sa, sa[:3]); p < 1e9 {
			t.Errorf("change %v", p)
		}
	})
}

func TestRequantize(t *testing.T) {
	for _, c := range []clip{
		{"4:2:2 photograph", photoInput(640, 360), image.Pt(640, 360), "yuvj422p", 3, "optimal", 0},
		{"4:2:0 photograph", photoInput(333, 217), image.Pt(333, 217), "yuvj420p", 3, "optimal", 0},
	} {
		frame := c.frames(t, 1)[0]
		decodeAll := func(t *testing.T, f *CoefFrame) (*image.YCbCr, int) {
			t.Helper()
			ts, err := NewTableSet(&Tables{Quant: f.Quant(), Huff: StandardHuffman()})
			if err != nil {
				t.Fatal(err)
			}
			out := image.NewYCbCr(f.Bounds(), f.Subsampling().Ratio())
			var d Decoder
			n := 0
			for _, r := range tileGrid(f.Bounds(), 128, 64) {
				p, err := f.AppendTile(nil, r, ts)
				if err != nil {
					t.Fatal(err)
				}
				n += len(p)
				if err := d.DecodeTile(out, r, ts, f.Subsampling(), p); err != nil {
					t.Fatal(err)
				}
			}
			return out, n
		}
		t.Run(c.name+": scale 100 keeping all 64 changes nothing", func(t *testing.T) {
			var f, g CoefFrame
			if err := f.Decode(frame); err != nil {
				t.Fatal(err)
			}
			if err := g.Decode(frame); err != nil {
				t.Fatal(err)
			}
			if q, err := g.Requantize(100, 64); err != nil || q != f.Quant() {
				t.Error("tables changed")
			}
			if !equalCoefs(&f, &g) {
				t.Error("coefficients changed")
			}
		})
		var lastBytes int
		var lastPSNR float64
		for i, tc := range []struct{ scale, keep int }{{100, 64}, {200, 64}, {300, 28}, {500, 15}} {
			t.Run(fmt.Sprintf("%s: steps times %d%% keeping %d coefficients cost fewer bytes and a bounded loss", c.name, tc.scale, tc.keep), func(t *testing.T) {
				var f, g CoefFrame
				if err := f.Decode(frame); err != nil {
					t.Fatal(err)
				}
				if err := g.Decode(frame); err != nil {
					t.Fatal(err)
				}
				ref, _ := decodeAll(t, &f)
				q, err := g.Requantize(tc.scale, tc.keep)
				if err != nil {
					t.Fatal(err)
				}
				if q != g.Quant() {
					t.Fatal("Requantize returned other tables than the frame now has")
				}
				for comp := range q {
					for k := range q[comp] {
						if q[comp][k] < f.Quant()[comp][k] {
							t.Fatalf("step %d of table %d got finer", k, comp)
						}
					}
				}
				got, n := decodeAll(t, &g)
				p := psnr(got, ref)
				t.Logf("scale %d keep %d: %d bytes, PSNR %.1f dB against the camera's frame", tc.scale, tc.keep, n, p)
				if i > 0 && (n >= lastBytes || p > lastPSNR) {
					t.Errorf("%d bytes at %.1f dB after %d bytes at %.1f dB", n, p, lastBytes, lastPSNR)
				}
				if p < 30 {
					t.Errorf("PSNR %.1f dB", p)
				}
				lastBytes, lastPSNR = n, p
			})
		}
	}
}
