// Package wire defines the bytes HRVS puts on the network: the tile datagram header
// (UDP) and the control messages (TCP). docs/PROTOCOL.md is the prose version of
// this file; every type has explicit MarshalTo/Unmarshal and never reflects.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the protocol version carried by every datagram and control hello.
const Version = 3

// Magic opens every datagram: "HV".
const Magic uint16 = 0x4856

// HeaderSize is the fixed size of a datagram header; the fragment payload follows.
const HeaderSize = 37

// MaxDatagram is the largest UDP payload IPv4 can carry; --mtu may not exceed it.
const MaxDatagram = 65507

// MaxTilePayload caps one tile's encoded size (24 bits on the wire) so a hostile
// header cannot make the receiver reserve more than this for reassembly.
const MaxTilePayload = 1<<24 - 1

// MaxFrameDatagrams is the most data datagrams one frame may have (docs/PROTOCOL.md
// §3.1): datagram indices 0 .. MaxFrameDatagrams-1. Index 65535 is never valid, so
// that an acknowledgement's 16-bit datagram count (one more than the last index,
// §5) can always say how many there were.
const MaxFrameDatagrams = 1<<16 - 1

// Grid tile sizes are carried in units of the largest MCU side, 16 across and 8
// down, in one byte each.
const (
	TileUnitW = 16
	TileUnitH = 8
	MaxTileW  = 255 * TileUnitW
	MaxTileH  = 255 * TileUnitH
)

// Flags (byte 3).
const (
	FlagRefresh uint8 = 1 << 0 // tile sent by the periodic refresh, not because it changed
	FlagRepair  uint8 = 1 << 1 // tile resent because the receiver reported it missing
	// FlagParity marks a parity datagram (docs/PROTOCOL.md §3.4): its payload is one
	// Reed-Solomon parity shard over a block of the frame's data datagrams, and
	// some header fields describe the block instead of a tile (Block).
	FlagParity uint8 = 1 << 2
	// FlagProtected marks a data datagram of a frame that parity datagrams follow,
	// so the receiver keeps the frame's datagrams until it can rebuild lost ones.
	FlagProtected uint8 = 1 << 3
	// FlagSealed marks a datagram of a keyed stream: after the 37-byte header come an
	// 8-byte packet counter, the payload encrypted, and a 16-byte AEAD tag, the header
	// and counter authenticated as associated data (docs/PROTOCOL.md §7.3). It belongs
	// to the transport, not to the datagram's content: the sender sets it when it seals
	// (SetSealed) and the receiver clears it once it opened the datagram (ClearSealed),
	// so parity, computed over the clear datagrams' fields, never includes it.
	FlagSealed uint8 = 1 << 4
	// FlagTables marks a table datagram (docs/PROTOCOL.md §4.1): its payload is a
	// stream's table set, which tiles of codec CodecTableScan (or CodecRestartScan)
	// name by id.
	FlagTables uint8 = 1 << 5
	flagsKnown       = FlagRefresh | FlagRepair | FlagParity | FlagProtected | FlagSealed | FlagTables
)

// Reed-Solomon blocks (docs/PROTOCOL.md §3.4). A block is a run of consecutive
// data datagram indices of one frame; its K data shards and M parity shards are
// coded as a code of CodeSize(K) data shards whose last CodeSize(K)-K are zero.
const (
	MaxBlockData  = 128 // K: data datagrams in one block
	MaxCodeShards = 256 // CodeSize(K) + M, the limit of a code over GF(2^8)
	// ShardPrefix is the part of a data shard that names its datagram: tile index
	// (2), fragment index (2), fragment count (2), tile payload size (3), flags (1).
	ShardPrefix = 10
)

// CodeSize is the number of data shards of the code a block of k data datagrams
// uses: the smallest of 16, 32, 64 and 128 that holds k. Few code sizes mean few
// generator matrices to build and cache at either end.
func CodeSize(k int) int {
	n := 16
	for n < k {
		n *= 2
	}
	return n
}

// Block describes a parity datagram's block: data datagram indices
// [Start, Start+K), M parity shards, of which this datagram is number Index.
type Block struct {
	Start, K, M, Index int
}

// Block reads the block fields of a parity datagram (valid after Unmarshal).
func (h *Header) Block() Block {
	return Block{Start: int(h.Seq), K: int(h.Tile), M: int(h.Fragments), Index: int(h.Fragment)}
}

