// Package rtpjpeg carries the receiver's rebuilt frames to the players and media
// servers people already run: whole frames as baseline JPEG in RTP (RFC 2435), sent to
// a UDP address described by an SDP file (RFC 4566) or published to an RTSP server.
//
// The packetiser, the depacketiser the tests check it with, and the sink that paces
// frames onto the wire all live here, as one format's producer and consumer.
package rtpjpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The RTP/JPEG constants of RFC 2435 and RFC 3551.
const (
	PayloadType = 26    // static payload type of JPEG (RFC 3551 §6)
	ClockRate   = 90000 // RTP timestamp units per second for video (RFC 2435 §3)

	// MaxSide is the largest width or height RFC 2435 can describe: the main header
	// carries each in units of 8 pixels in one byte (§3.1.5, §3.1.6).
	MaxSide = 255 * 8

	// Type0 is 4:2:2 in RFC 2435's words (§4.1): Y sampled 2x1 against Cb and Cr, a
	// JPEG with Y's sampling factors H=2, V=1 (image.YCbCrSubsampleRatio422).
	Type0 = 0
	// Type1 is 4:2:0 in RFC 2435's words (§4.1): Y sampled 2x2 against Cb and Cr
	// (image.YCbCrSubsampleRatio420).
	Type1 = 1

	// QInBand is the Q value that says the quantisation tables travel in the first
	// packet of every frame (§3.1.4: Q 128..255 means in-band; 255 means they may
	// change from frame to frame, so a receiver must not cache them).
	QInBand = 255

	// MainHeaderSize is the size of the main JPEG header (§3.1).
	MainHeaderSize = 8
	// QuantHeaderSize is the size of the quantisation table header before its
	// tables (§3.1.8).
	QuantHeaderSize = 4
	// TablesSize is two 8-bit tables of 64 entries, luma then chroma.
	TablesSize = 2 * 64
	// rtpHeaderSize is the fixed RTP header without CSRCs or extensions (RFC 3550 §5.1).
	rtpHeaderSize = 12
	// maxFragmentOffset is the largest offset the 24-bit field holds (§3.1.2).
	maxFragmentOffset = 1<<24 - 1
)

// Errors wrapped by the parsers, so callers can tell a short packet from a bad one.
var (
	ErrShortPacket = errors.New("rtpjpeg: packet too short")
	ErrBadHeader   = errors.New("rtpjpeg: bad header")
	ErrBadJPEG     = errors.New("rtpjpeg: JPEG not sendable as RFC 2435")
	ErrTooLarge    = errors.New("rtpjpeg: frame larger than RFC 2435 can describe")
)

// Header is the main JPEG header RFC 2435 §3.1 puts at the start of every packet's
// payload:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Type-specific |              Fragment Offset                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Type     |       Q       |     Width     |     Height    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Header struct {
	TypeSpecific uint8  // 0: progressive (not interlaced) frames (§3.1.1)
	Offset       uint32 // byte offset of this fragment in the frame's scan data, 24 bits (§3.1.2)
	Type         uint8  // Type0 or Type1; 64..127 add restart markers (§3.1.3)
	Q            uint8  // quantisation: 1..127 scale factor, 128..255 tables in-band (§3.1.4)
	Width        uint8  // frame width in units of 8 pixels (§3.1.5)
	Height       uint8  // frame height in units of 8 pixels (§3.1.6)
}

// Offsets in the main header.
const (
	offTypeSpecific = 0
	offFragment     = 1 // 3 bytes, big-endian
	offType         = 4
	offQ            = 5
	offWidth        = 6
	offHeight       = 7
)

// MarshalTo writes h into buf and returns the bytes written; a short buffer or an
// offset beyond 24 bits is an error.
func (h Header) MarshalTo(buf []byte) (int, error) {
	if len(buf) < MainHeaderSize {
		return 0, fmt.Errorf("%w: main header needs %d bytes, have %d", ErrShortPacket, MainHeaderSize, len(buf))
	}
	if h.Offset > maxFragmentOffset {
		return 0, fmt.Errorf("%w: fragment offset %d beyond 24 bits", ErrBadHeader, h.Offset)
	}
	binary.BigEndian.PutUint32(buf[offTypeSpecific:], h.Offset) // its top byte is overwritten next
	buf[offTypeSpecific] = h.TypeSpecific
	buf[offType], buf[offQ], buf[offWidth], buf[offHeight] = h.Type, h.Q, h.Width, h.Height
	return MainHeaderSize, nil
}

// Unmarshal reads the main header from the start of payload and returns its size.
func (h *Header) Unmarshal(payload []byte) (int, error) {
	if len(payload) < MainHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes, main header needs %d", ErrShortPacket, len(payload), MainHeaderSize)
	}
	h.TypeSpecific = payload[offTypeSpecific]
	h.Offset = binary.BigEndian.Uint32(payload[offTypeSpecific:]) & maxFragmentOffset
	h.Type, h.Q, h.Width, h.Height = payload[offType], payload[offQ], payload[offWidth], payload[offHeight]
	return MainHeaderSize, nil
}

// QuantHeader is the quantisation table header of RFC 2435 §3.1.8, present in the
// first packet of a frame (offset 0) when Q is 128..255, followed by Length bytes
// of tables in zig-zag order:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      MBZ      |   Precision   |             Length            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Quantization Table Data                    |
//	|                              ...                              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type QuantHeader struct {
	Precision uint8  // bit i set: table i has 16-bit entries (§3.1.8); HRVS sends 0
	Length    uint16 // bytes of table data that follow
}

// MarshalTo writes q into buf and returns the bytes written.
func (q QuantHeader) MarshalTo(buf []byte) (int, error) {
	if len(buf) < QuantHeaderSize {
		return 0, fmt.Errorf("%w: quantisation header needs %d bytes, have %d", ErrShortPacket, QuantHeaderSize, len(buf))
	}
	buf[0], buf[1] = 0, q.Precision
	binary.BigEndian.PutUint16(buf[2:], q.Length)
	return QuantHeaderSize, nil
}

// Unmarshal reads the quantisation header from the start of b and returns its size;
// the tables it announces must follow in b.
func (q *QuantHeader) Unmarshal(b []byte) (int, error) {
	if len(b) < QuantHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes, quantisation header needs %d", ErrShortPacket, len(b), QuantHeaderSize)
	}
	if b[0] != 0 {
		return 0, fmt.Errorf("%w: quantisation header MBZ byte is %d", ErrBadHeader, b[0])
	}
	q.Precision = b[1]
	q.Length = binary.BigEndian.Uint16(b[2:])
	if len(b)-QuantHeaderSize < int(q.Length) {
		return 0, fmt.Errorf("%w: %d bytes of tables announced, %d present", ErrShortPacket, q.Length, len(b)-QuantHeaderSize)
	}
	return QuantHeaderSize, nil
}
