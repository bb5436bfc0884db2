package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hrvs/hrvs/internal/testrig"
)

// cachedFile writes n random bytes to a new file and opens it for reading.
func cachedFile(t *testing.T, n int) (*os.File, []byte) {
	t.Helper()
	return cachedFileIn(t, t.TempDir(), n)
}

// cachedFileIn is cachedFile in directory dir.
func cachedFileIn(t *testing.T, dir string, n int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(dir, "frames")
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
		f, data := cachedFileIn(t, diskDir(t), 1<<20)
		// Written back, then dropped from the cache: RWF_NOWAIT should find them
		// missing. It may not: it starts the readahead, and a read preempted
		// until that has landed (a busy machine, a fast disk) finds the pages
		// after all. So: up to 20 tries, each read whole and compared.
		for try := 1; ; try++ {
			evict(t, f.Name(), len(data))
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			r := newCachedReader(f).(*cachedReader)
			if got := readIn(t, r, 256<<10); !bytes.Equal(got, data) {
				t.Fatalf("try %d: read %d bytes unlike the file's %d", try, len(got), len(data))
			}
			if r.fromDisk > 0 {
				break
			}
			if try == 20 {
				t.Fatal("20 times every read found its pages cached right after they were dropped: the disk path went untested")
			}
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

// diskDir returns a directory for the test's files on a file system whose
// page cache can be dropped: t.TempDir() unless it is in memory (tmpfs or
// ramfs, as /tmp is on many machines and in build.sh's fresh root, where the
// pages are the file and FADV_DONTNEED keeps them), else a temporary
// directory beside the package's sources.
func diskDir(t *testing.T) string {
	t.Helper()
	inMemory := func(dir string) bool {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
	}
	if dir := t.TempDir(); !inMemory(dir) {
		return dir
	}
	dir, err := os.MkdirTemp(".", ".cachedtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if inMemory(dir) {
		t.Fatal("neither the temporary directory nor the package's is on a disk: no page cache to drop")
	}
	return dir
}

// evict writes path's n bytes back and drops them from the page cache,
// until mincore(2) finds none of its pages resident: a page can escape one
// FADV_DONTNEED (isolated from its LRU list for a moment by a busy kernel),
// and this test must start with none.
func evict(t *testing.T, path string, n int) {
	t.Helper()
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// A mapping only to ask mincore: it is never touched, so it faults nothing in.
	mem, err := unix.Mmap(int(w.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	vec := make([]byte, (n+os.Getpagesize()-1)/os.Getpagesize())
	testrig.Eventually(t, testrig.Patience, func() error {
		if err := w.Sync(); err != nil {
			return err
		}
		if err := unix.Fadvise(int(w.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return err
		}
		// x/sys/unix has no wrapper for mincore.
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			return fmt.Errorf("mincore: %w", e)
		}
		resident := 0
		for _, v := range vec {
			resident += int(v & 1)
		}
		if resident > 0 {
			return fmt.Errorf("%d of %d pages still cached after FADV_DONTNEED", resident, len(vec))
		}
		return nil
	})
}