// SetBlock writes b into the fields a parity datagram uses for it, and sets the
// parity flag. The shard length travels as the payload size.
func (h *Header) SetBlock(b Block, shardLen int) {
	h.Flags = FlagParity
	h.Seq, h.Tile, h.Fragments, h.Fragment = uint16(b.Start), uint16(b.K), uint16(b.M), uint16(b.Index)
	h.PayloadSize = uint32(shardLen)
}

// SetEnd makes h the frame's end marker (docs/PROTOCOL.md §3.5): a parity datagram
// naming no block, sent after all of the frame's datagrams, whose datagram index is
// the frame's last data datagram, so the receiver knows the frame is complete as
// sent and need not wait for the next frame to learn what was lost.
func (h *Header) SetEnd(last int) {
	h.Flags = FlagParity
	h.Seq, h.Tile, h.Fragments, h.Fragment, h.PayloadSize = uint16(last), 0, 0, 0, 0
}

// Peek reads the stream id and flags of a datagram without validating anything else,
// so a receiver can find the stream's key before it opens a sealed datagram; ok is
// false when b is too short or not an HRVS datagram of this version.
func Peek(b []byte) (stream uint32, flags uint8, ok bool) {
	if len(b) < HeaderSize || binary.BigEndian.Uint16(b[offMagic:]) != Magic || b[offVersion] != Version {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b[offStream:]), b[offFlags], true
}

// SetSealed sets FlagSealed in the datagram d (at least HeaderSize bytes).
func SetSealed(d []byte) { d[offFlags] |= FlagSealed }

// ClearSealed clears FlagSealed in the datagram d (at least HeaderSize bytes).
func ClearSealed(d []byte) { d[offFlags] &^= FlagSealed }

// IsEnd reports whether a parsed datagram is an end marker.
func (h *Header) IsEnd() bool { return h.Flags&FlagParity != 0 && h.Tile == 0 && h.Fragments == 0 }

// PutShardPrefix writes the prefix naming data datagram h into a shard.
func PutShardPrefix(b []byte, h *Header) {
	be := binary.BigEndian
	be.PutUint16(b[0:], h.Tile)
	be.PutUint16(b[2:], h.Fragment)
	be.PutUint16(b[4:], h.Fragments)
	b[6], b[7], b[8] = byte(h.PayloadSize>>16), byte(h.PayloadSize>>8), byte(h.PayloadSize)
	b[9] = h.Flags
}

// Rebuilt turns a data shard rebuilt from parity back into its datagram: the frame
// fields come from parity header p, the datagram index is seq, the tile fields come
// from the shard's prefix, and the payload is cut to the fragment's length. It is
// validated like any datagram (a hostile parity datagram rebuilds garbage), and its
// flags must mark a protected data datagram, as every shard's do: dst receives the
// datagram and the parsed header and payload (a sub-slice of dst) are returned.
func Rebuilt(dst []byte, p *Header, seq int, shard []byte, lim Limits) (Header, []byte, error) {
	var h Header
	if len(shard) < ShardPrefix {
		return h, nil, ErrShort
	}
	if seq < 0 || seq >= MaxFrameDatagrams {
		return h, nil, ErrIndex
	}
	be := binary.BigEndian
	d := *p
	d.Seq = uint16(seq)
	d.Tile, d.Fragment, d.Fragments = be.Uint16(shard[0:]), be.Uint16(shard[2:]), be.Uint16(shard[4:])
	d.PayloadSize = uint32(shard[6])<<16 | uint32(shard[7])<<8 | uint32(shard[8])
	d.Flags = shard[9]
	// Only protected data datagrams are shards (§3.4): any other flags came from
	// a parity datagram that rebuilt garbage.
	if d.Flags&(FlagParity|FlagTables) != 0 || d.Flags&FlagProtected == 0 {
		return h, nil, ErrFlags
	}
	if d.Fragment >= d.Fragments || !fragmentsFit(d.PayloadSize, d.Fragments) {
		return h, nil, ErrFragment
	}
	_, n := FragmentSpan(d.PayloadSize, d.Fragments, d.Fragment)
	if ShardPrefix+n > len(shard) || HeaderSize+n > len(dst) {
		return h, nil, ErrFragment
	}
	if _, err := d.MarshalTo(dst); err != nil {
		return h, nil, err
	}
	copy(dst[HeaderSize:], shard[ShardPrefix:ShardPrefix+n])
	payload, err := h.Unmarshal(dst[:HeaderSize+n], lim)
	return h, payload, err
}

