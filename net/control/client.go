package control

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

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
	// Retry is the pause between connection attempts (default 500 ms).
	Retry time.Duration
	// Dial, when set, opens the connection instead of net.Dialer: a sender running
	// inside a network namespace needs its connections dialled there too.
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	clk        clock
	connected  atomic.Bool
	reconnects atomic.Uint64
}

// Connected reports whether the control link is up.
func (c *Client) Connected() bool { return c.connected.Load() }

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
		err = c.serve(ctx, &conn{c: nc})
		c.connected.Store(false)
		if ctx.Err() == nil {
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

func (c *Client) serve(ctx context.Context, cn *conn) error {
	defer cn.c.Close()
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	var hb [wire.HelloSize]byte
	h := wire.Hello{Stream: c.Stream}
	h.MarshalTo(hb[:])
	if err := cn.send(wire.MsgHello, hb[:]); err != nil {
		return err
	}
	c.connected.Store(true)
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
	buf := make([]byte, wire.MaxControlBody)
	var a wire.Ack
	for {
		// A receiver that stops talking altogether is as good as gone: it pings every second.
		cn.c.SetReadDeadline(time.Now().Add(5 * PingInterval))
		typ, body, err := wire.ReadMsg(cn.c, buf)
		if err != nil {
			return err
		}
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
	}
}
