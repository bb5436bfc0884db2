package udp

import (
	"errors"
	"net/netip"
)

// SendPath is how a Writer hands datagrams to the kernel, fastest first. A Writer
// starts on the path it is given and steps down once if the kernel refuses it.
type SendPath uint8

const (
	// SendGSO sends each run of equal-size datagrams (the last may be shorter) as
	// one message that the kernel cuts by its UDP_SEGMENT size (Linux 4.18, udp(7)),
	// several runs in one sendmmsg(2).
	SendGSO SendPath = iota
	// SendMmsg sends one message per datagram, many in one sendmmsg(2).
	SendMmsg
	// SendPlain makes one write(2) per datagram: what any platform has.
	SendPlain
)

func (p SendPath) String() string {
	switch p {
	case SendGSO:
		return "gso"
	case SendMmsg:
		return "sendmmsg"
	case SendPlain:
		return "plain"
	}
	return "unknown"
}

// RecvPath is how a Reader takes datagrams from the kernel, fastest first.
type RecvPath uint8

const (
	// RecvGRO lets the kernel coalesce a flow's datagrams into one buffer with
	// UDP_GRO (Linux 5.0, udp(7)), split here by the segment size it reports; many
	// buffers in one recvmmsg(2).
	RecvGRO RecvPath = iota
	// RecvMmsg takes one datagram per message, many in one recvmmsg(2).
	RecvMmsg
	// RecvPlain makes one read per datagram.
	RecvPlain
)

func (p RecvPath) String() string {
	switch p {
	case RecvGRO:
		return "gro"
	case RecvMmsg:
		return "recvmmsg"
	case RecvPlain:
		return "plain"
	}
	return "unknown"
}

// Kernel limits on one GSO message (include/linux/udp.h, net/ipv4/udp.c): at most
// UDP_MAX_SEGMENTS segments, and the whole message must fit one IP datagram's
// length field with the IPv6 and UDP headers.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65535 - 40 - 8
)

// MaxBatchBytes is the most datagram bytes a caller should hand one Write when it
// wants one system call: a single GSO message's limit.
const MaxBatchBytes = gsoMaxBytes

// slotBytes is a receive slot large enough for any UDP datagram, or for a GRO
// buffer of coalesced ones (the kernel caps those at 64 KB too).
const slotBytes = 1 << 16

// firstSlot is the mmsg path's slot size until a longer datagram is seen: a
// datagram of the default 1400-byte MTU fits with room to spare.
const firstSlot = 2048

// Msg is one datagram a Reader read: buf[Off:Off+Len] of the buffer given to Read,
// from From. Trunc says the datagram was longer than its slot and Len bytes are
// only its start; the Reader's next slots are large enough for it.
type Msg struct {
	Off, Len int
	From     netip.AddrPort
	Trunc    bool
}

// ErrShortBuffer is returned by Read when the buffer cannot hold one slot.
var ErrShortBuffer = errors.New("udp: read buffer shorter than Reader.MinBuf")

// checkBatch is the batch size both ends accept.
func checkBatch(n int) error {
	if n < 1 || n > 1024 {
		return errors.New("udp batch size: want 1..1024 datagrams")
	}
	return nil
}