// Format byte (byte 36): low nibble is the chroma subsampling, high nibble the codec.
const (
	Sub420 uint8 = 0 // Y sampled 2x2 per MCU, MCU 16x16
	Sub422 uint8 = 1 // Y sampled 2x1 per MCU, MCU 16x8

	CodecJPEGScan uint8 = 0 // baseline JPEG entropy-coded scan, image/jpeg's tables (docs/PROTOCOL.md §4)
	// CodecTableScan is a baseline JPEG entropy-coded scan coded with the stream's
	// table set whose id the quality byte carries (docs/PROTOCOL.md §4.1): a
	// camera's own quantisation tables, re-tiled without decoding.
	CodecTableScan uint8 = 1
	// CodecRestartScan is CodecTableScan's scan with restart markers: every R MCUs
	// of the tile (R from the table set's DRI, a divisor of the tile's width in
	// MCUs) an RSTm marker, m from 0 modulo 8, and the DC predictions start again
	// from 0 (docs/PROTOCOL.md §4.1): a camera's scan cut at its own restart
	// markers, without Huffman decoding.
	CodecRestartScan uint8 = 2
)

// Codec is the codec nibble of the format byte.
func (h *Header) Codec() uint8 { return h.Format >> 4 }

// Sub is the subsampling nibble of the format byte.
func (h *Header) Sub() uint8 { return h.Format & 0xf }

// Errors returned by Unmarshal; every rejected datagram maps to one of them.
var (
	ErrShort    = errors.New("wire: datagram shorter than its header")
	ErrMagic    = errors.New("wire: bad magic")
	ErrVersion  = errors.New("wire: unsupported version")
	ErrFrame    = errors.New("wire: frame size out of range")
	ErrTile     = errors.New("wire: tile index or rectangle out of range")
	ErrFragment = errors.New("wire: fragment index, count or length inconsistent")
	ErrFormat   = errors.New("wire: unknown format or quality")
	ErrFlags    = errors.New("wire: unknown flags")
	ErrIndex    = errors.New("wire: datagram index past the last a frame may have")
)

// Header is the fixed part of every tile datagram.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         magic "HV"            |    version    |     flags     |  0
//	+-------------------------------+---------------+---------------+
//	|                          stream id                            |  4
//	+---------------------------------------------------------------+
//	|                         frame number                          |  8
//	+---------------------------------------------------------------+
//	|     capture time, µs on the sender's clock, low 32 bits       | 12
//	+-------------------------------+-------------------------------+
//	|          frame width          |         frame height          | 16
//	+-------------------------------+-------------------------------+
//	|          tile index           |        datagram index         | 20
//	+-------------------------------+---------------+---------------+
//	|          frame tiles          | tile width/16 | tile height/8 | 24
//	+-------------------------------+---------------+---------------+
//	|        fragment index         |        fragment count         | 28
//	+-------------------------------+---------------+---------------+
//	|       tile payload size (bytes, 24 bits)      |    quality    | 32
//	+---------------+-------------------------------+---------------+
//	|    format     |  fragment payload (up to --mtu - 37 bytes) ...    36
//	+---------------+-------------------------------------------------
//
// All integers are big-endian. The tile's rectangle follows from the frame size,
// the grid's tile size and the tile index (Rect); edge tiles are clipped.
type Header struct {
	Flags       uint8
	Stream      uint32
	Frame       uint32
	CaptureUS   uint32 // capture time, µs on the sender's clock, modulo 2^32 (see UnwrapTime)
	Width       uint16
	Height      uint16
	Tile        uint16 // index in the grid, row-major
	Seq         uint16 // index of this data datagram in the frame, in sending order (a block's first for parity)
	GridTiles   uint16 // tiles in the whole grid: not on the wire, Unmarshal derives it from the sizes
	FrameTiles  uint16 // tiles this frame carries (conditional replenishment sends fewer)
	TileW       uint16 // grid tile width in pixels, a multiple of TileUnitW
	TileH       uint16 // grid tile height in pixels, a multiple of TileUnitH
	Fragment    uint16 // index of this fragment in the tile payload
	Fragments   uint16 // fragments in the tile payload
	PayloadSize uint32 // bytes of the whole tile payload, < 2^24
	Quality     uint8  // JPEG quality 1..100 selecting the quantisation tables; with CodecTableScan or CodecRestartScan, the table set id 0..255
	Format      uint8  // subsampling (low nibble) and codec (high nibble)
}

const (
	offMagic, offVersion, offFlags  = 0, 2, 3
	offStream, offFrame, offCapture = 4, 8, 12
	offWidth, offHeight             = 16, 18
	offTile, offSeq, offFrameTiles  = 20, 22, 24
	offTileW, offTileH              = 26, 27
	offFragment, offFragments       = 28, 30
	offSize, offQuality, offFormat  = 32, 35, 36
)

