package rtpjpeg

import (
	"bytes"
	"encoding/binary"
	"image"
	"testing"
)

// FuzzDepacketize feeds the depacketiser packets cut from the input (each prefixed
// by a 2-byte length): it must never panic, and whatever it returns must be a JPEG
// file it built (SOI first, EOI last).
func FuzzDepacketize(f *testing.F) {
	file, _ := encode(f, 48, 32, image.YCbCrSubsampleRatio420, 75)
	p := Packetizer{MTU: 200}
	var seed []byte
	p.Packetize(file, 1, func(b []byte) error {
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(b)))
		seed = append(seed, b...)
		return nil
	})
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte{0, 12, 0x80, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := Depacketizer{MaxBytes: 1 << 16}
		for len(in) >= 2 {
			n := min(int(binary.BigEndian.Uint16(in)), len(in)-2)
			out, err := d.Push(in[2 : 2+n])
			in = in[2+n:]
			if err != nil && out != nil {
				t.Fatal("a frame returned with an error")
			}
			if out != nil && (!bytes.HasPrefix(out, []byte{0xff, markerSOI}) || !bytes.HasSuffix(out, []byte{0xff, markerEOI})) {
				t.Fatalf("frame % x... is not a JPEG file", out[:min(len(out), 8)])
			}
		}
	})
}

// FuzzPacketize feeds the packetiser's JPEG parser arbitrary files: it must never
// panic, and a file it accepts must come back whole through the depacketiser.
func FuzzPacketize(f *testing.F) {
	for _, sub := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
		file, _ := encode(f, 40, 24, sub, 60)
		f.Add(file)
	}
	f.Add([]byte{0xff, markerSOI, 0xff, markerSOS, 0, 2})
	f.Fuzz(func(t *testing.T, file []byte) {
		p := Packetizer{MTU: minMTU}
		var d Depacketizer
		var out []byte
		_, err := p.Packetize(file, 9, func(b []byte) error {
			o, err := d.Push(b)
			if o != nil {
				out = append([]byte(nil), o...)
			}
			return err
		})
		if err != nil {
			return
		}
		fr, _ := parseJPEG(file)
		if out == nil || !bytes.HasSuffix(out, append(append([]byte(nil), fr.scan...), 0xff, markerEOI)) {
			t.Fatalf("accepted file did not come back whole")
		}
	})
}
