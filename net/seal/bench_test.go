package seal

import (
	"bytes"
	"testing"
)

// BenchmarkSeal and BenchmarkOpen measure one 1400-byte datagram (a full tile datagram)
// for each suite, to choose PreferredSuite per platform.
func BenchmarkSeal(b *testing.B) {
	for _, s := range []Suite{ChaCha20Poly1305, AES256GCM} {
		b.Run(s.String(), func(b *testing.B) {
			tx, _ := NewSealer(s, make([]byte, 32))
			payload := make([]byte, 1400-37-Overhead)
			buf := make([]byte, 0, 1500)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = tx.Seal(buf[:0], header, payload)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, s := range []Suite{ChaCha20Poly1305, AES256GCM} {
		b.Run(s.String(), func(b *testing.B) {
			tx, _ := NewSealer(s, make([]byte, 32))
			payload := bytes.Repeat([]byte{7}, 1400-37-Overhead)
			const n = 4096
			ds := make([][]byte, n)
			for i := range ds {
				ds[i], _ = tx.Seal(nil, header, payload)
			}
			out := make([]byte, 0, 1500)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			rx, _ := NewOpener(s, make([]byte, 32))
			i := 0
			for b.Loop() {
				if i == n {
					b.StopTimer()
					rx, _ = NewOpener(s, make([]byte, 32))
					i = 0
					b.StartTimer()
				}
				if _, _, err := rx.Open(out[:0], ds[i], len(header)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