// Limits bounds what Unmarshal accepts beyond the format's own ranges.
type Limits struct {
	MaxWidth, MaxHeight int
}

// DefaultLimits accepts frames up to 8K UHD.
var DefaultLimits = Limits{MaxWidth: 7680, MaxHeight: 4320}

// MarshalTo writes the header into buf and returns HeaderSize. TileW and TileH must
// be multiples of the tile units; other values are the caller's bug, not the peer's.
func (h *Header) MarshalTo(buf []byte) (int, error) {
	if len(buf) < HeaderSize {
		return 0, fmt.Errorf("wire: marshal header into %d bytes: %w", len(buf), ErrShort)
	}
	be := binary.BigEndian
	be.PutUint16(buf[offMagic:], Magic)
	buf[offVersion] = Version
	buf[offFlags] = h.Flags
	be.PutUint32(buf[offStream:], h.Stream)
	be.PutUint32(buf[offFrame:], h.Frame)
	be.PutUint32(buf[offCapture:], h.CaptureUS)
	be.PutUint16(buf[offWidth:], h.Width)
	be.PutUint16(buf[offHeight:], h.Height)
	be.PutUint16(buf[offTile:], h.Tile)
	be.PutUint16(buf[offSeq:], h.Seq)
	be.PutUint16(buf[offFrameTiles:], h.FrameTiles)
	buf[offTileW] = uint8(h.TileW / TileUnitW)
	buf[offTileH] = uint8(h.TileH / TileUnitH)
	be.PutUint16(buf[offFragment:], h.Fragment)
	be.PutUint16(buf[offFragments:], h.Fragments)
	buf[offSize], buf[offSize+1], buf[offSize+2] = byte(h.PayloadSize>>16), byte(h.PayloadSize>>8), byte(h.PayloadSize)
	buf[offQuality] = h.Quality
	buf[offFormat] = h.Format
	return HeaderSize, nil
}

// Unmarshal parses and validates the header of datagram b and returns the fragment
// payload (a sub-slice of b). Every inconsistency is an error wrapping one of the
// Err* values; it never panics, whatever b holds.
func (h *Header) Unmarshal(b []byte, lim Limits) ([]byte, error) {
	if len(b) < HeaderSize {
		return nil, ErrShort
	}
	be := binary.BigEndian
	if be.Uint16(b[offMagic:]) != Magic {
		return nil, ErrMagic
	}
	if b[offVersion] != Version {
		return nil, fmt.Errorf("%w %d", ErrVersion, b[offVersion])
	}
	h.Flags = b[offFlags]
	h.Stream = be.Uint32(b[offStream:])
	h.Frame = be.Uint32(b[offFrame:])
	h.CaptureUS = be.Uint32(b[offCapture:])
	h.Width = be.Uint16(b[offWidth:])
	h.Height = be.Uint16(b[offHeight:])
	h.Tile = be.Uint16(b[offTile:])
	h.Seq = be.Uint16(b[offSeq:])
	h.FrameTiles = be.Uint16(b[offFrameTiles:])
	h.TileW = uint16(b[offTileW]) * TileUnitW
	h.TileH = uint16(b[offTileH]) * TileUnitH
	h.Fragment = be.Uint16(b[offFragment:])
	h.Fragments = be.Uint16(b[offFragments:])
	h.PayloadSize = uint32(b[offSize])<<16 | uint32(b[offSize+1])<<8 | uint32(b[offSize+2])
	h.Quality = b[offQuality]
	h.Format = b[offFormat]

	if h.Width == 0 || h.Height == 0 || int(h.Width) > lim.MaxWidth || int(h.Height) > lim.MaxHeight {
		return nil, fmt.Errorf("%w: %dx%d", ErrFrame, h.Width, h.Height)
	}
	switch codec := h.Codec(); {
	case h.Format&0xf > Sub422, codec > CodecRestartScan:
		return nil, ErrFormat
	case codec == CodecJPEGScan && (h.Quality < 1 || h.Quality > 100):
		return nil, ErrFormat
	}
	mw, mh := MCUSize(h.Format & 0xf)
	if h.TileW == 0 || h.TileH == 0 || int(h.TileW)%mw != 0 || int(h.TileH)%mh != 0 {
		return nil, ErrTile
	}
	cols := (int(h.Width) + int(h.TileW) - 1) / int(h.TileW)
	rows := (int(h.Height) + int(h.TileH) - 1) / int(h.TileH)
	if cols*rows > 65535 {
		return nil, ErrTile
	}
	h.GridTiles = uint16(cols * rows)
	if h.FrameTiles == 0 || h.FrameTiles > h.GridTiles {
		return nil, ErrTile
	}
	if h.Flags&^flagsKnown != 0 {
		return nil, ErrFlags
	}
	if h.Flags&FlagTables != 0 {
		return h.tables(b)
	}
	if h.Flags&FlagParity != 0 {
		if h.Flags&^FlagSealed != FlagParity {
			return nil, ErrFlags
		}
		k, m := int(h.Tile), int(h.Fragments)
		if k == 0 && m == 0 { // an end marker (§3.5): names the frame's last data datagram
			if h.Fragment != 0 || h.PayloadSize != 0 || len(b) != HeaderSize {
				return nil, ErrFragment
			}
			if int(h.Seq) >= MaxFrameDatagrams {
				return nil, ErrIndex
			}
			return b[HeaderSize:], nil
		}
		if k == 0 || k > MaxBlockData || m == 0 || CodeSize(k)+m > MaxCodeShards ||
			int(h.Fragment) >= m || h.PayloadSize <= ShardPrefix || len(b)-HeaderSize != int(h.PayloadSize) {
			return nil, ErrFragment
		}
		if int(h.Seq)+k > MaxFrameDatagrams {
			return nil, ErrIndex
		}
		return b[HeaderSize:], nil
	}
	if h.Tile >= h.GridTiles {
		return nil, ErrTile
	}
	if int(h.Seq) >= MaxFrameDatagrams {
		return nil, ErrIndex
	}
	if h.Fragment >= h.Fragments || !fragmentsFit(h.PayloadSize, h.Fragments) {
		return nil, ErrFragment
	}
	if _, n := FragmentSpan(h.PayloadSize, h.Fragments, h.Fragment); len(b)-HeaderSize != n {
		return nil, ErrFragment
	}
	return b[HeaderSize:], nil
}

