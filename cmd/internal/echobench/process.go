package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

type binaries struct{ gatewayd, baseline string }

// buildServers compiles both servers the way users build them.
func buildServers(ctx context.Context, dir string) (binaries, error) {
	b := binaries{gatewayd: filepath.Join(dir, "gatewayd"), baseline: filepath.Join(dir, "echobaseline")}
	return b, proc.Build(ctx, map[string]string{"./cmd/gatewayd": b.gatewayd, "./cmd/internal/echobaseline": b.baseline})
}

// listeningRx matches the address both servers log once they listen.
var listeningRx = regexp.MustCompile(`listening addr=(\S+)`)

// server is one server to measure, ready once it logs its address.
func server(name string, argv ...string) proc.Spec {
	return proc.Spec{Name: name, Argv: argv, ListenRx: listeningRx}
}

// idleMemory opens n connections, has each echo once (so the server's
// goroutine has run its read path, as a real client's would), leaves them
// idle, and returns the server's resident memory growth per connection.
// With tlsCfg each connection first completes a TLS handshake.
func idleMemory(ctx context.Context, s proc.Spec, n int, tlsCfg *tls.Config) (float64, error) {
	p, err := proc.Start(ctx, s)
	if err != nil {
		return 0, err
	}
	defer p.Stop()
	time.Sleep(200 * time.Millisecond)
	before, err := p.RSS()
	if err != nil {
		return 0, err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ping := []byte("ping")
	for range n {
		c, err := net.DialTimeout("tcp", p.Addr, 10*time.Second)
		if err != nil {
			return 0, fmt.Errorf("connection %d of %d: %w", len(conns)+1, n, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if tlsCfg != nil {
			c = tls.Client(c, tlsCfg)
		}
		conns = append(conns, c)
		if _, err := c.Write(ping); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, make([]byte, len(ping))); err != nil {
			return 0, fmt.Errorf("echo on connection %d: %w", len(conns), err)
		}
	}
	// Give the runtime time to settle: idle goroutines' stacks shrink at
	// the next garbage collection, which the forced 2-minute GC or
	// allocation would bring; measure after a short quiet spell.
	time.Sleep(2 * time.Second)
	after, err := p.RSS()
	if err != nil {
		return 0, err
	}
	return (after - before) / float64(n), nil
}
