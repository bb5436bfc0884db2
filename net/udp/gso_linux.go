package udp

import (
	"errors"
	"fmt"
	"math"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmsgBytes is the control buffer of one message: room for one UDP_SEGMENT or
// UDP_GRO value with its header, aligned.
var cmsgBytes = unix.CmsgSpace(4)

// readCmsgBytes is a received message's control buffer: room for a UDP_GRO
// segment size and an SO_RXQ_OVFL drop count, each a 4-byte value with its header.
var readCmsgBytes = 2 * unix.CmsgSpace(4)

// Writer sends datagrams to a connected UDP socket's peer, many per system call:
// by GSO runs in sendmmsg(2) (SendGSO), one message per datagram in sendmmsg(2)
// (SendMmsg), or one write(2) per datagram (SendPlain). Like quic-go's
// sys_conn_oob.go it asks the kernel once whether GSO is there and steps down to
// sendmmsg, for good, the first time the kernel refuses a GSO message (a device
// without checksum offload says EIO; a socket without UDP checksums says EINVAL).
//
// It goes through the socket's syscall.RawConn, so a full socket buffer parks the
// goroutine in Go's netpoller and closing the socket ends a waiting Write. The hot
// path allocates nothing: headers, iovecs and control buffers are made once.
//
// A Writer is not safe for concurrent use; use one per goroutine.
type Writer struct {
	c      *net.UDPConn
	raw    syscall.RawConn
	path   SendPath
	refuse error // why GSO was given up, once it was

	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	oob    []byte
	counts []int // datagrams in each message of the call being made

	// What the pre-bound callback works on; set before each RawConn call.
	msgs, done int
	err        error
	writeFn    func(fd uintptr) bool // made once: a closure per call would escape to the heap
}

// NewWriter prepares sends of up to n datagrams a system call on c, which must be
// connected, by path or the fastest path below it that the kernel has.
func NewWriter(c *net.UDPConn, path SendPath, n int) (*Writer, error) {
	if err := checkBatch(n); err != nil {
		return nil, err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp writer: %w", err)
	}
	w := &Writer{c: c, raw: raw, path: path, hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n),
		oob: make([]byte, n*cmsgBytes), counts: make([]int, n)}
	w.writeFn = w.send
	if path == SendGSO {
		if err := probeGSO(raw); err != nil {
			w.path, w.refuse = SendMmsg, err
		}
	}
	return w, nil
}

// probeGSO asks whether the socket takes UDP_SEGMENT: a kernel before 4.18 knows no
// such option (ENOPROTOOPT).
func probeGSO(raw syscall.RawConn) error {
	var serr error
	if err := raw.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("getsockopt UDP_SEGMENT: %w", serr)
	}
	return nil
}

// Path is the path the Writer uses now.
func (w *Writer) Path() SendPath { return w.path }

// Refused is why the Writer gave up GSO (at the probe or at a refused send), or
// nil. A caller logs it once.
func (w *Writer) Refused() error { return w.refuse }

// Max is the most datagrams one system call moves.
func (w *Writer) Max() int { return len(w.hdrs) }

// Write sends each of dgrams as one datagram, in order, and returns how many were
// sent: all of them unless err is set. It waits while the socket buffer is full.
// An empty datagram is sent as one, alone.
func (w *Writer) Write(dgrams [][]byte) (int, error) {
	sent := 0
	for sent < len(dgrams) {
		var n int
		var err error
		if w.path == SendPlain {
			n, err = w.writePlain(dgrams[sent:])
		} else {
			n, err = w.writeMsgs(dgrams[sent:])
		}
		sent += n
		switch {
		case err != nil && w.path == SendGSO && gsoRefusal(err):
			// What went, went; the rest go again, one message each.
			w.path, w.refuse = SendMmsg, err
		case err != nil && w.path == SendMmsg && mmsgMissing(err):
			w.path, w.refuse = SendPlain, err
		case err != nil:
			return sent, err
		case n == 0:
			return sent, errors.New("udp: the kernel took no datagram and reported no error")
		}
	}
	return sent, nil
}

// gsoRefusal tells the errors by which a kernel refuses GSO on this socket or
// device from other send errors.
func gsoRefusal(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) ||
		errors.Is(err, unix.ENOPROTOOPT)
}

