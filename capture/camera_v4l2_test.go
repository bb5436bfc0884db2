//go:build linux && cgo

package capture

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// These run on machines without a camera: they check the messages a user sees.

func TestOpenMissingCamera(t *testing.T) {
	_, err := Open(context.Background(), "/dev/video99", Options{})
	if err == nil {
		t.Fatal("opened /dev/video99")
	}
	want := "camera /dev/video99: no such device (is it plugged in? hrvs devices lists cameras)"
	if err.Error() != want {
		t.Fatalf("got %q\nwant %q", err, want)
	}
}

func TestOpenNonCamera(t *testing.T) {
	// /dev/null is a character device but no V4L2 node.
	if _, err := openV4L2("/dev/null", camRequest{"auto", 640, 480, 30, nil}, nil); err == nil || !strings.Contains(err.Error(), "not a V4L2 device") {
		t.Fatalf("got %v", err)
	}
}

func TestListDevices(t *testing.T) {
	var b bytes.Buffer
	if err := ListDevices(&b); err != nil {
		t.Fatal(err)
	}
	nodes, _ := filepath.Glob("/dev/video*")
	if len(nodes) == 0 {
		if b.String() != "no V4L2 video devices found (no /dev/video* nodes)\n" {
			t.Fatalf("got %q", b.String())
		}
		return
	}
	for _, n := range nodes {
		if !strings.Contains(b.String(), n) {
			t.Fatalf("%s missing from\n%s", n, b.String())
		}
	}
}

func TestFourCC(t *testing.T) {
	for _, s := range []string{"MJPG", "YUYV", "H264"} {
		if got := fourccName(fourccCode(s)); got != s {
			t.Fatalf("%s round-trips to %s", s, got)
		}
	}
}
