// Package web serves the received video to browsers: a page that draws the picture
// from JPEG tiles sent over a WebSocket, only those that changed (docs/PROTOCOL.md
// §11), and the whole picture as MJPEG (multipart/x-mixed-replace, which every
// browser shows in an <img>) for tools that want it, with live stats, /snapshot.jpg
// and /stats.json. Each frame is encoded at most once for all viewers of a kind, and
// only while someone is watching; a slow client gets the newest picture when it is
// ready for one and misses the rest, so no client can hold up the receiver or another.
package web

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/net/receiver/mailbox"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/render/internal/jpegenc"
)

// Boundary separates the pictures of the MJPEG stream.
const Boundary = "hrvsframe"

const (
	defaultQuality    = 80
	defaultMaxClients = 32
	writeTimeout      = 10 * time.Second // a client that takes longer for one picture is dropped
	snapshotTimeout   = 5 * time.Second
	// stalledAfter: a stream client that has not taken a picture for this long, while
	// pictures were there for it, is not reading; it is the first to go when the view
	// is full.
	stalledAfter = 2 * time.Second
	// maxRequests bounds the other endpoints' requests in flight at once.
	maxRequests = 64
	// tokenCookie carries the token after the page was opened with ?token=.
	tokenCookie = "hrvs_token"
)

// Options tune a Server.
type Options struct {
	Title      string     // what the receiver listens on, for the page title
	Stats      func() any // served as /stats.json; nil serves the view's own figures
	Quality    int        // JPEG quality, 1..100; 0 means 80
	MaxClients int        // streams (MJPEG and WebSocket) served at once; 0 means 32
	// TileW and TileH are the WebSocket view's tile size in pixels, multiples of 16;
	// 0 means net/tile's default (256 x 128).
	TileW, TileH int
	// AckTimeout is how long a WebSocket viewer has to take a batch of tiles and
	// acknowledge it before it is dropped; 0 means 10 s.
	AckTimeout time.Duration
	// Token, when set, is required of every request, as ?token= or the cookie the
	// page sets from it (a keyed receiver's view: docs/SECURITY.md).
	Token string
	// Metrics, when set, is served as /metrics (Prometheus's exposition format), behind
	// the token like every other endpoint.
	Metrics http.Handler
	Log     *slog.Logger
}

// Server is a Sink that serves the newest frame over HTTP.
type Server struct {
	opt    Options
	ln     net.Listener
	srv    *http.Server
	ctx    context.Context // ends every stream on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // wakes the encoder

	frames  *mailbox.Box[numbered] // newest frame not yet encoded
	tframes *mailbox.Box[numbered] // newest frame not yet tiled
	tkick   chan struct{}          // wakes the tiler

	mu      sync.Mutex
	gen     uint64 // counts frames shown: the number of the newest
	info    frameInfo
	jpeg    *picture      // newest encoded picture
	changed chan struct{} // closed and replaced when jpeg changes
	wanted  int           // streams and snapshot requests waiting for pictures
	closed  bool

	tset      *tileSet      // newest tiles
	tchanged  chan struct{} // closed and replaced when tset changes
	wsViewers int           // WebSocket viewers

	viewers      map[*viewer]struct{} // stream clients, under mu
	requests     chan struct{}        // a slot per request in flight on the other endpoints
	clients      atomic.Int64
	encoded      atomic.Uint64
	served       atomic.Uint64
	refused      atomic.Uint64
	dropped      atomic.Uint64
	busy         atomic.Uint64
	unauthorized atomic.Uint64
	encodeNs     atomic.Int64
	mjpegBytes   atomic.Uint64

	tileFrames   atomic.Uint64 // frames tiled
	tilesEncoded atomic.Uint64
	untiled      atomic.Uint64 // frames the tiler could not cut (a layout it cannot carry)
	tileNs       atomic.Int64
	wsBatches    atomic.Uint64
	wsTilesSent  atomic.Uint64
	wsSkipped    atomic.Uint64 // frames viewers missed because they were slower
	wsBytes      atomic.Uint64
	wsBad        atomic.Uint64 // malformed or unexpected messages from pages, dropped
	wsDropped    atomic.Uint64 // viewers that did not take and ack a batch within AckTimeout
}

// numbered is a frame with its number among the frames shown, so a picture says
// which frame it is of.
type numbered struct {
	f   *receiver.Frame
	gen uint64
}

func (n numbered) Release() { n.f.Release() }

type picture struct {
	data []byte
	gen  uint64
	seq  uint32
}

