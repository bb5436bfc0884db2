package control

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// Limits on the connections a Server holds, so a flood of connections costs bounded
// memory and descriptors and can never push out a live sender.
const (
	// HelloTimeout is how long a new connection has to say hello.
	HelloTimeout = 5 * time.Second
	// MaxPending is how many connections may wait for their hello at once; a further one
	// closes the oldest waiting, so a flood of silent connections cannot keep a sender
	// that says hello at once from getting in.
	MaxPending = 16
	// MaxPerStream is how many connections may carry one stream's acknowledgements
	// (a sender that reconnected, with its old connection not yet timed out); a further
	// hello for that stream is refused while they live.
	MaxPerStream = 4
	// ackQueue is how many acks may wait for one connection's writer.
	ackQueue = 64
)

// Server is the receiver's end. It accepts control connections; one says hello naming
// its stream, and from then on receives that stream's acknowledgements and pings. Nothing
// is sent on a connection before its hello, acknowledgements go only to connections whose
// hello named their stream, and no connection displaces another: a junk, silent or
// hostile connection cannot take the acks away from a live sender. Acks are queued without
// ever blocking the caller, and the Server keeps the clock offset used to turn capture
// timestamps into latencies.
type Server struct {
	ln  net.Listener
	log *slog.Logger
	clk clock

	acks     chan []byte
	dropped  atomic.Uint64
	rejected atomic.Uint64
	warnedAt atomic.Int64 // unix ns of the last refusal logged at warn

	mu      sync.Mutex
	streams map[uint32][]*conn               // connections that said hello, by stream
	pending []*conn                          // connections waiting for their hello, oldest first
	openers map[uint32]keyedStream           // keyed streams' datagram openers
	OnHello func(stream uint32, from string) // optional; called from the connection's goroutine
	// OnNotice, when set, is called from the connection's goroutine with each notice a
	// multicast sender sends (docs/PROTOCOL.md §10.3).
	OnNotice func(n wire.Notice, from string)
	// DropCount, when set before Run, is the receiver's cumulative count of the
	// datagrams it dropped itself (its sockets' and its queue's); every connection
	// then reports it to its sender (docs/PROTOCOL.md §5.4). Called from the
	// connections' goroutines.
	DropCount func() uint64
	// Key, when set before Run, makes the Server keyed: a connection must complete the
	// handshake of docs/PROTOCOL.md §7.2 before anything else, and from then on every
	// message is sealed.
	Key *seal.Key
}

// refusalLogEvery bounds how often a refused connection is logged at warn.
const refusalLogEvery = 10 * time.Second

// Listen binds the TCP control port.
func Listen(addr string, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errorf("control listen %s: %w", addr, err)
	}
	return &Server{ln: ln, log: logf(log), acks: make(chan []byte, 256), streams: map[uint32][]*conn{},
		openers: map[uint32]keyedStream{}}, nil
}

// Addr is the bound address (nil for a Server made by NewDialing).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Offset is the sender's clock minus ours, and whether it has been measured.
func (s *Server) Offset() (time.Duration, bool) {
	return time.Duration(s.clk.offset.Load()) * time.Microsecond, s.clk.valid.Load()
}

// RTT is the latest measured round trip.
func (s *Server) RTT() time.Duration { return time.Duration(s.clk.rtt.Load()) * time.Microsecond }

// Connected reports whether a sender that said hello is attached.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams) > 0
}

// Linked reports whether a connection that said hello for stream is attached (with a
// key: one that proved it).
func (s *Server) Linked(stream uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams[stream]) > 0
}

// AcksDropped counts acknowledgements discarded because no connection of their stream
// was attached or the link was backed up; the sender treats them as lost frames.
func (s *Server) AcksDropped() uint64 { return s.dropped.Load() }

// Rejected counts connections closed without serving them: no hello in time, not a
// hello, over MaxPending or MaxPerStream.
func (s *Server) Rejected() uint64 { return s.rejected.Load() }

// SendAck queues an acknowledgement for the connections of a.Stream; it never blocks.
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

// ackStream reads the stream id an encoded Ack body starts with (§5).
func ackStream(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// Run accepts connections until ctx ends; it closes the listener on return.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if s.ln != nil {
		stop := context.AfterFunc(ctx, func() { s.ln.Close() })
		defer stop()
		defer s.ln.Close()
	}
	wg.Add(1)
	go func() { // the dispatcher: it hands each ack to its stream's connections' writers
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case b := <-s.acks:
				s.mu.Lock()
				queued := false
				for _, c := range s.streams[ackStream(b)] {
					select {
					case c.acks <- b:
						queued = true
					default: // that connection is backed up; the others still get it
					}
				}
				s.mu.Unlock()
				if !queued {
					s.dropped.Add(1)
				}
			}
		}
	}()
	if s.ln == nil { // a multicast receiver dials its sender instead (Dial)
		<-ctx.Done()
		return nil
	}
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || isClosed(err) {
				return nil
			}
			return errorf("control accept: %w", err)
		}
		c := s.admit(nc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, c)
		}()
	}
}

