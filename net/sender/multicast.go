package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/udp"
)

// feedback is the control link as the sender drives it: one receiver's
// (control.Client) or a multicast group's (group).
type feedback interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
	Connected() bool
	Reconnects() uint64
	RTT() time.Duration
	Refusal() error
}

// openGroup opens a multicast sender's one socket to the group and its control port
// (docs/PROTOCOL.md §10.2): the TCP port of the number the socket's datagrams come
// from, on every address, which each receiver dials. When another program holds that
// TCP port, another source port is tried, a few times.
func (s *Sender) openGroup(sealer *seal.Sealer, suite seal.Suite, random [seal.RandomSize]byte) error {
	cfg := s.cfg
	gaddr, err := udp.ParseGroup(cfg.To)
	if err != nil {
		return err
	}
	ifi, err := udp.Interface(cfg.Iface)
	if err != nil {
		return err
	}
	if cfg.GroupFloor < 0 {
		return fmt.Errorf("group floor %d bit/s: must be 0 (the default) or more", cfg.GroupFloor)
	}
	var ln net.Listener
	for attempt := 0; ; attempt++ {
		c, err := udp.DialGroup(gaddr, ifi, cfg.TTL)
		if err != nil {
			return err
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		ln, err = net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
		if err == nil {
			if _, snd, err := udp.RaiseBuffers(c, udp.BufferBytes); err == nil && snd < udp.BufferBytes {
				cfg.Log.Info("send buffer smaller than asked (raise net.core.wmem_max or run as root)", "got", snd, "asked", udp.BufferBytes)
			}
			// One source port: each receiver dials the one its datagrams come from, and
			// a receiver's socket gets every datagram of the group anyway.
			s.conns = []*net.UDPConn{c}
			s.pack.conns = append(s.pack.conns, c)
			break
		}
		c.Close()
		if attempt == 8 || !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("multicast control port %d: %w", port, err)
		}
	}
	g := newGroup(ln, cfg.Stream, cfg.GroupFloor, cfg.Log)
	g.newClient = func() *control.Client {
		cl := &control.Client{Log: cfg.Log}
		if sealer != nil {
			keyedClient(cl, cfg.Key, suite, random, sealer.Next)
		}
		return cl
	}
	g.onAck = s.onAck
	g.target = func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.rc.target
	}
	cfg.Log.Info("multicast: sending to group", "group", gaddr, "iface", cfg.Iface, "ttl", max(cfg.TTL, udp.DefaultTTL),
		"control_port", ln.Addr().(*net.TCPAddr).Port)
	s.grp, s.ctl = g, g
	return nil
}

// ControlAddr is a multicast sender's control port, which its receivers dial; nil
// for a sender to one receiver.
func (s *Sender) ControlAddr() net.Addr {
	if s.grp == nil {
		return nil
	}
	return s.grp.ln.Addr()
}

// parityLoss is the datagram loss parity is sized for, and whether it looks random
// (parity helps) rather than a queue's (a lower rate does); the caller holds s.mu.
// For a group it is at least the loss that some receiver in step sees, each counted
// (group.parityLoss): a tile rebuilt at every receiver needs no repair at any.
func (s *Sender) parityLoss() (float64, bool) {
	loss, random := s.rc.loss, s.rc.randomLoss()
	if s.grp == nil {
		return loss, random
	}
	g, own := s.grp.parityLoss()
	return max(loss, g), random || own
}