// mmsgMissing tells that sendmmsg(2) or recvmmsg(2) is not there: a kernel before
// 3.0, or a sandbox that hides it, says ENOSYS. (Not EPERM: a firewall's drop on
// output says that too.)
func mmsgMissing(err error) bool { return errors.Is(err, unix.ENOSYS) }

func (w *Writer) writePlain(dgrams [][]byte) (int, error) {
	for i, d := range dgrams {
		if _, err := w.c.Write(d); err != nil {
			return i, err
		}
	}
	return len(dgrams), nil
}

// writeMsgs sends as many of dgrams as one sendmmsg(2) call's messages hold, and
// returns how many datagrams went.
func (w *Writer) writeMsgs(dgrams [][]byte) (int, error) {
	msgs, iov := 0, 0
	for i := 0; i < len(dgrams) && msgs < len(w.hdrs) && iov < len(w.iovs); msgs++ {
		j := i + 1
		size := len(dgrams[i])
		if w.path == SendGSO && size > 0 {
			// A run: datagrams of the first one's size, and one shorter (not empty) to
			// end it; the kernel cuts the message every size bytes.
			total := size
			for j < len(dgrams) && j-i < gsoMaxSegments && iov+j-i < len(w.iovs) {
				l := len(dgrams[j])
				if l == 0 || l > size || total+l > gsoMaxBytes {
					break
				}
				total += l
				j++
				if l < size {
					break
				}
			}
		}
		for k, d := range dgrams[i:j] {
			v := &w.iovs[iov+k]
			v.Base = nil
			if len(d) > 0 {
				v.Base = &d[0]
			}
			v.SetLen(len(d))
		}
		h := &w.hdrs[msgs].Hdr
		*h = unix.Msghdr{Iov: &w.iovs[iov]}
		h.SetIovlen(j - i)
		if j-i > 1 {
			oob := w.oob[msgs*cmsgBytes : (msgs+1)*cmsgBytes]
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
			cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			cm.SetLen(unix.CmsgLen(2))
			*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(size)
			h.Control = &oob[0]
			h.SetControllen(unix.CmsgSpace(2))
		}
		w.hdrs[msgs].Len = 0
		w.counts[msgs] = j - i
		iov += j - i
		i = j
	}
	w.msgs, w.done, w.err = msgs, 0, nil
	for w.done < w.msgs {
		start := w.done
		if err := w.raw.Write(w.writeFn); err != nil {
			return w.sentOf(w.done), fmt.Errorf("sendmmsg: %w", err)
		}
		if w.err != nil {
			return w.sentOf(w.done), fmt.Errorf("sendmmsg (%s): %w", w.path, w.err)
		}
		if w.done == start {
			break
		}
	}
	return w.sentOf(w.done), nil
}

// sentOf is the number of datagrams in the first msgs messages.
func (w *Writer) sentOf(msgs int) int {
	n := 0
	for _, c := range w.counts[:msgs] {
		n += c
	}
	return n
}

// send is the RawConn.Write callback: returning false asks the netpoller to wait
// until the socket is writable and call again.
func (w *Writer) send(fd uintptr) bool {
	hs := w.hdrs[w.done:w.msgs]
	n, errno := mmsg(unix.SYS_SENDMMSG, fd, hs, unix.MSG_DONTWAIT)
	switch errno {
	case 0:
		w.done += n
		return true
	case unix.EAGAIN, unix.EINTR:
		return false
	}
	w.err = errno
	return true
}

// Reader takes datagrams from a UDP socket into buffers the caller gives, many per
// system call, and says where each landed, so a caller can hand slices of one
// buffer onwards without copying them. Its paths: UDP_GRO buffers in
// recvmmsg(2) (RecvGRO), one datagram per message in recvmmsg(2) (RecvMmsg), or
// one read per datagram (RecvPlain). The hot path allocates nothing.
//
// A Reader is not safe for concurrent use; use one per goroutine.
type Reader struct {
	c      *net.UDPConn
	raw    syscall.RawConn
	path   RecvPath
	refuse error
	slot   int // the mmsg path's slot: grows to the longest datagram seen

	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	oob   []byte
	msgs  []Msg

	count, done int
	err         error
	readFn      func(fd uintptr) bool

	// The socket's drop counter (SO_RXQ_OVFL): the kernel's cumulative count of
	// datagrams it dropped for this socket (a full receive buffer, mostly), a
	// uint32 that wraps. drops extends it to 64 bits from the deltas between
	// the values seen; dropsOn says the kernel took the option.
	dropsOn  bool
	lastOvfl uint32
	drops    uint64
	// The kernel counts a dropped GRO buffer (or a sender's GSO message on
	// loopback) as one drop, however many datagrams it held: on the GRO path a
	// drop is scaled by the datagrams of the fullest buffer read lately, an
	// estimate that errs towards the receiver's own drops.
	perBuf float64
}

