package wire

import (
	"fmt"

	"github.com/hrvs/hrvs/internal/fastjpeg"
)

// MaxTableSet is the longest table set payload: one DQT of three 16-bit tables
// and one DHT of four full tables, as fastjpeg.AppendTables writes them (999
// bytes), and for codec CodecRestartScan the DRI segment after them
// (docs/PROTOCOL.md §4.1). A typical camera's set is 619 bytes, 625 with DRI.
const MaxTableSet = 999 + driSize

// driSize is a DRI segment's length: marker, length 4, the restart interval
// (ITU T.81 §B.2.4.4).
const driSize = 6

// A table datagram (docs/PROTOCOL.md §4.1) defines table set id for the tiles of
// codec CodecTableScan or CodecRestartScan that name it in their quality byte. It
// shares the 37-byte header: flag bit 5 (and no other but sealed), the frame
// fields of the frame it is sent with (its format's codec CodecTableScan or
// CodecRestartScan, its quality the set's id), tile index, datagram index and
// fragment index 0, fragment count 1, and the payload size, 1..MaxTableSet, the
// length of the payload that follows: the set's DQT and DHT segments, and for
// CodecRestartScan a DRI segment giving the tiles' restart interval. It is not a
// data datagram: it has no datagram index of its own and no arrival bit, and
// parity never covers it.
//
//	37-byte header (FlagTables, quality = id) | DQT segment | DHT segment [| DRI segment]

// SetTables makes h, a copy of a frame's header, the table datagram defining set id
// in a payload of n bytes.
func (h *Header) SetTables(id uint8, n int) {
	h.Flags = FlagTables
	h.Format = CodecTableScan<<4 | h.Format&0xf
	h.Quality = id
	h.Tile, h.Seq, h.Fragment, h.Fragments, h.PayloadSize = 0, 0, 0, 1, uint32(n)
}

// IsTables reports whether a parsed datagram is a table datagram.
func (h *Header) IsTables() bool { return h.Flags&FlagTables != 0 }

// tables finishes Unmarshal for a table datagram (rules 1-9 passed).
func (h *Header) tables(b []byte) ([]byte, error) {
	if h.Flags&^FlagSealed != FlagTables {
		return nil, ErrFlags
	}
	if c := h.Codec(); c != CodecTableScan && c != CodecRestartScan {
		return nil, ErrFormat
	}
	if h.Tile != 0 || h.Seq != 0 || h.Fragment != 0 || h.Fragments != 1 ||
		h.PayloadSize == 0 || h.PayloadSize > MaxTableSet || len(b)-HeaderSize != int(h.PayloadSize) {
		return nil, ErrFragment
	}
	return b[HeaderSize:], nil
}

// AppendTableDatagram appends the table datagram defining set id as t to dst: the
// frame header fh (any frame of the stream; its tile fields are replaced) and t's
// DQT and DHT segments.
func AppendTableDatagram(dst []byte, fh Header, id uint8, t *fastjpeg.Tables) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = fastjpeg.AppendTables(dst, t)
	n := len(dst) - start - HeaderSize
	if n > MaxTableSet {
		return dst[:start], fmt.Errorf("wire: table set of %d bytes: %w", n, ErrFragment)
	}
	fh.SetTables(id, n)
	if _, err := fh.MarshalTo(dst[start:]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// AppendRestartTableDatagram appends the table datagram of codec
// CodecRestartScan defining set id as t with restart interval restart MCUs
// (1..65535): AppendTableDatagram's, then a DRI segment.
func AppendRestartTableDatagram(dst []byte, fh Header, id uint8, t *fastjpeg.Tables, restart int) ([]byte, error) {
	if restart < 1 || restart > 0xffff {
		return dst, fmt.Errorf("wire: restart interval %d: %w", restart, ErrFormat)
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = fastjpeg.AppendTables(dst, t)
	dst = append(dst, 0xff, markerDRI, 0, 4, byte(restart>>8), byte(restart))
	n := len(dst) - start - HeaderSize
	if n > MaxTableSet {
		return dst[:start], fmt.Errorf("wire: table set of %d bytes: %w", n, ErrFragment)
	}
	fh.SetTables(id, n)
	fh.Format = CodecRestartScan<<4 | fh.Format&0xf
	if _, err := fh.MarshalTo(dst[start:]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// markerDRI is ITU T.81's define-restart-interval marker (Table B.1).
const markerDRI = 0xdd

// ParseCodecTableSet reads the payload of a table datagram of codec codec: for
// CodecTableScan ParseTableSet's, restart 0; for CodecRestartScan the tables then
// a DRI segment (length 4) with the tiles' restart interval, 1..65535 MCUs.
// Anything else is an error wrapping ErrFormat.
func ParseCodecTableSet(codec uint8, payload []byte) (t fastjpeg.Tables, restart int, err error) {
	switch codec {
	case CodecTableScan:
		t, err = ParseTableSet(payload)
		return t, 0, err
	case CodecRestartScan:
		n := len(payload) - driSize
		if n < 0 {
			return t, 0, fmt.Errorf("%w: table set of %d bytes without its DRI", ErrFormat, len(payload))
		}
		// The tables parse only when their segments end exactly at n, so the
		// last six bytes are a segment of their own.
		dri := payload[n:]
		if dri[0] != 0xff || dri[1] != markerDRI || dri[2] != 0 || dri[3] != 4 {
			return t, 0, fmt.Errorf("%w: table set without its DRI", ErrFormat)
		}
		if restart = int(dri[4])<<8 | int(dri[5]); restart == 0 {
			return t, 0, fmt.Errorf("%w: restart interval 0", ErrFormat)
		}
		t, err = ParseTableSet(payload[:n])
		return t, restart, err
	}
	return t, 0, fmt.Errorf("%w: codec %d has no table set", ErrFormat, codec)
}

// ParseTableSet reads the payload of a table datagram of codec CodecTableScan:
// the tables, checked as fastjpeg.ParseTables checks them. Anything else is an
// error wrapping ErrFormat.
func ParseTableSet(payload []byte) (fastjpeg.Tables, error) {
	t, err := fastjpeg.ParseTables(payload)
	if err != nil {
		return t, fmt.Errorf("%w: table set: %v", ErrFormat, err)
	}
	return t, nil
}
