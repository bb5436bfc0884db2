package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

const (
	// maxClientMessage bounds what the page may send: its messages are 5-byte acks.
	// A longer one closes the connection (WebSocket status 1009).
	maxClientMessage = 64
	// maxBadMessages is how many malformed messages a connection may send before it
	// is closed: each is dropped and counted, and a page that sends this many is broken.
	maxBadMessages = 64
)

// tiles is the tiler goroutine: whenever a WebSocket viewer watches and a frame newer
// than the tiles is waiting, it brings the tiles up to that frame, encoding only those
// that changed, once for every viewer.
func (s *Server) tiles() {
	t := &tiler{quality: s.opt.Quality, tw: s.opt.TileW, th: s.opt.TileH}
	s.work(s.tkick, s.tframes, func() bool { return s.wsViewers > 0 }, func(n numbered) {
		start := time.Now()
		set, encoded, err := t.update(n.f, n.gen)
		n.f.Release()
		s.tileNs.Add(int64(time.Since(start)))
		s.tilesEncoded.Add(uint64(encoded))
		if err != nil {
			s.untiled.Add(1)
			s.opt.Log.Debug("browser view: tiling a frame", "err", err)
			return
		}
		s.tileFrames.Add(1)
		s.mu.Lock()
		s.tset = set
		close(s.tchanged)
		s.tchanged = make(chan struct{})
		s.mu.Unlock()
	})
}

func (s *Server) wakeTiler() {
	select {
	case s.tkick <- struct{}{}:
	default:
	}
}

// newerTiles returns the tiles if they are up to a frame newer than after, else the
// channel that is closed when they change.
func (s *Server) newerTiles(after uint64) (*tileSet, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tset != nil && s.tset.gen > after {
		return s.tset, nil
	}
	return nil, s.tchanged
}

// ws serves one WebSocket viewer (docs/PROTOCOL.md §11): the tables, then batches of
// the tiles it lacks, one batch in flight until the page acknowledges it.
func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	// A hijacked connection outlives Shutdown: Close waits for it through s.wg, which
	// takes no new member once closed.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	v := &viewer{cancel: cancel}
	v.lastTaken.Store(time.Now().UnixNano())
	if !s.admit(v) {
		s.refused.Add(1)
		http.Error(w, "too many viewers", http.StatusServiceUnavailable)
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.viewers, v)
		s.mu.Unlock()
	}()
	// The server's request deadlines would otherwise end the socket after ReadTimeout.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	// Accept checks that the page comes from this origin (cross-site WebSocket
	// hijacking) and answers the handshake's errors itself.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		s.opt.Log.Debug("browser view: WebSocket handshake", "err", err)
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(maxClientMessage)

	s.mu.Lock()
	s.wsViewers++
	// The first batch is of the newest frame at the time of connecting.
	sent := max(s.gen, 1) - 1
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.wsViewers--
		s.mu.Unlock()
	}()
	s.wakeTiler()

	acks := make(chan uint32, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel() // a page that went away ends the writer too
		s.readAcks(ctx, c, acks)
	}()
	defer func() { cancel(); c.CloseNow(); <-done }()

	wv := wsViewer{s: s, c: c, v: v, sent: sent}
	if err := wv.run(ctx, acks); err != nil && ctx.Err() == nil {
		s.opt.Log.Debug("browser view: WebSocket viewer", "err", err)
	}
}

// readAcks reads the page's messages until the connection ends, passing acks on and
// dropping (and counting) anything else.
func (s *Server) readAcks(ctx context.Context, c *websocket.Conn, acks chan<- uint32) {
	bad := 0
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				s.wsBad.Add(1)
			}
			return
		}
		batch, err := ParseAck(b)
		if typ != websocket.MessageBinary || err != nil {
			s.wsBad.Add(1)
			if bad++; bad >= maxBadMessages {
				c.Close(websocket.StatusPolicyViolation, "too many malformed messages")
				return
			}
			continue
		}
		select {
		case acks <- batch:
		default:
			s.wsBad.Add(1) // a second ack while one waits: the page acks what it was not sent
		}
	}
}

