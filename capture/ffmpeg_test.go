package capture

import (
	"image"
	"strings"
	"testing"
)

func TestParseProbe(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      videoProbe
		err       string
	}{
		{"a plain stream", "codec_name=h264\nwidth=1920\nheight=1080\npix_fmt=yuv420p\nr_frame_rate=30/1\navg_frame_rate=30/1\n",
			videoProbe{Codec: "h264", Width: 1920, Height: 1080, PixFmt: "yuv420p", FPS: 30}, ""},
		{"the average rate wins over the base rate", "width=640\nheight=480\nr_frame_rate=90000/1\navg_frame_rate=30000/1001\n",
			videoProbe{Width: 640, Height: 480, FPS: 30000.0 / 1001}, ""},
		{"no average falls back to the base rate", "width=640\nheight=480\nr_frame_rate=25/1\navg_frame_rate=0/0\n",
			videoProbe{Width: 640, Height: 480, FPS: 25}, ""},
		{"no rate at all plays at 25", "width=640\nheight=480\nr_frame_rate=0/0\navg_frame_rate=0/0\n",
			videoProbe{Width: 640, Height: 480, FPS: 25}, ""},
		{"a portrait phone video is turned upright", "width=1920\nheight=1080\navg_frame_rate=30/1\nrotation=-90\n",
			videoProbe{Width: 1080, Height: 1920, FPS: 30}, ""},
		{"the old rotate tag counts too", "width=1920\nheight=1080\navg_frame_rate=30/1\nTAG:rotate=270\n",
			videoProbe{Width: 1080, Height: 1920, FPS: 30}, ""},
		{"upside down keeps its size", "width=1920\nheight=1080\navg_frame_rate=30/1\nrotation=180\n",
			videoProbe{Width: 1920, Height: 1080, FPS: 30}, ""},
		{"the colour tags are kept", "width=64\nheight=48\npix_fmt=yuv420p\ncolor_range=pc\ncolor_space=bt709\navg_frame_rate=25/1\n",
			videoProbe{Width: 64, Height: 48, PixFmt: "yuv420p", FPS: 25, ColorRange: "pc", ColorSpace: "bt709"}, ""},
		{"no video stream", "", videoProbe{}, "no video stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProbe([]byte(tc.out))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestOutPixFmt(t *testing.T) {
	for in, want := range map[string]string{
		"yuv420p": "yuv420p", "yuvj420p": "yuvj420p", "yuv422p": "yuv422p", "yuvj422p": "yuvj422p",
		"yuv422p10le": "yuv422p", "yuv444p": "yuv420p", "gray": "yuv420p", "nv12": "yuv420p", "rgb24": "yuv420p",
	} {
		got, sub := videoProbe{PixFmt: in}.outPixFmt()
		wantSub := image.YCbCrSubsampleRatio420
		if strings.Contains(want, "422") {
			wantSub = image.YCbCrSubsampleRatio422
		}
		if got != want || sub != wantSub {
			t.Errorf("%s: got %s %v, want %s", in, got, sub, want)
		}
	}
}

func TestProbeColour(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    videoProbe
		want Colour
		fmt  string
	}{
		{"untagged video is limited range BT.601", videoProbe{PixFmt: "yuv420p", ColorRange: "unknown", ColorSpace: "unknown"},
			Colour{Range: RangeLimited}, "yuv420p"},
		{"a yuvj format is full range", videoProbe{PixFmt: "yuvj422p"}, Colour{}, "yuvj422p"},
		{"a stream tagged pc is full range and delivered as yuvj", videoProbe{PixFmt: "yuv420p", ColorRange: "pc"}, Colour{}, "yuvj420p"},
		{"a stream tagged bt709 keeps its matrix", videoProbe{PixFmt: "yuv420p10le", ColorRange: "tv", ColorSpace: "bt709"},
			Colour{Range: RangeLimited, Matrix: MatrixBT709}, "yuv420p"},
		{"BT.2020 is known", videoProbe{PixFmt: "yuv420p10le", ColorSpace: "bt2020nc"},
			Colour{Range: RangeLimited, Matrix: MatrixBT2020}, "yuv420p"},
		{"SMPTE 170M is BT.601", videoProbe{PixFmt: "yuv420p", ColorSpace: "smpte170m"}, Colour{Range: RangeLimited}, "yuv420p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.colour(); got != tc.want {
				t.Fatalf("colour %v, want %v", got, tc.want)
			}
			if got, _ := tc.p.outPixFmt(); got != tc.fmt {
				t.Fatalf("delivered as %s, want %s", got, tc.fmt)
			}
		})
	}
}

func TestLastLine(t *testing.T) {
	in := "[matroska,webm @ 0x55d0c2a4b900] Something\n[matroska,webm @ 0x55d0c2a4b900] File ended prematurely\n\n"
	if got := lastLine(in); got != "File ended prematurely" {
		t.Fatalf("got %q", got)
	}
}
