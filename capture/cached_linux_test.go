package capture

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// cachedFile writes n random bytes to a new file and opens it for reading.
func cachedFile(t *testing.T, n int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "frames")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

// readIn reads r to its end in chunks of the given sizes, in turn.
func readIn(t *testing.T, r io.Reader, sizes ...int) []byte {
	t.Helper()
	var got []byte
	for i := 0; ; i++ {
		buf := make([]byte, sizes[i%len(sizes)])
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		if i > 10000 {
			t.Fatalf("no end after %d reads", i)
		}
	}
}

func TestCachedReaderReadsAsTheFileDoes(t *testing.T) {
	t.Run("every byte in order, then io.EOF, whatever the read sizes", func(t *testing.T) {
		f, data := cachedFile(t, 3<<20+77)
		r := newCachedReader(f)
		if _, ok := r.(*cachedReader); !ok {
			t.Fatalf("a regular file is read by %T, want *cachedReader", r)
		}
		if got := readIn(t, r, 7, 4096, 1<<20, 100_001); !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes unlike the file's %d", len(got), len(data))
		}
	})
	t.Run("from the file's offset, which it moves, so a seek rewinds it", func(t *testing.T) {
		f, data := cachedFile(t, 100_000)
		r := newCachedReader(f)
		head := make([]byte, 1000)
		if _, err := io.ReadFull(r, head); err != nil {
			t.Fatal(err)
		}
		if off, _ := f.Seek(0, io.SeekCurrent); off != 1000 {
			t.Fatalf("file offset %d after reading 1000 bytes", off)
		}
		if _, err := f.Seek(123, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if got := readIn(t, r, 65536); !bytes.Equal(got, data[123:]) {
			t.Fatalf("after a seek to 123: %d bytes unlike the file's", len(got))
		}
	})
	t.Run("pages not in the page cache are read from the disk", func(t *testing.T) {
		f, data := cachedFile(t, 1<<20)
		// Written back, then dropped from the cache: RWF_NOWAIT must find them missing.
		w, err := os.OpenFile(f.Name(), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fadvise(int(w.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
		r := newCachedReader(f).(*cachedReader)
		if got := readIn(t, r, 256<<10); !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes unlike the file's %d", len(got), len(data))
		}
		if r.fromDisk == 0 {
			t.Fatal("every read found its pages cached right after they were dropped: the disk path went untested")
		}
	})
	t.Run("a closed file is an error, not a read", func(t *testing.T) {
		f, _ := cachedFile(t, 10)
		r := newCachedReader(f)
		f.Close()
		if n, err := r.Read(make([]byte, 4)); err == nil || n != 0 {
			t.Fatalf("read of a closed file: %d bytes, %v", n, err)
		}
	})
}
