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
			videoProbe{"h264", 1920, 1080, "yuv420p", 30}, ""},
		{"the average rate wins over the base rate", "width=640\nheight=480\nr_frame_rate=90000/1\navg_frame_rate=30000/1001\n",
			videoProbe{"", 640, 480, "", 30000.0 / 1001}, ""},
		{"no average falls back to the base rate", "width=640\nheight=480\nr_frame_rate=25/1\navg_frame_rate=0/0\n",
			videoProbe{"", 640, 480, "", 25}, ""},
		{"no rate at all plays at 25", "width=640\nheight=480\nr_frame_rate=0/0\navg_frame_rate=0/0\n",
			videoProbe{"", 640, 480, "", 25}, ""},
		{"a portrait phone video is turned upright", "width=1920\nheight=1080\navg_frame_rate=30/1\nrotation=-90\n",
			videoProbe{"", 1080, 1920, "", 30}, ""},
		{"the old rotate tag counts too", "width=1920\nheight=1080\navg_frame_rate=30/1\nTAG:rotate=270\n",
			videoProbe{"", 1080, 1920, "", 30}, ""},
		{"upside down keeps its size", "width=1920\nheight=1080\navg_frame_rate=30/1\nrotation=180\n",
			videoProbe{"", 1920, 1080, "", 30}, ""},
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

func TestLastLine(t *testing.T) {
	in := "[matroska,webm @ 0x55d0c2a4b900] Something\n[matroska,webm @ 0x55d0c2a4b900] File ended prematurely\n\n"
	if got := lastLine(in); got != "File ended prematurely" {
		t.Fatalf("got %q", got)
	}
}
