//go:build linux

package main

import (
	"bytes"
	"image/jpeg"
	"testing"
)

func TestWithoutDHT(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Bars(64, 16), nil); err != nil {
		t.Fatal(err)
	}
	full := b.Bytes()
	stripped := withoutDHT(full)
	sos := bytes.Index(stripped, []byte{0xff, 0xda})
	if sos < 0 || bytes.Contains(stripped[:sos], []byte{0xff, 0xc4}) {
		t.Fatalf("tables left before the scan, or the scan lost: SOS at %d", sos)
	}
	fullSOS := bytes.Index(full, []byte{0xff, 0xda})
	if !bytes.Equal(stripped[sos:], full[fullSOS:]) {
		t.Fatal("the scan data changed")
	}
	if len(full)-len(stripped) < 400 { // four tables: 2 DC of 33 bytes, 2 AC of 183, with headers
		t.Fatalf("only %d bytes removed", len(full)-len(stripped))
	}
}
