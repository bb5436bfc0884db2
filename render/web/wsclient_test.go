package web

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// tileViewer is a viewer of the WebSocket view written from docs/PROTOCOL.md §11
// alone: it keeps the tables, rebuilds each tile's JPEG and draws it with image/jpeg.
type tileViewer struct {
	c      *websocket.Conn
	tables map[uint8]TablesMsg
	canvas *image.RGBA
}

// batch is one frame message and its tiles, as received.
type batch struct {
	frame FrameMsg
	tiles []TileMsg
	at    time.Time // when the frame message arrived
	bytes int
}

// dialTiles connects to the view at base (http://host:port, with a ?token= if needed).
func dialTiles(t testing.TB, base string) *tileViewer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(base, "http")
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c.SetReadLimit(16 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &tileViewer{c: c, tables: map[uint8]TablesMsg{}}
}

// next reads one batch, taking in tables messages on the way, and draws its tiles.
func (v *tileViewer) next(ctx context.Context) (batch, error) {
	var b batch
	for {
		_, m, err := v.c.Read(ctx)
		if err != nil {
			return b, err
		}
		b.bytes += len(m)
		switch m[0] {
		case MsgTables:
			var tm TablesMsg
			if err := ParseTables(&tm, m); err != nil {
				return b, err
			}
			tm.Header = bytes.Clone(tm.Header)
			v.tables[tm.ID] = tm
			continue
		case MsgFrame:
			b.at = time.Now()
			if err := ParseFrame(&b.frame, m); err != nil {
				return b, err
			}
		default:
			return b, fmt.Errorf("message of type %#x where a frame message belongs", m[0])
		}
		break
	}
	f := b.frame
	if f.Flags&FrameReset != 0 || v.canvas == nil || v.canvas.Rect.Dx() != int(f.Width) || v.canvas.Rect.Dy() != int(f.Height) {
		v.canvas = image.NewRGBA(image.Rect(0, 0, int(f.Width), int(f.Height)))
	}
	for range f.Tiles {
		_, m, err := v.c.Read(ctx)
		if err != nil {
			return b, err
		}
		b.bytes += len(m)
		var tm TileMsg
		if err := ParseTile(&tm, m); err != nil {
			return b, err
		}
		tm.Payload = bytes.Clone(tm.Payload)
		if err := v.draw(&tm); err != nil {
			return b, err
		}
		b.tiles = append(b.tiles, tm)
	}
	return b, nil
}

// draw rebuilds tile m's JPEG (header with its size, scan, EOI) and draws it.
func (v *tileViewer) draw(m *TileMsg) error {
	tb, ok := v.tables[m.ID]
	if !ok {
		return fmt.Errorf("tile of table %d before its tables", m.ID)
	}
	file := append([]byte(nil), tb.Header...)
	at := int(tb.SizeAt)
	file[at], file[at+1], file[at+2], file[at+3] = byte(m.H>>8), byte(m.H), byte(m.W>>8), byte(m.W)
	file = append(append(file, m.Payload...), 0xff, 0xd9)
	img, err := jpeg.Decode(bytes.NewReader(file))
	if err != nil {
		return fmt.Errorf("tile at %d,%d: %w", m.X, m.Y, err)
	}
	if img.Bounds().Dx() != int(m.W) || img.Bounds().Dy() != int(m.H) {
		return fmt.Errorf("tile at %d,%d decodes to %v, want %dx%d", m.X, m.Y, img.Bounds(), m.W, m.H)
	}
	draw.Draw(v.canvas, image.Rect(int(m.X), int(m.Y), int(m.X+m.W), int(m.Y+m.H)), img, img.Bounds().Min, draw.Src)
	return nil
}

// ack acknowledges batch b.
func (v *tileViewer) ack(ctx context.Context, b batch) error {
	return v.c.Write(ctx, websocket.MessageBinary, AppendAck(nil, b.frame.Batch))
}
