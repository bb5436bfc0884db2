package wire

import (
	"fmt"

	"github.com/hrvs/hrvs/internal/fastjpeg"
)

// MaxTableSet is the longest table set payload: one DQT of three 16-bit tables
// and one DHT of four full tables, as fastjpeg.AppendTables writes them
// (docs/PROTOCOL.md §4.1). A typical camera's set is 619 bytes.
const MaxTableSet = 999

// A table datagram (docs/PROTOCOL.md §4.1) defines table set id for the tiles of
// codec CodecTableScan that name it in their quality byte. It shares the 37-byte
// header: flag bit 5 (and no other but sealed), the frame fields of the frame it
// is sent with (its format's codec CodecTableScan, its quality the set's id), tile
// index, datagram index and fragment index 0, fragment count 1, and the payload
// size, 1..MaxTableSet, the length of the payload that follows: the set's DQT and
// DHT segments. It is not a data datagram: it has no datagram index of its own and
// no arrival bit, and parity never covers it.
//
//	37-byte header (FlagTables, quality = id) | DQT segment | DHT segment

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
	if h.Codec() != CodecTableScan {
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

// ParseTableSet reads the payload of a table datagram: the tables, checked as
// fastjpeg.ParseTables checks them. Anything else is an error wrapping ErrFormat.
func ParseTableSet(payload []byte) (fastjpeg.Tables, error) {
	t, err := fastjpeg.ParseTables(payload)
	if err != nil {
		return t, fmt.Errorf("%w: table set: %v", ErrFormat, err)
	}
	return t, nil
}
