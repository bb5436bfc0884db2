package capture

import (
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cachedReader reads a regular file from the page cache without a system call
// the Go scheduler sees: preadv2(2) with RWF_NOWAIT (Linux 4.14), which returns
// at once with what is cached and EAGAIN when nothing is, made as a raw system
// call. What is not cached is read by f.Read, which may wait for the disk.
//
// Why: a file source reads a 1080p frame (3 MB) in a few system calls while the
// encoders are busy. Through os.File.Read each call tells the runtime it might
// block, so its monitor thread (sysmon) takes the reader's P and restarts its 20
// µs polling for the next millisecond or more: ~10 wake-ups a frame at 30 fps,
// each taking a core from an encoder on a 2-core machine (docs/BENCHMARKS.md,
// "The runtime's monitor thread"). A file played at its frame rate is read
// ahead by the kernel and so is nearly always cached.
type cachedReader struct {
	f   *os.File
	raw syscall.RawConn
	// blocking is set when the kernel or file system refuses RWF_NOWAIT
	// (EOPNOTSUPP, ENOSYS, EINVAL): every read is then f.Read.
	blocking bool
	fromDisk int // reads that found nothing cached and waited in f.Read
}

// newCachedReader reads f through the page cache; f.Read where f has no raw
// connection.
func newCachedReader(f *os.File) io.Reader {
	raw, err := f.SyscallConn()
	if err != nil {
		return f
	}
	return &cachedReader{f: f, raw: raw}
}

// Read reads up to len(p) bytes at the file's offset, and moves the offset past
// them, as f.Read does; it returns io.EOF at the end of the file.
func (r *cachedReader) Read(p []byte) (int, error) {
	if r.blocking || len(p) == 0 {
		return r.f.Read(p)
	}
	var n int
	var errno syscall.Errno
	err := r.raw.Read(func(fd uintptr) bool {
		for {
			n, errno = preadNowait(fd, p)
			if errno != unix.EINTR { // a signal (the runtime's preemption) cut it short
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno == 0 && n == 0:
		return 0, io.EOF
	case errno == 0:
		return n, nil
	case errno == unix.EAGAIN: // not cached: from the disk, waiting as a system call should
		r.fromDisk++
		return r.f.Read(p)
	case errno == unix.EOPNOTSUPP || errno == unix.ENOSYS || errno == unix.EINVAL:
		r.blocking = true
		return r.f.Read(p)
	}
	return 0, &os.PathError{Op: "read", Path: r.f.Name(), Err: errno}
}

// preadNowait is preadv2(fd, [p], 1, -1, RWF_NOWAIT): one buffer, at and moving
// the file's offset (-1), nothing that would wait. It is a raw system call: it
// cannot block.
func preadNowait(fd uintptr, p []byte) (int, syscall.Errno) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	// The offset -1 as the kernel's low and high halves (pos_from_hilo): all ones
	// in both, on 32-bit and 64-bit machines alike.
	n, _, errno := unix.RawSyscall6(unix.SYS_PREADV2, fd, uintptr(unsafe.Pointer(&iov)), 1, ^uintptr(0), ^uintptr(0), unix.RWF_NOWAIT)
	return int(n), errno
}
