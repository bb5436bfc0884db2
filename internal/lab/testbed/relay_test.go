package testbed_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/lab/relay"
	"github.com/hrvs/hrvs/internal/lab/testbed"
	"github.com/hrvs/hrvs/internal/testrig"
)

// The way benchmarks combine the two: the relay runs in the receiver namespace on the veth
// address and forwards to the receiver on that namespace's loopback; the sender sends across
// the veth. TCP rides along on the same port.
func TestRelayInsideTheReceiverNamespace(t *testing.T) {
	b := testrig.Netns(t, "")

	var sink *net.UDPConn
	var echo net.Listener
	err := b.Do(testbed.Receiver, func() (err error) {
		if sink, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		echo, err = net.Listen("tcp4", sink.LocalAddr().String()) // same port, as HRVS does
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	const delay = 15 * time.Millisecond
	var r *relay.Relay
	err = b.Do(testbed.Receiver, func() (err error) {
		r, err = relay.Start(relay.Config{
			Listen:  netip.AddrPortFrom(b.ReceiverAddr(), 0).String(),
			Forward: sink.LocalAddr().String(),
			Delay:   delay,
			Seed:    1,
			DialTCP: func(ctx context.Context, addr string) (net.Conn, error) {
				return b.DialTCP(ctx, testbed.Receiver, addr)
			},
		}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	tx, err := b.DialUDP(testbed.Sender, int(r.Addr().Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	buf := make([]byte, 100)
	t0 := time.Now()
	for i := range 20 {
		binary.BigEndian.PutUint64(buf, uint64(i))
		tx.Write(buf)
	}
	sink.SetReadDeadline(time.Now().Add(2 * time.Second))
	for i := range 20 {
		if _, err := sink.Read(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if i == 0 && time.Since(t0) < delay {
			t.Errorf("first datagram after %v, before the relay's delay", time.Since(t0))
		}
	}

	c, err := b.DialTCP(context.Background(), testbed.Sender, r.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ack 42"))
	got := make([]byte, 6)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, []byte("ack 42")) {
		t.Fatalf("TCP echo through the relay: %q, %v", got, err)
	}
	if st := r.Stats(); st.Out != 20 || st.TCPConns != 1 {
		t.Errorf("relay stats %+v", st)
	}
}