// NewReader prepares reads of up to n messages a system call on c by path, or the
// fastest path below it the kernel has. With RecvGRO it turns UDP_GRO on, so the
// socket must be read by this Reader alone.
func NewReader(c *net.UDPConn, path RecvPath, n int) (*Reader, error) {
	if err := checkBatch(n); err != nil {
		return nil, err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp reader: %w", err)
	}
	r := &Reader{c: c, raw: raw, path: path, slot: firstSlot, hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n), oob: make([]byte, n*readCmsgBytes)}
	r.readFn = r.recv
	r.perBuf = 1
	// SO_RXQ_OVFL (socket(7), since Linux 2.6.33) attaches the socket's drop
	// counter to every datagram read once it is not zero: what a receiver starved
	// of CPU lost in its own buffer, which the sender must not take for path loss.
	var oerr error
	if err := raw.Control(func(fd uintptr) {
		oerr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	}); err != nil {
		oerr = err
	}
	r.dropsOn = oerr == nil
	if path == RecvGRO {
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
		}); err != nil {
			serr = err
		}
		if serr != nil {
			r.path, r.refuse = RecvMmsg, fmt.Errorf("setsockopt UDP_GRO: %w", serr)
		}
	}
	// A GRO buffer holds at most gsoMaxSegments datagrams (the sender's GSO limit,
	// and GRO's own), so this many Msgs cover any call.
	r.msgs = make([]Msg, 0, n*gsoMaxSegments)
	return r, nil
}

// Path is the path the Reader uses.
func (r *Reader) Path() RecvPath { return r.path }

// Refused is why the Reader does not use GRO, or nil.
func (r *Reader) Refused() error { return r.refuse }

// Drops is the count of datagrams the kernel dropped for the socket since it was
// opened, as of the last datagram read (the kernel reports it only with a
// datagram: SO_RXQ_OVFL, socket(7)). ok is false when the count is unknown: the
// kernel refused the option. On the GRO path the kernel counts buffers, not
// datagrams, so the count is estimated from the datagrams per buffer read.
func (r *Reader) Drops() (n uint64, ok bool) { return r.drops, r.dropsOn }

// noteDrops takes a drop counter the kernel sent with a datagram.
func (r *Reader) noteDrops(v uint32) {
	d := v - r.lastOvfl // modulo 2^32: the counter wraps
	r.lastOvfl = v
	if r.perBuf > 1 {
		r.drops += uint64(math.Round(float64(d) * r.perBuf))
		return
	}
	r.drops += uint64(d)
}

// MinBuf is the shortest buffer Read takes: one slot.
func (r *Reader) MinBuf() int {
	if r.path == RecvMmsg {
		return r.slot
	}
	return slotBytes
}

