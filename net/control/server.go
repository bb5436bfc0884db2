package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/wire"
)

// Server is the receiver's end: it accepts the sender's control connection (a new
// connection replaces the old one, so a restarted sender takes over at once),
// queues acknowledgements without ever blocking the caller, and keeps the clock
// offset used to turn capture timestamps into latencies.
type Server struct {
	ln  net.Listener
	log *slog.Logger
	clk clock

	acks    chan []byte
	dropped atomic.Uint64

	mu      sync.Mutex
	cur     *conn
	stream  atomic.Uint32
	OnHello func(stream uint32, from string) // optional; called from the connection's goroutine
}

// Listen binds the TCP control port.
func Listen(addr string, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errorf("control listen %s: %w", addr, err)
	}
	return &Server{ln: ln, log: logf(log), acks: make(chan []byte, 256)}, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Offset is the sender's clock minus ours, and whether it has been measured.
func (s *Server) Offset() (time.Duration, bool) {
	return time.Duration(s.clk.offset.Load()) * time.Microsecond, s.clk.valid.Load()
}

// RTT is the latest measured round trip.
func (s *Server) RTT() time.Duration { return time.Duration(s.clk.rtt.Load()) * time.Microsecond }

// Connected reports whether a sender is attached.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil
}

// AcksDropped counts acknowledgements discarded because no sender was connected or
// the link was backed up; the sender treats them as lost frames.
func (s *Server) AcksDropped() uint64 { return s.dropped.Load() }

// SendAck queues an acknowledgement; it never blocks.
func (s *Server) SendAck(a *wire.Ack) {
	if !s.Connected() {
		s.dropped.Add(1)
		return
	}
	b := make([]byte, a.MarshalSize())
	if _, err := a.MarshalTo(b); err != nil {
		s.dropped.Add(1)
		return
	}
	select {
	case s.acks <- b:
	default:
		s.dropped.Add(1)
	}
}

// Run accepts connections until ctx ends; it closes the listener on return.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	defer wg.Wait()
	defer s.ln.Close()
	go func() { // the writer: one per server, it follows whichever connection is current
		for {
			select {
			case <-ctx.Done():
				return
			case b := <-s.acks:
				s.mu.Lock()
				c := s.cur
				s.mu.Unlock()
				if c == nil || c.send(wire.MsgAck, b) != nil {
					s.dropped.Add(1)
				}
			}
		}
	}()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || isClosed(err) {
				return nil
			}
			return errorf("control accept: %w", err)
		}
		c := &conn{c: nc}
		s.mu.Lock()
		if s.cur != nil {
			s.cur.c.Close()
		}
		s.cur = c
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, c)
		}()
	}
}

func (s *Server) serve(ctx context.Context, c *conn) {
	done := make(chan struct{})
	var pings sync.WaitGroup
	stopOnCtx := context.AfterFunc(ctx, func() { c.c.Close() })
	defer func() {
		stopOnCtx()
		c.c.Close()
		close(done)
		pings.Wait()
		s.mu.Lock()
		if s.cur == c {
			s.cur = nil
		}
		s.mu.Unlock()
	}()
	from := c.c.RemoteAddr().String()
	buf := make([]byte, wire.MaxControlBody)
	// The hello must come first and soon; anything else is not a sender.
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, body, err := wire.ReadMsg(c.c, buf)
	var h wire.Hello
	if err == nil && typ != wire.MsgHello {
		err = errors.New("first message is not a hello")
	}
	if err == nil {
		err = h.Unmarshal(body)
	}
	if err != nil {
		s.log.Warn("control: rejected connection", "from", from, "err", err)
		return
	}
	c.c.SetReadDeadline(time.Time{})
	s.stream.Store(h.Stream)
	s.log.Info("control: sender connected", "from", from, "stream", h.Stream)
	if s.OnHello != nil {
		s.OnHello(h.Stream, from)
	}
	pings.Add(1)
	go func() {
		defer pings.Done()
		pinger(c, done)
	}()
	for {
		typ, body, err := wire.ReadMsg(c.c, buf)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Info("control: sender went away", "from", from, "err", err)
			}
			return
		}
		if _, err := answerPings(c, &s.clk, typ, body); err != nil {
			s.log.Warn("control: bad message", "from", from, "err", err)
			return
		}
	}
}

// Close stops accepting connections; Run returns soon after.
func (s *Server) Close() error { return s.ln.Close() }
