package udp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsg makes the system call trap, unix.SYS_SENDMMSG or unix.SYS_RECVMMSG, on
// socket fd for the n messages at hdrs, with flags (which include MSG_DONTWAIT).
// It returns the messages sent or received and the errno.
//
// It is a raw system call, outside the Go scheduler's system call accounting,
// because it cannot block: MSG_DONTWAIT on a non-blocking socket turns a full or
// empty socket buffer into EAGAIN, and the caller's syscall.RawConn then waits in
// the netpoller. Through syscall.Syscall every call told the runtime it might
// block: the first after the process had been idle woke the runtime's monitor
// thread (sysmon) from its long sleep and restarted its 20 µs polling for the
// next millisecond or more. At 30 fps that was about 60 wake-ups a frame on each
// end, half the receiver's context switches and ~1 ms of CPU a 1080p frame over
// both ends on a 2-core VM (docs/BENCHMARKS.md, "The runtime's monitor thread").
func mmsg(trap uintptr, fd uintptr, hdrs []unix.Mmsghdr, flags int) (int, unix.Errno) {
	if len(hdrs) == 0 {
		return 0, 0
	}
	n, _, errno := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), uintptr(flags), 0, 0)
	return int(n), errno
}
