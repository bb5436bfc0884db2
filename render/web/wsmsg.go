package web

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The messages of the browser view's WebSocket (docs/PROTOCOL.md §11). Every message
// is one binary WebSocket message whose first byte is its type; integers are
// big-endian. The server sends tables, frame and tile messages; the page sends acks.
const (
	MsgTables = 0x01 // JPEG header template for tiles of one subsampling and quality
	MsgFrame  = 0x02 // starts a batch: the frame the following tiles bring up to date
	MsgTile   = 0x03 // one tile's scan and place
	MsgAck    = 0x10 // page to server: the batch is drawn, send the next

	// WSVersion is the version of these layouts, carried by the tables message.
	WSVersion = 1
)

// Sizes of the fixed parts of the messages (§11).
const (
	tablesFixed = 8
	frameLen    = 40
	tileFixed   = 22
	ackLen      = 5
)

// Frame flags (§11.3).
const (
	// FrameReset: the frame size or tiling changed, or this is the connection's first
	// batch: the page starts from a blank canvas of the new size, and the batch holds
	// every tile.
	FrameReset = 1 << 0
)

// ErrMessage is wrapped by every failure to parse a message.
var ErrMessage = errors.New("web: malformed WebSocket message")

// TablesMsg is a tables message: the JPEG header that turns any tile payload of
// table id ID back into a file, once its size is patched in at SizeAt.
//
//	 0       1       2       3       4       5       6       7
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	| type  |version|  id   |  sub  |quality|   0   |    SizeAt     |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	| header: SOI DQT SOF0 DHT SOS (docs/PROTOCOL.md §4), h = w = 0 ...
//	+-------+-------+------
type TablesMsg struct {
	Version     uint8
	ID          uint8
	Subsampling uint8 // 0 4:2:0, 1 4:2:2 (the wire's codes)
	Quality     uint8
	SizeAt      uint16 // offset in Header of SOF0's 16-bit height; the width follows it
	Header      []byte
}

// AppendTables appends m's encoding to dst.
func AppendTables(dst []byte, m *TablesMsg) []byte {
	dst = append(dst, MsgTables, m.Version, m.ID, m.Subsampling, m.Quality, 0)
	dst = binary.BigEndian.AppendUint16(dst, m.SizeAt)
	return append(dst, m.Header...)
}

// ParseTables parses a tables message; m.Header aliases b.
func ParseTables(m *TablesMsg, b []byte) error {
	if len(b) < tablesFixed || b[0] != MsgTables {
		return fmt.Errorf("%w: tables message of %d bytes", ErrMessage, len(b))
	}
	*m = TablesMsg{Version: b[1], ID: b[2], Subsampling: b[3], Quality: b[4],
		SizeAt: binary.BigEndian.Uint16(b[6:]), Header: b[tablesFixed:]}
	if m.Version != WSVersion {
		return fmt.Errorf("%w: tables version %d, want %d", ErrMessage, m.Version, WSVersion)
	}
	if m.Subsampling > 1 || m.Quality < 1 || m.Quality > 100 {
		return fmt.Errorf("%w: tables for subsampling %d quality %d", ErrMessage, m.Subsampling, m.Quality)
	}
	if int(m.SizeAt)+4 > len(m.Header) {
		return fmt.Errorf("%w: size field at %d past a %d-byte header", ErrMessage, m.SizeAt, len(m.Header))
	}
	return nil
}

// FrameMsg starts a batch of Tiles tile messages that bring the page's picture up to
// frame Seq.
//
//	 0       1       2       3       4       5       6       7
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	| type  | flags |     tiles     |             batch             |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|              seq              |     width     |    height     |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|                 capture time, µs since 1970 (signed)          |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|                 send time, µs since 1970 (signed)             |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|            skipped            |           concealed           |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
type FrameMsg struct {
	Flags         uint8
	Tiles         uint16 // tile messages that follow
	Batch         uint32 // this connection's batch number, from 1; the ack echoes it
	Seq           uint32 // the sender's frame number
	Width, Height uint16
	CaptureUS     int64  // capture instant on the serving host's clock, µs since 1970; 0 unknown
	SentUS        int64  // when the server sent this, same clock
	Skipped       uint32 // frames shown since the previous batch that this viewer did not get
	Concealed     uint32 // tiles of this frame the receiver concealed (lost on the network)
}

