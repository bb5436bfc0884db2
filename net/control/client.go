package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/wire"
)

// Client is the sender's end: it keeps dialling the receiver until it answers,
// says hello, hands every acknowledgement to OnAck, and redials when the link breaks.
type Client struct {
	Addr   string
	Stream uint32
	Log    *slog.Logger
	// OnAck is called from the client's goroutine for every acknowledgement. The
	// Ack's bitmap is only valid during the call.
	OnAck func(a *wire.Ack, at time.Time)
	// OnDrops, when set, is called from the client's goroutine with each count of
	// the datagrams the receiver dropped itself (docs/PROTOCOL.md §5.4) whose stream
	// is Stream. A receiver that does not count sends none.
	OnDrops func(d wire.Drops, at time.Time)
	// Retry is the pause between connection attempts (default 500 ms).
	Retry time.Duration
	// Dial, when set, opens the connection instead of net.Dialer: a sender running
	// inside a network namespace needs its connections dialled there too.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Key, when set, makes the link keyed (docs/PROTOCOL.md §7.2): the client proves the
	// key with Suite and Random (the sender's random value, from which its datagram key
	// is derived), telling the receiver NextCounter, the datagram counter it seals next.
	Key         *seal.Key
	Suite       seal.Suite
	Random      [wire.RandomSize]byte
	NextCounter func() uint64

	clk        clock
	refusal    atomic.Pointer[error]
	cur        atomic.Pointer[conn] // the connection being served, for tests
	readyOnce  sync.Once
	ready      chan struct{} // closed once the first connection is served (after its handshake)
	readyInit  sync.Once
	connected  atomic.Bool
	reconnects atomic.Uint64
}

// Ready is closed once the receiver's first message arrived on a connection: it has
// attached the link and, with a key, proved it and installed the datagram key. A keyed
// sender waits for it, since before that no receiver can open its datagrams.
func (c *Client) Ready() <-chan struct{} {
	c.readyInit.Do(func() { c.ready = make(chan struct{}) })
	return c.ready
}

// Connected reports whether the control link is up.
func (c *Client) Connected() bool { return c.connected.Load() }

// Refusal is why the receiver refused the last connection (a key mismatch, say), or nil
// once a connection was served.
func (c *Client) Refusal() error {
	if e := c.refusal.Load(); e != nil {
		return *e
	}
	return nil
}

// RTT is the latest measured round trip (0 before the first pong).
func (c *Client) RTT() time.Duration { return time.Duration(c.clk.rtt.Load()) * time.Microsecond }

// Reconnects counts connections made after the first.
func (c *Client) Reconnects() uint64 { return c.reconnects.Load() }

// Run dials and serves the link until ctx ends. Failures to connect are logged once
// per outage, not once per attempt.
func (c *Client) Run(ctx context.Context) error {
	log := logf(c.Log)
	retry := c.Retry
	if retry <= 0 {
		retry = 500 * time.Millisecond
	}
	warned := false
	first := true
	var d net.Dialer
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var nc net.Conn
		var err error
		if c.Dial != nil {
			nc, err = c.Dial(dctx, c.Addr)
		} else {
			nc, err = d.DialContext(dctx, "tcp", c.Addr)
		}
		cancel()
		if err != nil {
			if !warned && ctx.Err() == nil {
				log.Warn("control: receiver not reachable, sending open loop and retrying", "addr", c.Addr, "err", err)
				warned = true
			}
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			continue
		}
		if !first {
			c.reconnects.Add(1)
		}
		first, warned = false, false
		log.Info("control: connected to receiver", "addr", c.Addr)
		at := time.Now()
		err = c.serve(ctx, &conn{c: nowait(nc)})
		c.connected.Store(false)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, ErrRefused) || errors.Is(err, ErrAuth):
			// The same refusal on every retry is logged once.
			if old := c.refusal.Swap(&err); old == nil || (*old).Error() != err.Error() {
				log.Error("control: the receiver will not take this stream; retrying", "err", err)
			}
		default:
			c.refusal.Store(nil)
			log.Warn("control: link to receiver lost, reconnecting", "err", err)
		}
		// A peer that accepts and hangs up at once (a relay or proxy whose far side
		// is gone) must not turn the redial loop into a busy loop.
		if d := retry - time.Since(at); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
	return nil
}

// Serve serves one connection the receiver opened to us (multicast, docs/PROTOCOL.md
// §10.2) as Run serves one it dialled: the sender's side of the hello or handshake,
// pings, acknowledgements to OnAck. It returns when the link breaks or ctx ends.
func (c *Client) Serve(ctx context.Context, nc net.Conn) error {
	defer c.connected.Store(false)
	return c.serve(ctx, &conn{c: nowait(nc)})
}

// Offset is the receiver's clock minus ours, and whether it has been measured.
func (c *Client) Offset() (time.Duration, bool) {
	return time.Duration(c.clk.offset.Load()) * time.Microsecond, c.clk.valid.Load()
}

// Notify sends n on the link being served (multicast, §10.3); an error when no link is up.
func (c *Client) Notify(n wire.Notice) error {
	cn := c.cur.Load()
	if cn == nil || !c.connected.Load() {
		return errors.New("control: no link to notify")
	}
	return cn.send(wire.MsgNotice, wire.AppendNotice(nil, n))
}

func (c *Client) serve(ctx context.Context, cn *conn) error {
	defer cn.c.Close()
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	if c.Key != nil {
		if err := c.clientHandshake(cn); err != nil {
			return err
		}
	} else {
		var hb [wire.HelloSize]byte
		h := wire.Hello{Stream: c.Stream}
		h.MarshalTo(hb[:])
		if err := cn.send(wire.MsgHello, hb[:]); err != nil {
			return err
		}
	}
	c.connected.Store(true)
	c.refusal.Store(nil)
	c.cur.Store(cn)
	done := make(chan struct{})
	var pings sync.WaitGroup
	defer pings.Wait()
	defer close(done)
	defer cn.c.Close()
	pings.Add(1)
	go func() {
		defer pings.Done()
		pinger(cn, done)
	}()
	buf := make([]byte, maxSealedBody)
	var a wire.Ack
	for {
		// A receiver that stops talking altogether is as good as gone: it pings every second.
		cn.c.SetReadDeadline(time.Now().Add(5 * PingInterval))
		typ, body, err := cn.read(buf)
		if err != nil {
			return err
		}
		if typ == wire.MsgRefuse && cn.ch == nil {
			return refusal(body)
		}
		// The receiver's first message (its first ping, sent as soon as it has attached
		// the connection and, keyed, installed the datagram key) says it is ready.
		c.readyOnce.Do(func() { c.Ready(); close(c.ready) })
		if ok, err := answerPings(cn, &c.clk, typ, body); ok {
			if err != nil {
				return err
			}
			continue
		}
		if typ == wire.MsgAck {
			if err := a.Unmarshal(body); err != nil {
				return err
			}
			if c.OnAck != nil {
				c.OnAck(&a, time.Now())
			}
		}
		if typ == wire.MsgDrops {
			var d wire.Drops
			if err := d.Unmarshal(body); err != nil {
				return err
			}
			if c.OnDrops != nil && d.Stream == c.Stream {
				c.OnDrops(d, time.Now())
			}
		}
	}
}