// wsViewer is the sending half of one WebSocket viewer.
type wsViewer struct {
	s     *Server
	c     *websocket.Conn
	v     *viewer
	sent  uint64   // number of the newest frame sent
	epoch uint64   // of the tiles have refers to
	have  []uint64 // version of each tile the page has; 0 none
	batch uint32
	table [2]bool // tables sent, by id
	buf   []byte
}

func (wv *wsViewer) run(ctx context.Context, acks <-chan uint32) error {
	s := wv.s
	for {
		set, ch := s.newerTiles(wv.sent)
		if set == nil {
			s.wakeTiler()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		wv.v.behind.Store(true)
		if err := wv.deliver(ctx, set, acks); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				s.wsDropped.Add(1)
			}
			return err
		}
		wv.v.lastTaken.Store(time.Now().UnixNano())
		wv.v.behind.Store(false)
	}
}

// deliver sends a batch and waits for its ack, within the ack timeout.
func (wv *wsViewer) deliver(ctx context.Context, set *tileSet, acks <-chan uint32) error {
	ctx, cancel := context.WithTimeoutCause(ctx, wv.s.opt.AckTimeout, context.DeadlineExceeded)
	defer cancel()
	if err := wv.send(ctx, set); err != nil {
		return err
	}
	for {
		select {
		case b := <-acks:
			if b == wv.batch {
				return nil
			}
			wv.s.wsBad.Add(1)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// send writes one batch: the tables if the page lacks them, a frame message and every
// tile newer than the page's.
func (wv *wsViewer) send(ctx context.Context, set *tileSet) error {
	s := wv.s
	var flags uint8
	if set.epoch != wv.epoch || wv.have == nil {
		wv.epoch, wv.have, flags = set.epoch, make([]uint64, len(set.tiles)), FrameReset
	}
	if !wv.table[set.tableID&1] {
		if err := wv.write(ctx, set.tables); err != nil {
			return err
		}
		wv.table[set.tableID&1] = true
	}
	n := 0
	for i, t := range set.tiles {
		if t.ver > wv.have[i] {
			n++
		}
	}
	var skipped uint64
	if wv.sent > 0 {
		skipped = set.gen - wv.sent - 1
	}
	wv.batch++
	fm := FrameMsg{Flags: flags, Tiles: uint16(n), Batch: wv.batch, Seq: set.seq,
		Width: uint16(set.grid.W), Height: uint16(set.grid.H), CaptureUS: set.captureUS,
		SentUS: time.Now().UnixMicro(), Skipped: uint32(min(skipped, 1<<32-1)), Concealed: uint32(set.concealed)}
	wv.buf = AppendFrame(wv.buf[:0], &fm)
	if err := wv.write(ctx, wv.buf); err != nil {
		return err
	}
	for i, t := range set.tiles {
		if t.ver <= wv.have[i] {
			continue
		}
		r := set.grid.Rect(i)
		tm := TileMsg{ID: set.tableID, X: uint16(r.Min.X), Y: uint16(r.Min.Y), W: uint16(r.Dx()), H: uint16(r.Dy()),
			Seq: t.seq, CaptureUS: t.captureUS, Payload: t.data}
		wv.buf = AppendTile(wv.buf[:0], &tm)
		if err := wv.write(ctx, wv.buf); err != nil {
			return err
		}
		wv.have[i] = t.ver
	}
	wv.sent = set.gen
	s.wsBatches.Add(1)
	s.wsTilesSent.Add(uint64(n))
	s.wsSkipped.Add(skipped)
	return nil
}

func (wv *wsViewer) write(ctx context.Context, b []byte) error {
	if err := wv.c.Write(ctx, websocket.MessageBinary, b); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	wv.s.wsBytes.Add(uint64(len(b)))
	return nil
}