// AppendFrame appends m's encoding to dst.
func AppendFrame(dst []byte, m *FrameMsg) []byte {
	be := binary.BigEndian
	dst = append(dst, MsgFrame, m.Flags)
	dst = be.AppendUint16(dst, m.Tiles)
	dst = be.AppendUint32(dst, m.Batch)
	dst = be.AppendUint32(dst, m.Seq)
	dst = be.AppendUint16(dst, m.Width)
	dst = be.AppendUint16(dst, m.Height)
	dst = be.AppendUint64(dst, uint64(m.CaptureUS))
	dst = be.AppendUint64(dst, uint64(m.SentUS))
	dst = be.AppendUint32(dst, m.Skipped)
	return be.AppendUint32(dst, m.Concealed)
}

// ParseFrame parses a frame message.
func ParseFrame(m *FrameMsg, b []byte) error {
	if len(b) != frameLen || b[0] != MsgFrame {
		return fmt.Errorf("%w: frame message of %d bytes", ErrMessage, len(b))
	}
	be := binary.BigEndian
	*m = FrameMsg{Flags: b[1], Tiles: be.Uint16(b[2:]), Batch: be.Uint32(b[4:]), Seq: be.Uint32(b[8:]),
		Width: be.Uint16(b[12:]), Height: be.Uint16(b[14:]),
		CaptureUS: int64(be.Uint64(b[16:])), SentUS: int64(be.Uint64(b[24:])),
		Skipped: be.Uint32(b[32:]), Concealed: be.Uint32(b[36:])}
	if m.Width == 0 || m.Height == 0 {
		return fmt.Errorf("%w: frame of %dx%d", ErrMessage, m.Width, m.Height)
	}
	return nil
}

// TileMsg is one tile: its place on the canvas and the scan that draws it.
//
//	 0       1       2       3       4       5       6       7
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	| type  |  id   |       x       |       y       |       w       |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|       h       |              seq              |  capture ...
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	  ... time, µs since 1970 (signed)              | payload ...
//	+-------+-------+-------+-------+-------+-------+-------+-------+
type TileMsg struct {
	ID         uint8 // the tables message whose header completes the payload
	X, Y, W, H uint16
	Seq        uint32 // the frame the tile's pixels come from
	CaptureUS  int64
	Payload    []byte // JPEG scan (docs/PROTOCOL.md §4)
}

// AppendTile appends m's encoding to dst.
func AppendTile(dst []byte, m *TileMsg) []byte {
	be := binary.BigEndian
	dst = append(dst, MsgTile, m.ID)
	dst = be.AppendUint16(dst, m.X)
	dst = be.AppendUint16(dst, m.Y)
	dst = be.AppendUint16(dst, m.W)
	dst = be.AppendUint16(dst, m.H)
	dst = be.AppendUint32(dst, m.Seq)
	dst = be.AppendUint64(dst, uint64(m.CaptureUS))
	return append(dst, m.Payload...)
}

// ParseTile parses a tile message; m.Payload aliases b.
func ParseTile(m *TileMsg, b []byte) error {
	if len(b) <= tileFixed || b[0] != MsgTile {
		return fmt.Errorf("%w: tile message of %d bytes", ErrMessage, len(b))
	}
	be := binary.BigEndian
	*m = TileMsg{ID: b[1], X: be.Uint16(b[2:]), Y: be.Uint16(b[4:]), W: be.Uint16(b[6:]), H: be.Uint16(b[8:]),
		Seq: be.Uint32(b[10:]), CaptureUS: int64(be.Uint64(b[14:])), Payload: b[tileFixed:]}
	if m.W == 0 || m.H == 0 || int(m.X)+int(m.W) > 0xffff || int(m.Y)+int(m.H) > 0xffff {
		return fmt.Errorf("%w: tile %dx%d at %d,%d", ErrMessage, m.W, m.H, m.X, m.Y)
	}
	return nil
}

// AppendAck appends the page's acknowledgement of batch to dst.
//
//	+-------+-------+-------+-------+-------+
//	| type  |             batch             |
//	+-------+-------+-------+-------+-------+
func AppendAck(dst []byte, batch uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, MsgAck), batch)
}

// ParseAck parses an ack and returns the batch it acknowledges.
func ParseAck(b []byte) (uint32, error) {
	if len(b) != ackLen || b[0] != MsgAck {
		return 0, fmt.Errorf("%w: ack of %d bytes", ErrMessage, len(b))
	}
	return binary.BigEndian.Uint32(b[1:]), nil
}