// fragmentsFit reports whether a tile payload of size bytes can be cut into count
// fragments by the rule of FragmentSpan with every fragment at least one byte long:
// (count-1) * ceil(size/count) < size (docs/PROTOCOL.md §3.3). Otherwise the
// fragments before the last already cover the payload, the last would be empty or
// negative, and the tile could never complete. It also excludes size 0, count 0
// and more fragments than bytes.
func fragmentsFit(size uint32, count uint16) bool {
	if size == 0 || count == 0 {
		return false
	}
	each := (int(size) + int(count) - 1) / int(count)
	return (int(count)-1)*each < int(size)
}

// Rect is the tile's rectangle in the frame: row-major in a grid of TileW x TileH
// tiles, clipped at the right and bottom edges. It is valid after Unmarshal succeeded.
func (h *Header) Rect() (x, y, w, hgt int) {
	cols := (int(h.Width) + int(h.TileW) - 1) / int(h.TileW)
	x, y = int(h.Tile)%cols*int(h.TileW), int(h.Tile)/cols*int(h.TileH)
	return x, y, min(int(h.TileW), int(h.Width)-x), min(int(h.TileH), int(h.Height)-y)
}

// UnwrapTime rebuilds a full capture time from its low 32 bits: of all the instants
// with those low bits, the one nearest to near (the sender's clock now, as best the
// receiver knows it). Exact while latency and clock error stay under 35 minutes.
func UnwrapTime(low uint32, near int64) int64 {
	t := near&^0xffffffff | int64(low)
	switch d := t - near; {
	case d > 1<<31:
		t -= 1 << 32
	case d < -(1 << 31):
		t += 1 << 32
	}
	return t
}

// FragmentSpan says where fragment i of a payload of size bytes cut into count
// fragments starts and how long it is: every fragment but the last carries
// ceil(size/count) bytes, the last carries the rest.
func FragmentSpan(size uint32, count, i uint16) (off, n int) {
	each := (int(size) + int(count) - 1) / int(count)
	off = each * int(i)
	n = min(each, int(size)-off)
	return off, n
}

// Fragments says how many fragments a payload of size bytes needs when each datagram
// carries at most room payload bytes.
func Fragments(size, room int) int {
	return (size + room - 1) / room
}

// MCUSize is the JPEG minimum coded unit for a subsampling: tiles start on its grid.
func MCUSize(sub uint8) (w, h int) {
	if sub == Sub422 {
		return 16, 8
	}
	return 16, 16
}