// admit files a new connection as waiting for its hello.
func (s *Server) admit(nc net.Conn) *conn {
	c := &conn{c: nowait(nc), acks: make(chan []byte, ackQueue)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= MaxPending {
		s.pending[0].c.Close() // its serve sees the error, counts and forgets it
		s.pending = s.pending[1:]
	}
	s.pending = append(s.pending, c)
	return c
}

// hello waits for c's hello and attaches c to its stream; it reports false (and has
// closed nothing) when c is to be refused.
func (s *Server) hello(c *conn) (uint32, bool, error) {
	buf := make([]byte, wire.MaxControlBody)
	c.c.SetReadDeadline(time.Now().Add(HelloTimeout))
	typ, body, err := wire.ReadMsg(c.c, buf)
	var stream uint32
	switch {
	case err != nil:
	case s.Key != nil:
		stream, err = s.serverHandshake(c, typ, body)
	case typ == wire.MsgAuthHello:
		refuse(c, wire.RefuseNoKey, "this receiver has no key: start it with --key FILE (the sender's key) or pair them with --pair")
		err = errors.New("sender offered a key this receiver does not have")
	case typ != wire.MsgHello:
		err = errors.New("first message is not a hello")
	default:
		var h wire.Hello
		err = h.Unmarshal(body)
		stream = h.Stream
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = slices.DeleteFunc(s.pending, func(x *conn) bool { return x == c })
	if err != nil {
		return 0, false, err
	}
	if len(s.streams[stream]) >= MaxPerStream {
		refuse(c, wire.RefuseBusy, "too many connections for this stream")
		return 0, false, fmt.Errorf("stream %08x already has %d connections", stream, MaxPerStream)
	}
	s.streams[stream] = append(s.streams[stream], c)
	c.c.SetReadDeadline(time.Time{})
	return stream, true, nil
}

func (s *Server) detach(stream uint32, c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := slices.DeleteFunc(s.streams[stream], func(x *conn) bool { return x == c })
	if len(cs) == 0 {
		delete(s.streams, stream)
	} else {
		s.streams[stream] = cs
	}
}

func (s *Server) serve(ctx context.Context, c *conn) {
	stopOnCtx := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stopOnCtx()
	defer c.c.Close()
	from := c.c.RemoteAddr().String()
	stream, ok, err := s.hello(c)
	if !ok {
		// Counted, and logged at warn at most once per refusalLogEvery (a sender holding
		// another key must be visible at this end too), at debug otherwise: a flood of
		// junk connections must not flood the log.
		n := s.rejected.Add(1)
		if now, last := time.Now().UnixNano(), s.warnedAt.Load(); now-last >= int64(refusalLogEvery) && s.warnedAt.CompareAndSwap(last, now) {
			s.log.Warn("control: refused a connection (more refusals are counted, logged at most every 10 s)", "from", from, "err", err, "refused", n)
		} else {
			s.log.Debug("control: refused connection", "from", from, "err", err)
		}
		return
	}
	defer s.detach(stream, c)
	s.log.Info("control: sender connected", "from", from, "stream", stream, "keyed", s.Key != nil)
	if s.OnHello != nil {
		s.OnHello(stream, from)
	}
	done := make(chan struct{})
	var writers sync.WaitGroup
	defer writers.Wait()
	defer close(done)
	writers.Go(func() { pinger(c, done) })
	writers.Go(func() {
		// Each connection writes its own acks, so one that stops reading (its writes
		// time out and close it) delays no other.
		var drops *dropsReporter
		var poll <-chan time.Time
		if s.DropCount != nil {
			drops = &dropsReporter{stream: stream, count: s.DropCount}
			t := time.NewTicker(dropsPoll)
			defer t.Stop()
			poll = t.C
			if drops.report(c, time.Now(), false) != nil {
				c.c.Close()
				return
			}
		}
		for {
			select {
			case <-done:
				return
			case now := <-poll:
				if drops.report(c, now, false) != nil {
					c.c.Close()
					return
				}
			case b := <-c.acks:
				if drops != nil && drops.report(c, time.Now(), true) != nil {
					c.c.Close()
					return
				}
				if c.send(wire.MsgAck, b) != nil {
					c.c.Close()
					return
				}
			}
		}
	})
	buf := make([]byte, maxSealedBody)
	for {
		if c.idle > 0 {
			c.c.SetReadDeadline(time.Now().Add(c.idle))
		}
		typ, body, err := c.read(buf)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Info("control: sender went away", "from", from, "err", err)
			}
			return
		}
		ok, err := answerPings(c, &s.clk, typ, body)
		if err == nil && !ok && typ == wire.MsgNotice {
			err = s.notice(body, from)
		}
		if err != nil {
			s.log.Warn("control: bad message", "from", from, "err", err)
			return
		}
	}
}

// Close stops accepting connections; Run returns soon after.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	return s.ln.Close()
}
