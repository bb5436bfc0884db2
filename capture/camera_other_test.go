//go:build !(linux && cgo)

package capture

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestCameraNeedsCgo(t *testing.T) {
	if _, err := Open(context.Background(), "/dev/video0", Options{}); !errors.Is(err, errCameraNeedsCgo) {
		t.Fatalf("Open: got %v", err)
	}
	if err := ListDevices(&bytes.Buffer{}); err == nil || err.Error() != "camera capture needs a cgo build on Linux" {
		t.Fatalf("ListDevices: got %v", err)
	}
}
