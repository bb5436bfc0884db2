package relay

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tcpChunk is the most one read takes from a TCP connection.
const tcpChunk = 32 << 10

// tcpQueue is how many chunks may wait in one direction's delay; a full queue stops reading,
// which pushes back on the sender through TCP's own flow control.
const tcpQueue = 64

// acceptTCP accepts control connections until the relay closes.
func (r *Relay) acceptTCP() {
	defer r.wg.Done()
	for {
		c, err := r.tcp.Accept()
		if err != nil {
			if r.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Debug("relay: accept", "err", err)
			select { // e.g. out of file descriptors: do not spin
			case <-time.After(10 * time.Millisecond):
			case <-r.ctx.Done():
				return
			}
			continue
		}
		r.n.tcpConns.Add(1)
		r.wg.Add(1)
		go r.serveTCP(c)
	}
}

// track registers c so Close can interrupt it; false means the relay is closing and c was closed.
func (r *Relay) track(c net.Conn) bool {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.connMu.Lock()
	delete(r.conns, c)
	r.connMu.Unlock()
	c.Close()
}

// serveTCP dials the TCP destination for one accepted connection and copies both ways.
func (r *Relay) serveTCP(c net.Conn) {
	defer r.wg.Done()
	if !r.track(c) {
		return
	}
	defer r.untrack(c)
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	var u net.Conn
	var err error
	if r.cfg.DialTCP != nil {
		u, err = r.cfg.DialTCP(ctx, r.tcpTo)
	} else {
		var d net.Dialer
		u, err = d.DialContext(ctx, "tcp", r.tcpTo)
	}
	if err != nil {
		r.log.Warn("relay: TCP forward", "client", c.RemoteAddr().String(), "err", err)
		return
	}
	if !r.track(u) {
		return
	}
	defer r.untrack(u)
	r.log.Debug("relay: TCP connection", "client", c.RemoteAddr().String(), "forward", r.tcpTo)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(u, c, &r.n.tcpUp) }()
	go func() { defer wg.Done(); r.pipe(c, u, &r.n.tcpDown) }()
	wg.Wait()
}

type chunk struct {
	due  int64
	data []byte
}

// pipe copies src to dst, each chunk released Config.Delay after it was read and never during
// a blackout. When src ends, dst's write side is shut so the far end sees EOF; when dst
// fails, both connections are closed so the other direction ends too.
func (r *Relay) pipe(dst, src net.Conn, count *atomic.Uint64) {
	ch := make(chan chunk, tcpQueue)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader
		defer wg.Done()
		defer close(ch)
		for {
			buf := make([]byte, tcpChunk)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case ch <- chunk{due: r.now() + int64(r.cfg.Delay), data: buf[:n]}:
				case <-stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sleepUntil := func(t int64) bool {
		d := time.Duration(t - r.now())
		if d <= 0 {
			return true
		}
		timer.Reset(d)
		select {
		case <-timer.C:
			return true
		case <-r.ctx.Done():
			timer.Stop()
			return false
		}
	}
	ok := true
	for c := range ch {
		if !sleepUntil(c.due) {
			ok = false
			break
		}
		for end := r.blackoutEnd(r.now()); end != 0; end = r.blackoutEnd(r.now()) {
			if !sleepUntil(end) {
				ok = false
				break
			}
		}
		if !ok {
			break
		}
		if _, err := dst.Write(c.data); err != nil {
			ok = false
			break
		}
		count.Add(uint64(len(c.data)))
	}
	if ok {
		if cw, isTCP := dst.(interface{ CloseWrite() error }); isTCP {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	} else {
		close(stop)
		src.Close()
		dst.Close()
		for range ch { // let the reader finish
		}
	}
	wg.Wait()
}