type frameInfo struct {
	Seq    uint32 `json:"seq"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Sender string `json:"sender,omitempty"`
}

// New listens on addr (host:port; ":0" picks a port) and serves until Close.
func New(addr string, opt Options) (*Server, error) {
	if opt.Quality <= 0 || opt.Quality > 100 {
		opt.Quality = defaultQuality
	}
	if opt.MaxClients <= 0 {
		opt.MaxClients = defaultMaxClients
	}
	if opt.AckTimeout <= 0 {
		opt.AckTimeout = writeTimeout
	}
	if opt.TileW <= 0 {
		opt.TileW = tile.DefaultW
	}
	if opt.TileH <= 0 {
		opt.TileH = tile.DefaultH
	}
	// 4:2:0's MCU grid is the stricter: a size that suits it suits 4:2:2.
	sub420, _ := tile.SubsampleCode(image.YCbCrSubsampleRatio420)
	if _, err := tile.NewGrid(opt.TileW, opt.TileH, opt.TileW, opt.TileH, sub420); err != nil {
		return nil, fmt.Errorf("browser view: %w", err)
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, ln: ln, kick: make(chan struct{}, 1), changed: make(chan struct{}),
		frames: mailbox.New[numbered](), tframes: mailbox.New[numbered](), tkick: make(chan struct{}, 1),
		tchanged: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.viewers = map[*viewer]struct{}{}
	s.requests = make(chan struct{}, maxRequests)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.guard(s.limited(s.tilePage)))
	mux.HandleFunc("GET /mjpeg", s.guard(s.limited(s.page)))
	mux.HandleFunc("GET /ws", s.guard(s.ws))
	mux.HandleFunc("GET /stream.mjpg", s.guard(s.stream))
	mux.HandleFunc("GET /snapshot.jpg", s.guard(s.limited(s.snapshot)))
	mux.HandleFunc("GET /stats.json", s.guard(s.limited(s.stats)))
	if opt.Metrics != nil {
		mux.HandleFunc("GET /metrics", s.guard(s.limited(opt.Metrics.ServeHTTP)))
	}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       30 * time.Second, // keep-alive connections that say nothing go
		MaxHeaderBytes:    8 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(opt.Log.Handler(), slog.LevelDebug),
	}
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opt.Log.Error("browser view stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.encoder()
	}()
	go func() {
		defer s.wg.Done()
		s.tiles()
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Show keeps f as the newest frame and wakes the encoder and the tiler if anyone is
// watching. It never encodes or waits for a client.
func (s *Server) Show(f *receiver.Frame) error {
	f.Retain()
	f.Retain()
	s.mu.Lock()
	s.gen++
	// Under s.mu, so the boxes never hold a frame older than s.gen says; after
	// Close, Put releases the frame at once.
	s.frames.Put(numbered{f: f, gen: s.gen})
	s.tframes.Put(numbered{f: f, gen: s.gen})
	s.info = frameInfo{Seq: f.Seq, Sender: f.Sender}
	if f.Image != nil {
		s.info.Width, s.info.Height = f.Image.Rect.Dx(), f.Image.Rect.Dy()
	}
	wanted, tiles := s.wanted > 0, s.wsViewers > 0
	s.mu.Unlock()
	if wanted {
		s.wake()
	}
	if tiles {
		s.wakeTiler()
	}
	return nil
}

// Close ends every stream, shuts the server down and gives back the frame it held.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	s.wg.Wait()
	s.frames.Close()
	s.tframes.Close()
	return err
}

func (s *Server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// encoder turns the newest frame into JPEG whenever someone waits for one and a
// frame newer than the newest picture is waiting.
func (s *Server) encoder() {
	s.work(s.kick, s.frames, func() bool { return s.wanted > 0 }, func(n numbered) {
		f, gen := n.f, n.gen
		start := time.Now()
		// A new slice every time: clients may still be writing the previous picture.
		data, err := jpegenc.Encode(nil, f.Image, s.opt.Quality)
		s.encodeNs.Add(int64(time.Since(start)))
		seq := f.Seq
		f.Release()
		if err != nil {
			s.opt.Log.Error("browser view: encoding a frame", "err", err)
			return
		}
		s.encoded.Add(1)
		s.mu.Lock()
		s.jpeg = &picture{data: data, gen: gen, seq: seq}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	})
}

// work is the loop of the encoder and of the tiler: each time kick wakes it, it
// takes the newest frame from box and hands it to do, while wanted (read under
// s.mu) says somebody watches; otherwise the frame stays in the box for the first
// viewer. It returns when the server's context ends.
func (s *Server) work(kick <-chan struct{}, box *mailbox.Box[numbered], wanted func() bool, do func(numbered)) {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-kick:
		}
		s.mu.Lock()
		w := wanted()
		s.mu.Unlock()
		if !w {
			continue
		}
		if n, ok := box.TryTake(); ok {
			do(n)
		}
	}
}

// want registers a waiter for pictures; the returned func unregisters it.
func (s *Server) want() func() {
	s.mu.Lock()
	s.wanted++
	s.mu.Unlock()
	s.wake()
	return func() {
		s.mu.Lock()
		s.wanted--
		s.mu.Unlock()
	}
}

// newer returns the newest picture if it is newer than generation after, else the
// channel that is closed when it changes.
func (s *Server) newer(after uint64) (*picture, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jpeg != nil && s.jpeg.gen > after {
		return s.jpeg, nil
	}
	return nil, s.changed
}

// viewer is one /stream.mjpg client: cancel ends it, lastTaken is when it last took
// a picture (Unix ns), waiting whether a picture is there for it that it has not taken.
type viewer struct {
	cancel    context.CancelFunc
	lastTaken atomic.Int64
	behind    atomic.Bool
}

// admit makes room for a new stream client: under the cap it is let in; at the cap the
// client that has been stalled longest (not reading while pictures waited for it) is
// dropped for it; if every client is reading, the new one is refused.
func (s *Server) admit(v *viewer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.viewers) >= s.opt.MaxClients {
		var worst *viewer
		now := time.Now().UnixNano()
		for c := range s.viewers {
			if c.behind.Load() && now-c.lastTaken.Load() > int64(stalledAfter) &&
				(worst == nil || c.lastTaken.Load() < worst.lastTaken.Load()) {
				worst = c
			}
		}
		if worst == nil {
			return false
		}
		worst.cancel()
		delete(s.viewers, worst)
		s.dropped.Add(1)
	}
	s.viewers[v] = struct{}{}
	return true
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
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
	s.clients.Add(1)
	defer s.clients.Add(-1)
	defer s.want()()
	r = r.WithContext(ctx)
	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+Boundary)
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := fmt.Fprintf(w, "--%s\r\n", Boundary); err != nil {
		return
	}
	rc.Flush()
	// The first picture is of the newest frame at the time of connecting, not an
	// older one encoded for someone else long ago.
	s.mu.Lock()
	sent := max(s.gen, 1) - 1
	s.mu.Unlock()
	for {
		p, ch := s.newer(sent)
		if p == nil {
			s.wake()
			select {
			case <-ch:
				continue
			case <-r.Context().Done():
				return
			}
		}
		v.behind.Store(true) // a picture waits for it until the write below is done
		// The boundary goes right after each picture: browsers show a part only once
		// the next boundary arrives.
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := fmt.Fprintf(w, "Content-Type: image/jpeg\r\nContent-Length: %d\r\nX-Frame-Seq: %d\r\n\r\n", len(p.data), p.seq); err != nil {
			return
		}
		if _, err := w.Write(p.data); err != nil {
			return
		}
		if _, err := fmt.Fprintf(w, "\r\n--%s\r\n", Boundary); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		s.mjpegBytes.Add(uint64(len(p.data)))
		v.lastTaken.Store(time.Now().UnixNano())
		v.behind.Store(false)
		s.served.Add(1)
		sent = p.gen
	}
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	defer s.want()()
	timeout := time.NewTimer(snapshotTimeout)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		have, gen, p, ch := s.gen > 0, s.gen, s.jpeg, s.changed
		s.mu.Unlock()
		if !have {
			http.Error(w, "no frame received yet", http.StatusServiceUnavailable)
			return
		}
		if p != nil && p.gen == gen {
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
			h := w.Header()
			h.Set("Content-Type", "image/jpeg")
			h.Set("Content-Length", strconv.Itoa(len(p.data)))
			h.Set("Cache-Control", "no-store")
			h.Set("X-Frame-Seq", strconv.FormatUint(uint64(p.seq), 10))
			w.Write(p.data)
			return
		}
		s.wake()
		select {
		case <-ch:
		case <-timeout.C:
			http.Error(w, "no picture within "+snapshotTimeout.String(), http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// ViewStats are the view's own figures, served as /stats.json when the receiver
// gives none.
type ViewStats struct {
	Frame        frameInfo `json:"frame"`
	Viewers      int64     `json:"viewers"`
	JPEGsEncoded uint64    `json:"jpegs_encoded"`
	JPEGsServed  uint64    `json:"jpegs_served"`
	EncodeMs     float64   `json:"encode_ms_avg"`
	Refused      uint64    `json:"viewers_refused"`
	Dropped      uint64    `json:"viewers_dropped"` // stalled viewers dropped to make room
	Busy         uint64    `json:"requests_refused"`
	Unauthorized uint64    `json:"requests_unauthorized"`
	MJPEGBytes   uint64    `json:"mjpeg_bytes"` // JPEG bytes written to /stream.mjpg clients

	// The WebSocket tile view's (docs/PROTOCOL.md §11).
	WSViewers    int     `json:"ws_viewers"`
	TileFrames   uint64  `json:"tile_frames"`   // frames cut into tiles
	TilesEncoded uint64  `json:"tiles_encoded"` // once per changed tile, whatever the viewers
	TileMs       float64 `json:"tile_ms_avg"`   // per frame tiled: comparing and encoding
	Untiled      uint64  `json:"frames_untiled"`
	WSBatches    uint64  `json:"ws_batches"`
	WSTilesSent  uint64  `json:"ws_tiles_sent"`
	WSSkipped    uint64  `json:"ws_frames_skipped"` // frames slower viewers missed
	WSBytes      uint64  `json:"ws_bytes"`          // message bytes sent, WebSocket framing aside
	WSBad        uint64  `json:"ws_bad_messages"`   // dropped: malformed, unexpected, too long
	WSDropped    uint64  `json:"ws_viewers_dropped"`
}

// Stats returns the view's own figures.
func (s *Server) Stats() ViewStats {
	s.mu.Lock()
	info, ws := s.info, s.wsViewers
	s.mu.Unlock()
	v := ViewStats{Frame: info, Viewers: s.clients.Load(), JPEGsEncoded: s.encoded.Load(),
		JPEGsServed: s.served.Load(), Refused: s.refused.Load(), Dropped: s.dropped.Load(),
		Busy: s.busy.Load(), Unauthorized: s.unauthorized.Load(), MJPEGBytes: s.mjpegBytes.Load(),
		WSViewers: ws, TileFrames: s.tileFrames.Load(), TilesEncoded: s.tilesEncoded.Load(),
		Untiled: s.untiled.Load(), WSBatches: s.wsBatches.Load(), WSTilesSent: s.wsTilesSent.Load(),
		WSSkipped: s.wsSkipped.Load(), WSBytes: s.wsBytes.Load(), WSBad: s.wsBad.Load(),
		WSDropped: s.wsDropped.Load()}
	if v.JPEGsEncoded > 0 {
		v.EncodeMs = float64(s.encodeNs.Load()) / float64(v.JPEGsEncoded) / 1e6
	}
	if v.TileFrames > 0 {
		v.TileMs = float64(s.tileNs.Load()) / float64(v.TileFrames) / 1e6
	}
	return v
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	var v any = s.Stats()
	if s.opt.Stats != nil {
		v = s.opt.Stats()
	}
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

//go:embed page.html
var pageHTML string

//go:embed ws.html
var tilePageHTML string

var (
	pageTmpl     = template.Must(template.New("page").Parse(pageHTML))
	tilePageTmpl = template.Must(template.New("tiles").Parse(tilePageHTML))
)

// page serves the MJPEG view; tilePage the WebSocket one.
func (s *Server) page(w http.ResponseWriter, r *http.Request) { s.servePage(w, pageTmpl) }

func (s *Server) tilePage(w http.ResponseWriter, r *http.Request) { s.servePage(w, tilePageTmpl) }

func (s *Server) servePage(w http.ResponseWriter, tmpl *template.Template) {
	s.mu.Lock()
	sender := s.info.Sender
	s.mu.Unlock()
	title := "HRVS"
	switch {
	case sender != "":
		title = "HRVS: video from " + sender
	case s.opt.Title != "":
		title = "HRVS: receiver on " + s.opt.Title
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	tmpl.Execute(w, struct{ Title string }{title})
}

// guard lets a request through when the view needs no token or the request carries it
// (as ?token=, which also sets the cookie the page's own requests then carry).
func (s *Server) guard(h http.HandlerFunc) http.HandlerFunc {
	if s.opt.Token == "" {
		return h
	}
	want := []byte(s.opt.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("token"); q != "" && subtle.ConstantTimeCompare([]byte(q), want) == 1 {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: s.opt.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			h(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), want) == 1 {
			h(w, r)
			return
		}
		s.unauthorized.Add(1)
		http.Error(w, "this view needs the token printed by hrvs recv at start", http.StatusUnauthorized)
	}
}

// limited bounds the requests in flight on an endpoint other than the stream: past
// maxRequests, a request is refused at once instead of queueing.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.requests <- struct{}{}:
			defer func() { <-s.requests }()
			h(w, r)
		default:
			s.busy.Add(1)
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}
}
