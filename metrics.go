package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/net/metrics"
	"github.com/hrvs/hrvs/net/sender"
)

// loopbackUnlessHost checks an address to serve HTTP on, [HOST]:PORT, and puts a
// missing host on loopback: nothing is served to the network unless asked for by
// address (docs/SECURITY.md).
func loopbackUnlessHost(flagName, addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", cli.Usagef("%s %q: want [HOST]:PORT, like :9100", flagName, addr)
	}
	if host == "" {
		addr = "127.0.0.1" + addr
	}
	return addr, nil
}

// serveSenderMetrics serves tx's metrics at /metrics on addr until the server is closed.
func serveSenderMetrics(addr string, tx *sender.Sender, log *slog.Logger) (*metrics.Server, error) {
	h, err := metrics.Handler(metrics.NewSenderCollector(tx))
	if err != nil {
		return nil, err
	}
	srv, err := metrics.Serve(addr, h, log)
	if err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", addr, err)
	}
	log.Info("metrics", "url", "http://"+srv.Addr().String()+"/metrics")
	return srv, nil
}
