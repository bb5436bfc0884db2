package web

import (
	"bytes"
	"errors"
	"testing"
)

func TestTileViewMessagesRoundTrip(t *testing.T) {
	t.Run("a tables message keeps its header and size offset", func(t *testing.T) {
		b, err := tablesMessage(1, 80)
		if err != nil {
			t.Fatal(err)
		}
		var m TablesMsg
		if err := ParseTables(&m, b); err != nil {
			t.Fatal(err)
		}
		// docs/PROTOCOL.md §4: SOI (2) + DQT (4 + 2 x 65) puts SOF0 at 136; its height at 141.
		if m.ID != 1 || m.Subsampling != 1 || m.Quality != 80 || m.SizeAt != 141 || len(m.Header) != 589 {
			t.Fatalf("%+v (header %d bytes), want id 1, 4:2:2, q80, size at 141, 589 bytes", m, len(m.Header))
		}
		if m.Header[m.SizeAt-5] != 0xff || m.Header[m.SizeAt-4] != 0xc0 {
			t.Fatalf("no SOF0 marker 5 bytes before the size: % x", m.Header[m.SizeAt-5:m.SizeAt])
		}
		if m.Header[m.SizeAt+5] != 1 || m.Header[m.SizeAt+6] != 0x21 {
			t.Fatalf("SOF0's first component % x, want id 1 sampled 2x1", m.Header[m.SizeAt+5:m.SizeAt+7])
		}
	})
	t.Run("a frame message keeps every field", func(t *testing.T) {
		in := FrameMsg{Flags: FrameReset, Tiles: 72, Batch: 7, Seq: 1 << 31, Width: 1920, Height: 1080,
			CaptureUS: 1_800_000_000_000_000, SentUS: -5, Skipped: 3, Concealed: 2}
		var out FrameMsg
		b := AppendFrame(nil, &in)
		if len(b) != frameLen {
			t.Fatalf("%d bytes, want %d", len(b), frameLen)
		}
		if err := ParseFrame(&out, b); err != nil || out != in {
			t.Fatalf("%+v, %v; want %+v", out, err, in)
		}
	})
	t.Run("a tile message keeps its place and payload", func(t *testing.T) {
		in := TileMsg{ID: 0, X: 256, Y: 128, W: 256, H: 104, Seq: 9, CaptureUS: 42, Payload: []byte{1, 2, 0xff, 0}}
		var out TileMsg
		if err := ParseTile(&out, AppendTile(nil, &in)); err != nil {
			t.Fatal(err)
		}
		if out.X != in.X || out.Y != in.Y || out.W != in.W || out.H != in.H || out.Seq != in.Seq || out.CaptureUS != in.CaptureUS || !bytes.Equal(out.Payload, in.Payload) {
			t.Fatalf("%+v, want %+v", out, in)
		}
	})
	t.Run("an ack keeps its batch", func(t *testing.T) {
		if b, err := ParseAck(AppendAck(nil, 0xdeadbeef)); err != nil || b != 0xdeadbeef {
			t.Fatalf("%#x, %v", b, err)
		}
	})
}

func TestMalformedTileViewMessagesAreErrors(t *testing.T) {
	frame := AppendFrame(nil, &FrameMsg{Width: 4, Height: 4})
	tile := AppendTile(nil, &TileMsg{W: 16, H: 16, Payload: []byte{0}})
	tables, _ := tablesMessage(0, 75)
	for _, tc := range []struct {
		name  string
		parse func([]byte) error
		msg   []byte
	}{
		{"a frame message one byte short", parseFrame, frame[:frameLen-1]},
		{"a frame message of another type", parseFrame, append([]byte{MsgTile}, frame[1:]...)},
		{"a frame of no width", parseFrame, AppendFrame(nil, &FrameMsg{Height: 4})},
		{"a tile without payload", parseTile, tile[:tileFixed]},
		{"a tile of no height", parseTile, AppendTile(nil, &TileMsg{W: 16, Payload: []byte{0}})},
		{"a tile past 65535", parseTile, AppendTile(nil, &TileMsg{X: 65535, W: 16, H: 16, Payload: []byte{0}})},
		{"tables of another version", parseTables, append([]byte{MsgTables, 2}, tables[2:]...)},
		{"tables of subsampling 2", parseTables, append([]byte{MsgTables, 1, 0, 2}, tables[4:]...)},
		{"tables of quality 0", parseTables, append([]byte{MsgTables, 1, 0, 0, 0}, tables[5:]...)},
		{"tables whose size field is past the header", parseTables, tables[:tablesFixed+141]},
		{"an ack of four bytes", func(b []byte) error { _, err := ParseAck(b); return err }, []byte{MsgAck, 0, 0, 0}},
	} {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			if err := tc.parse(tc.msg); !errors.Is(err, ErrMessage) {
				t.Fatalf("%v, want ErrMessage", err)
			}
		})
	}
}

func parseFrame(b []byte) error  { var m FrameMsg; return ParseFrame(&m, b) }
func parseTile(b []byte) error   { var m TileMsg; return ParseTile(&m, b) }
func parseTables(b []byte) error { var m TablesMsg; return ParseTables(&m, b) }

// FuzzTileViewMessages feeds every parser arbitrary bytes: none panics, and whatever
// one accepts encodes back to the same bytes.
func FuzzTileViewMessages(f *testing.F) {
	tables, _ := tablesMessage(0, 80)
	f.Add(tables)
	f.Add(AppendFrame(nil, &FrameMsg{Flags: 1, Tiles: 3, Batch: 1, Seq: 5, Width: 640, Height: 360, CaptureUS: 1, SentUS: 2}))
	f.Add(AppendTile(nil, &TileMsg{W: 256, H: 128, Payload: []byte{0xfc, 0xff, 0}}))
	f.Add(AppendAck(nil, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tm TablesMsg
		if ParseTables(&tm, b) == nil && !bytes.Equal(AppendTables(nil, &tm), withZero(b, 5)) {
			t.Fatalf("tables % x re-encode differently", b)
		}
		var fm FrameMsg
		if ParseFrame(&fm, b) == nil && !bytes.Equal(AppendFrame(nil, &fm), b) {
			t.Fatalf("frame % x re-encodes differently", b)
		}
		var tl TileMsg
		if ParseTile(&tl, b) == nil && !bytes.Equal(AppendTile(nil, &tl), b) {
			t.Fatalf("tile % x re-encodes differently", b)
		}
		if batch, err := ParseAck(b); err == nil && !bytes.Equal(AppendAck(nil, batch), b) {
			t.Fatalf("ack % x re-encodes differently", b)
		}
	})
}

// withZero is b with byte i zeroed: a reserved byte the parser ignores.
func withZero(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] = 0
	return c
}
