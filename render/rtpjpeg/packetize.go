package rtpjpeg

import (
	"fmt"

	"github.com/pion/rtp"
)

// DefaultMTU is the default largest RTP packet, in bytes of UDP payload: it stays
// below a 1500-byte Ethernet MTU with room for IP and UDP headers and a tunnel.
const DefaultMTU = 1400

// minMTU leaves room for the first packet's headers and tables and some scan data.
const minMTU = rtpHeaderSize + MainHeaderSize + QuantHeaderSize + TablesSize + 64

// Packetizer cuts JPEG frames into RTP/JPEG packets (RFC 2435) of one stream: it
// keeps the SSRC and the sequence number from frame to frame. It is not safe for
// concurrent use.
type Packetizer struct {
	SSRC uint32 // RTP synchronisation source (RFC 3550 §5.1), random per stream
	Seq  uint16 // sequence number of the next packet; start it random (RFC 3550 §5.1)
	MTU  int    // largest packet in bytes; 0 means DefaultMTU

	buf []byte
}

// Packetize sends jpeg, a baseline JPEG file as internal/fastjpeg writes it (see
// parseJPEG for what is accepted), as one frame of RTP packets with timestamp ts
// (90 kHz units). Each packet is handed to emit, which must not keep it: the
// storage is reused for the next one. The first packet carries the quantisation
// tables in-band (Q=255), every packet the fragment offset of its scan bytes, and
// the last one the RTP marker bit (RFC 2435 §3). It returns the packets emitted.
func (p *Packetizer) Packetize(jpeg []byte, ts uint32, emit func(pkt []byte) error) (int, error) {
	f, err := parseJPEG(jpeg)
	if err != nil {
		return 0, err
	}
	w, h := (f.width+7)/8, (f.height+7)/8
	if w > 255 || h > 255 {
		return 0, fmt.Errorf("%w: %dx%d, at most %d a side", ErrTooLarge, f.width, f.height, MaxSide)
	}
	if len(f.scan) > maxFragmentOffset {
		return 0, fmt.Errorf("%w: %d bytes of scan, fragment offsets end at %d", ErrTooLarge, len(f.scan), maxFragmentOffset)
	}
	mtu := p.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < minMTU {
		return 0, fmt.Errorf("rtpjpeg: MTU %d below %d", mtu, minMTU)
	}
	if cap(p.buf) < mtu {
		p.buf = make([]byte, mtu)
	}
	buf := p.buf[:mtu]
	jh := Header{Type: f.typ, Q: QInBand, Width: uint8(w), Height: uint8(h)}
	rh := rtp.Header{Version: 2, PayloadType: PayloadType, Timestamp: ts, SSRC: p.SSRC}
	packets := 0
	for off := 0; ; {
		head := rtpHeaderSize + MainHeaderSize
		if off == 0 {
			head += QuantHeaderSize + TablesSize
		}
		chunk := min(len(f.scan)-off, mtu-head)
		rh.SequenceNumber = p.Seq
		rh.Marker = off+chunk == len(f.scan) // the frame's last packet (RFC 2435 §3)
		n, err := rh.MarshalTo(buf)
		if err != nil {
			return packets, fmt.Errorf("rtpjpeg: RTP header: %w", err)
		}
		jh.Offset = uint32(off)
		k, err := jh.MarshalTo(buf[n:])
		if err != nil {
			return packets, err
		}
		n += k
		if off == 0 {
			k, _ = QuantHeader{Length: TablesSize}.MarshalTo(buf[n:]) // room checked by minMTU
			n += k
			n += copy(buf[n:], f.tables[:])
		}
		n += copy(buf[n:], f.scan[off:off+chunk])
		off += chunk
		p.Seq++
		packets++
		if err := emit(buf[:n]); err != nil {
			return packets, err
		}
		if rh.Marker {
			break
		}
	}
	return packets, nil
}