// Read waits for at least one datagram, then takes as many as are queued and fit
// buf. It returns where each landed (valid until the next Read) and used, the
// bytes of buf from its start to the end of the last one: a caller may read again
// into buf[used:]. A datagram longer than its slot is returned cut, with Trunc.
func (r *Reader) Read(buf []byte) (msgs []Msg, used int, err error) {
	if len(buf) < r.MinBuf() {
		return nil, 0, ErrShortBuffer
	}
	r.msgs = r.msgs[:0]
	if r.path == RecvPlain {
		n, oobn, _, from, err := r.c.ReadMsgUDPAddrPort(buf[:slotBytes], r.oob[:readCmsgBytes])
		if err != nil {
			return nil, 0, err
		}
		if _, ovfl, ok := readCmsgs(r.oob, oobn); ok {
			r.noteDrops(ovfl)
		}
		r.msgs = append(r.msgs, Msg{Len: n, From: from})
		return r.msgs, n, nil
	}
	size := r.MinBuf()
	k := min(len(buf)/size, len(r.hdrs))
	for i := 0; i < k; i++ {
		v := &r.iovs[i]
		v.Base = &buf[i*size]
		v.SetLen(size)
		h := &r.hdrs[i].Hdr
		*h = unix.Msghdr{Iov: v, Name: (*byte)(unsafe.Pointer(&r.names[i])), Namelen: uint32(unsafe.Sizeof(r.names[i]))}
		h.SetIovlen(1)
		h.Control = &r.oob[i*readCmsgBytes]
		h.SetControllen(readCmsgBytes)
		r.hdrs[i].Len = 0
	}
	r.count, r.done, r.err = k, 0, nil
	if err := r.raw.Read(r.readFn); err != nil {
		return nil, 0, fmt.Errorf("recvmmsg: %w", err)
	}
	if r.err != nil {
		err := fmt.Errorf("recvmmsg (%s): %w", r.path, r.err)
		if mmsgMissing(r.err) {
			r.path, r.refuse = RecvPlain, err // the caller's next Read is plain
		}
		return nil, 0, err
	}
	var ovfl uint32 // the newest drop counter of the batch
	haveOvfl := false
	biggest := 0 // the most datagrams in one of the batch's buffers
	for i := 0; i < r.done; i++ {
		h := &r.hdrs[i]
		n, trunc := int(h.Len), h.Hdr.Flags&unix.MSG_TRUNC != 0 || int(h.Len) > size
		if trunc {
			if r.path == RecvMmsg && n > r.slot {
				r.slot = min(slotBytes, (n+firstSlot-1)/firstSlot*firstSlot) // the next reads take it whole
			}
			n = min(n, size)
		}
		from := sockaddrToAddrPort(&r.names[i], h.Hdr.Namelen)
		seg := n
		g, v, ok := readCmsgs(r.oob[i*readCmsgBytes:(i+1)*readCmsgBytes], int(h.Hdr.Controllen))
		if ok {
			ovfl, haveOvfl = v, true
		}
		if r.path == RecvGRO && g > 0 && !trunc {
			seg = g
		}
		k := len(r.msgs)
		for off := 0; off < n || (n == 0 && off == 0); off += max(seg, 1) {
			r.msgs = append(r.msgs, Msg{Off: i*size + off, Len: min(seg, n-off), From: from, Trunc: trunc})
		}
		biggest = max(biggest, len(r.msgs)-k)
		used = i*size + n
	}
	if r.path == RecvGRO && biggest > 0 {
		// The fullest buffer lately, decaying: a full buffer is the likelier to
		// find no room (a socket drops a buffer whole when it does not fit), so
		// the buffers dropped hold more datagrams than the average one read.
		r.perBuf = max(float64(biggest), 1+0.98*(r.perBuf-1))
	}
	if haveOvfl {
		r.noteDrops(ovfl)
	}
	return r.msgs, used, nil
}

// readCmsgs reads a message's control messages: gro is the segment size of a
// UDP_GRO one, or 0 when the kernel coalesced nothing and sent none; ovfl is the
// socket's drop counter of an SO_RXQ_OVFL one, when haveOvfl.
func readCmsgs(oob []byte, n int) (gro int, ovfl uint32, haveOvfl bool) {
	n = min(n, len(oob))
	for off := 0; off+unix.CmsgLen(0) <= n; {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
		l := int(cm.Len)
		if l < unix.CmsgLen(0) || l > n-off { // not off+l > n: a forged length near MaxInt overflows it
			return gro, ovfl, haveOvfl
		}
		switch {
		case cm.Level == unix.SOL_UDP && cm.Type == unix.UDP_GRO && l >= unix.CmsgLen(4):
			gro = int(*(*int32)(unsafe.Pointer(&oob[off+unix.CmsgLen(0)])))
		case cm.Level == unix.SOL_SOCKET && cm.Type == unix.SO_RXQ_OVFL && l >= unix.CmsgLen(4):
			ovfl, haveOvfl = *(*uint32)(unsafe.Pointer(&oob[off+unix.CmsgLen(0)])), true
		}
		off += unix.CmsgSpace(l - unix.CmsgLen(0))
	}
	return gro, ovfl, haveOvfl
}

func (r *Reader) recv(fd uintptr) bool {
	n, errno := mmsg(unix.SYS_RECVMMSG, fd, r.hdrs[:r.count], unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	switch errno {
	case 0:
		r.done = n
		return true
	case unix.EAGAIN, unix.EINTR:
		return false
	}
	r.err = errno
	return true
}
