package render

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/dir"
	"github.com/hrvs/hrvs/render/record"
	"github.com/hrvs/hrvs/render/rtpjpeg"
	"github.com/hrvs/hrvs/render/web"
	"github.com/hrvs/hrvs/render/window"
)

// Config chooses the receiver's outputs; main fills it from flags.
type Config struct {
	Sink      string        // "window", "null" or "dir:PATH"; "" means the window when one can open, else null
	HTTP      string        // listen address of the browser view; "" for none
	Record    string        // AVI file to record into; "" for none
	Frames    int           // how many frames the dir sink writes; 0 for no bound
	Title     string        // what the receiver listens on, for the window title until the sender is known
	Stats     func() any    // live stats for /stats.json (JSON-marshalable); may be nil
	StatsText func() string // live stats as a few lines for the window's overlay; may be nil
	Metrics   http.Handler  // served by the browser view as /metrics; may be nil
	Log       *slog.Logger  // may be nil
	// Token, when set, is required by the browser view (a keyed receiver's); the
	// logged link carries it.
	Token string
	// RTPOut is a HOST:PORT the newest frames are also sent to as RTP/JPEG (RFC 2435),
	// for VLC, ffplay and GStreamer; "" for none.
	RTPOut string
	// SDP is the file the RTPOut stream's session description is written to, for a
	// player to open; "" for none. It needs RTPOut.
	SDP string
	// RTSPPublish is an rtsp:// URL the same RTP/JPEG stream is published to
	// (ANNOUNCE, RECORD), reconnecting when the server drops it; "" for none.
	RTSPPublish string
}

// ErrBadSink is wrapped by Open for a --sink value it does not know.
var ErrBadSink = errors.New("unknown sink")

// output is one opened sink and the name it is logged by.
type output struct {
	name   string
	sink   Sink
	failed bool
}

// Set is every output the receiver feeds: one main sink (window, directory or nothing)
// plus the browser view, the recording and the RTP/JPEG output when asked for. It is
// itself a Sink.
type Set struct {
	outs []*output
	win  *window.Window
	dir  *dir.Writer
	log  *slog.Logger

	mu     sync.Mutex
	closed bool
}

// Open checks cfg and opens every output it names; on error nothing stays open.
func Open(cfg Config) (*Set, error) {
	s := &Set{log: cfg.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	kind, path, _ := strings.Cut(cfg.Sink, ":")
	if kind == "" {
		if window.Available() {
			kind = "window"
		} else {
			kind = "null"
		}
	}
	var err error
	switch {
	case kind == "window" && path == "":
		s.win, err = window.New(window.Options{Title: cfg.Title, StatsText: cfg.StatsText, Log: cfg.Log})
		if err != nil {
			return nil, fmt.Errorf("--sink window: %w", err)
		}
		s.outs = append(s.outs, &output{name: "window", sink: s.win})
	case kind == "null" && path == "":
	case kind == "dir":
		if path == "" {
			return nil, fmt.Errorf("%w %q: dir needs a path, as in dir:frames/", ErrBadSink, cfg.Sink)
		}
		s.dir, err = dir.New(path, dir.Options{Frames: cfg.Frames, Log: cfg.Log})
		if err != nil {
			return nil, fmt.Errorf("--sink %s: %w", cfg.Sink, err)
		}
		s.outs = append(s.outs, &output{name: "dir " + path, sink: s.dir})
	default:
		return nil, fmt.Errorf("%w %q: use window, null or dir:PATH", ErrBadSink, cfg.Sink)
	}
	if cfg.HTTP != "" {
		srv, err := web.New(cfg.HTTP, web.Options{Stats: cfg.Stats, Title: cfg.Title, Log: cfg.Log, Token: cfg.Token, Metrics: cfg.Metrics})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("--http %s: %w", cfg.HTTP, err)
		}
		url := "http://" + srv.Addr().String() + "/"
		if cfg.Token != "" {
			url += "?token=" + cfg.Token
		}
		s.log.Info("browser view", "url", url)
		s.outs = append(s.outs, &output{name: "http", sink: srv})
	}
	if cfg.Record != "" {
		rec, err := record.Create(cfg.Record, record.Options{Log: cfg.Log})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("--record %s: %w", cfg.Record, err)
		}
		s.outs = append(s.outs, &output{name: "record " + cfg.Record, sink: rec})
	}
	if cfg.RTPOut != "" || cfg.RTSPPublish != "" {
		out, err := rtpjpeg.Open(rtpjpeg.Options{To: cfg.RTPOut, SDP: cfg.SDP, Publish: cfg.RTSPPublish, Log: cfg.Log})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("RTP/JPEG out: %w", err)
		}
		if cfg.RTPOut != "" {
			s.log.Info("RTP/JPEG out", "to", out.Addr().String(), "sdp", cfg.SDP)
		}
		s.outs = append(s.outs, &output{name: "rtp", sink: out})
	}
	return s, nil
}

// Show hands f to every output. Outputs never wait on a screen, a client or a disk
// here. An output that fails is reported once, in the error returned, and fed no
// more; the others go on.
func (s *Set) Show(f *receiver.Frame) error {
	var errs []error
	for _, o := range s.outs {
		if o.failed {
			continue
		}
		if err := o.sink.Show(f); err != nil {
			o.failed = true
			s.log.Error("output failed; it gets no more frames", "output", o.name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", o.name, err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every output, finishing the recording and the files still queued.
// It may be called more than once.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for _, o := range s.outs {
		if err := o.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.name, err))
		}
	}
	return errors.Join(errs...)
}

// HasWindow reports whether the set shows a window, which RunWindow must then run.
func (s *Set) HasWindow() bool { return s.win != nil }

// RunWindow runs the window on the calling goroutine, which must be the main one, until
// ctx ends or Close is called (nil) or the user quits (an error for which
// errors.Is(err, window.ErrQuit) holds). Without a window it returns nil at once.
func (s *Set) RunWindow(ctx context.Context) error {
	if s.win == nil {
		return nil
	}
	return s.win.Run(ctx)
}

// Done is closed when the outputs have all they were asked for: the dir sink has
// written its --frames. Without a bound it is never closed.
func (s *Set) Done() <-chan struct{} {
	if s.dir != nil {
		return s.dir.Done()
	}
	return nil
}

// ErrQuit is what RunWindow returns when the user closed the window.
var ErrQuit = window.ErrQuit
