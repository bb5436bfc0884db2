package impair

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/testrig"
)

// parse reads a bench-impair command line as hrvs-lab does: Flags, then Check.
func parse(args []string) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("bench-impair", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return c, c.Check()
}

func TestFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		ok   bool
		want func(c Config) bool
	}{
		{"no flags give 1080p30 of both clips and every scenario", nil, true, func(c Config) bool {
			return c.Width == 1920 && c.Height == 1080 && c.FPS == 30 && len(c.Clips) == 2 && len(c.Scenarios) == 0
		}},
		{"scenario keys and clips are split on commas", []string{"--scenarios", "loss5, cap5", "--clips", "static"}, true, func(c Config) bool {
			return len(c.Scenarios) == 2 && c.Scenarios[1] == "cap5" && c.Clips[0] == "static"
		}},
		{"a max bitrate takes tc units", []string{"--max-bitrate", "20mbit"}, true, func(c Config) bool { return c.MaxBitrate == 20e6 }},
		{"a size is read once into width and height", []string{"--size", "640x360"}, true, func(c Config) bool { return c.Width == 640 && c.Height == 360 }},
		{"an unknown scenario is refused", []string{"--scenarios", "loss7"}, false, nil},
		{"an unknown clip is refused", []string{"--clips", "movie"}, false, nil},
		{"a size without an x is refused", []string{"--size", "1920"}, false, nil},
		{"a size above 8K UHD is refused", []string{"--size", "7696x4320"}, false, nil},
		{"a rate of NaN is refused", []string{"--fps", "NaN"}, false, nil},
		{"more parity than the code holds is refused", []string{"--fec", "101"}, false, nil},
		{"a quality above 100 is refused", []string{"--quality", "101"}, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parse(c.args)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
			if err == nil && !c.want(cfg) {
				t.Fatalf("config %+v", cfg)
			}
		})
	}
}

// A short run through the whole path: the table has a row with frames shown and a
// PSNR that says the pictures were the source's.
func TestRunWritesATable(t *testing.T) {
	cfg := Config{Width: 320, Height: 192, FPS: 20, Duration: time.Second, Warmup: 300 * time.Millisecond,
		Clips: []string{"pattern"}, Scenarios: []string{"loss5"}}
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	if len(res) != 1 || !strings.Contains(out.String(), "| pattern | loss 5% |") {
		t.Fatalf("results %+v", res)
	}
	if r := res[0]; r.ShownFPS < 5 || r.PSNR < 25 {
		t.Fatalf("shown %.1f fps at %.1f dB", r.ShownFPS, r.PSNR)
	}
}

// The same through two network namespaces with the kernel's loss and rate cap: the
// rows say so, frames arrive, and the cap holds.
func TestRunInTheKernel(t *testing.T) {
	testrig.RequireNetns(t)
	cfg := Config{Width: 320, Height: 192, FPS: 20, Duration: time.Second, Warmup: 500 * time.Millisecond,
		Clips: []string{"pattern"}, Scenarios: []string{"loss5", "cap5", "jitter"}, Kernel: true}
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	if len(res) != 3 || !strings.Contains(out.String(), "| pattern | loss 5% (kernel) |") ||
		!strings.Contains(out.String(), "| pattern | jitter 20±10 ms + 1% reorder |") {
		t.Fatalf("rows: the kernel's must say so, the relay's (jitter) must not:\n%s", out.String())
	}
	for _, r := range res {
		if r.ShownFPS < 5 || r.PSNR < 25 {
			t.Errorf("%s: shown %.1f fps at %.1f dB", r.Scenario, r.ShownFPS, r.PSNR)
		}
	}
	if r := res[1]; r.Mbps > 5.5 {
		t.Errorf("%.1f Mbit/s sent through a 5 Mbit/s tbf", r.Mbps)
	}
}

func TestPhotoClipsAreDeterministic(t *testing.T) {
	for _, pan := range []bool{true, false} {
		c, err := newPhotoClip("x", DefaultPhoto, 320, 192, 30, pan)
		if err != nil {
			t.Fatal(err)
		}
		f, err := c.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		img := *f.Image
		img.Y = append([]uint8(nil), f.Image.Y...)
		c.Draw(&img, f.Seq)
		if !bytes.Equal(img.Y, f.Image.Y) {
			t.Fatalf("pan %v: Draw(seq) differs from the frame Next gave", pan)
		}
		next := *f.Image
		next.Y = append([]uint8(nil), f.Image.Y...)
		c.Draw(&next, f.Seq+1)
		if bytes.Equal(next.Y, f.Image.Y) {
			t.Fatalf("pan %v: consecutive frames are identical", pan)
		}
	}
}

func TestGStreamerSideBySide(t *testing.T) {
	cases := []struct {
		name     string
		imp      relay.Config
		min, max int
	}{
		{"a clean path decodes nearly every frame", relay.Config{}, 40, 45},
		{"10% loss leaves few frames intact", relay.Config{Loss: 0.10}, 0, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := GStreamerIntact(context.Background(), 640, 480, 30, 45, c.imp)
			if err != nil {
				t.Fatal(err)
			}
			if n < c.min || n > c.max {
				t.Fatalf("%d of 45 frames decoded, want %d..%d", n, c.min, c.max)
			}
		})
	}
}
