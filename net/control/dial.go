package control

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// NewDialing makes a receiver's Server that opens its control connections itself
// instead of accepting them: a multicast receiver dials its sender (docs/PROTOCOL.md
// §10.2), since the sender cannot know its receivers. Once connected, the link is the
// same as an accepted one: the sender speaks first (hello or auth hello), the receiver
// acknowledges and pings. Run serves acknowledgements; Dial makes the connections.
func NewDialing(log *slog.Logger) *Server {
	return &Server{log: logf(log), acks: make(chan []byte, 256), streams: map[uint32][]*conn{},
		openers: map[uint32]keyedStream{}}
}

// DialRetry is the pause between a dialling receiver's connection attempts.
const DialRetry = 500 * time.Millisecond

// Dial keeps one control connection to the sender that target names (host:port, or
// false while no sender is known) until ctx ends: it dials, serves the connection
// until it breaks, and dials again, at most once per DialRetry. dial opens the
// connection (nil: net.Dialer). Failures are logged once per outage.
func (s *Server) Dial(ctx context.Context, target func() (string, bool), dial func(ctx context.Context, addr string) (net.Conn, error)) {
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	warned := ""
	for ctx.Err() == nil {
		at := time.Now()
		if addr, ok := target(); ok {
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			nc, err := dial(dctx, addr)
			cancel()
			switch {
			case err != nil && warned != addr && ctx.Err() == nil:
				s.log.Warn("control: sender's control port not reachable, retrying", "addr", addr, "err", err)
				warned = addr
			case err == nil:
				warned = ""
				c := s.admit(nc)
				c.idle = 5 * PingInterval
				s.serve(ctx, c)
			}
		}
		if d := DialRetry - time.Since(at); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
}

// notice hands a multicast sender's notice to OnNotice, and logs a change of state.
func (s *Server) notice(body []byte, from string) error {
	n, err := wire.ParseNotice(body)
	if err != nil {
		return err
	}
	if n.State == wire.NoticeLeftBehind {
		s.log.Warn("control: the multicast sender left this receiver behind: it no longer waits for it; the refresh still heals the picture",
			"from", from, "loss_pct", float64(n.LossBP)/100, "group_mbit_per_s", float64(n.GroupKbps)/1000, "reason", n.Reason)
	} else {
		s.log.Info("control: back in step with the multicast group", "from", from)
	}
	if s.OnNotice != nil {
		s.OnNotice(n, from)
	}
	return nil
}
