package rtpjpeg

import (
	"errors"
	"fmt"

	"github.com/hrvs/hrvs/internal/fastjpeg"
	"github.com/pion/rtp"
)

// ErrIncomplete is returned for a frame that lost a fragment: its packets are
// dropped and the next frame starts clean.
var ErrIncomplete = errors.New("rtpjpeg: frame lost a fragment")

// Depacketizer rebuilds JPEG files from RTP/JPEG packets (RFC 2435 §3 and Appendix
// A), as a player does. It takes what Packetizer sends: types 0 and 1 with in-band
// tables (Q 128..255); fragments must arrive in order. HRVS uses it to test its own
// packets; players use their own. It is not safe for concurrent use.
type Depacketizer struct {
	// MaxBytes bounds one frame's scan; 0 means 16 MiB.
	MaxBytes int

	dht     []byte // standard Huffman tables as a DHT segment
	started bool   // a frame's first packet was seen and no fragment lost since
	ts      uint32
	hdr     Header
	tables  [TablesSize]byte
	scan    []byte
	out     []byte
}

// Push takes one RTP packet. When it completes a frame (the marker bit), it returns
// the JPEG file, valid until the next call; otherwise nil. A packet that cannot be
// read, or a frame that lost a fragment, is an error and the frame is dropped.
func (d *Depacketizer) Push(raw []byte) ([]byte, error) {
	var p rtp.Packet
	if err := p.Unmarshal(raw); err != nil {
		d.started = false
		return nil, fmt.Errorf("%w: RTP: %v", ErrBadHeader, err)
	}
	if p.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payload type %d, want %d", ErrBadHeader, p.PayloadType, PayloadType)
	}
	var h Header
	n, err := h.Unmarshal(p.Payload)
	if err != nil {
		d.started = false
		return nil, err
	}
	body := p.Payload[n:]
	if h.Offset == 0 {
		if err := d.start(h, p.Timestamp, body); err != nil {
			d.started = false
			return nil, err
		}
	} else {
		switch {
		case !d.started:
			return nil, fmt.Errorf("%w: fragment at %d without the frame's first packet", ErrIncomplete, h.Offset)
		case p.Timestamp != d.ts || h.Type != d.hdr.Type || h.Width != d.hdr.Width || h.Height != d.hdr.Height:
			d.started = false
			return nil, fmt.Errorf("%w: fragment of another frame", ErrIncomplete)
		case int(h.Offset) != len(d.scan):
			d.started = false
			return nil, fmt.Errorf("%w: fragment at %d, expected %d", ErrIncomplete, h.Offset, len(d.scan))
		}
		limit := d.MaxBytes
		if limit == 0 {
			limit = 16 << 20
		}
		if len(d.scan)+len(body) > limit {
			d.started = false
			return nil, fmt.Errorf("%w: frame beyond %d bytes", ErrTooLarge, limit)
		}
		d.scan = append(d.scan, body...)
	}
	if !p.Marker {
		return nil, nil
	}
	d.started = false
	if d.dht == nil {
		if d.dht, err = findDHT(fastjpeg.AppendHeader(nil, 16, 16, 50, fastjpeg.S420)); err != nil {
			return nil, err
		}
	}
	d.out = appendJPEGHeader(d.out[:0], d.hdr.Type, 8*int(d.hdr.Width), 8*int(d.hdr.Height), &d.tables, d.dht)
	d.out = append(d.out, d.scan...)
	return append(d.out, 0xff, markerEOI), nil
}

// start begins a frame from its first packet's main header and body.
func (d *Depacketizer) start(h Header, ts uint32, body []byte) error {
	switch {
	case h.Type != Type0 && h.Type != Type1:
		return fmt.Errorf("%w: type %d, want 0 or 1", ErrBadHeader, h.Type)
	case h.Q < 128:
		return fmt.Errorf("%w: Q %d: tables derived from a quality factor are not read here", ErrBadHeader, h.Q)
	case h.Width == 0 || h.Height == 0:
		return fmt.Errorf("%w: %dx%d blocks", ErrBadHeader, h.Width, h.Height)
	}
	var q QuantHeader
	n, err := q.Unmarshal(body)
	if err != nil {
		return err
	}
	if q.Precision != 0 || q.Length != TablesSize {
		return fmt.Errorf("%w: tables of %d bytes, precision %#x; want two 8-bit tables", ErrBadHeader, q.Length, q.Precision)
	}
	copy(d.tables[:], body[n:n+TablesSize])
	d.hdr, d.ts, d.started = h, ts, true
	d.scan = append(d.scan[:0], body[n+TablesSize:]...)
	return nil
}
