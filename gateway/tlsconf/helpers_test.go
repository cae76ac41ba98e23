package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/pki"
	"github.com/gatewayd/gatewayd/gateway/pki/pkitest"
)

// testPKI is a pki directory made by package pki, as `gatewayctl pki`
// makes it, with boards "b1" and "old" (expired), and a second, unrelated
// CA with its own board "b1".
type testPKI struct {
	dir, other string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	p := pkitest.New(t)
	return testPKI{dir: p.Dir, other: p.Other}
}

func (p testPKI) files() Files {
	return Files{
		CertFile:     filepath.Join(p.dir, pki.ServerCertFile),
		KeyFile:      filepath.Join(p.dir, pki.ServerKeyFile),
		ClientCAFile: filepath.Join(p.dir, pki.CACertFile),
	}
}

// outcome is what the test server made of one connection.
type outcome struct {
	reason string // "" when the handshake succeeded
	id     string
	state  tls.ConnectionState
	err    error
}

// echoServer accepts on 127.0.0.1:0, runs Handshake on each connection's
// own goroutine, reports the outcome, and echoes over TLS until the client
// closes. Everything ends when the test does.
type echoServer struct {
	addr     string
	outcomes chan outcome
}

func startEchoServer(t *testing.T, cfg *tls.Config, timeout time.Duration) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &echoServer{addr: ln.Addr().String(), outcomes: make(chan outcome, 100)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				tc, err := Handshake(ctx, c, cfg, timeout)
				if err != nil {
					var he *HandshakeError
					if !errors.As(err, &he) {
						t.Errorf("Handshake error %T %v, want a *HandshakeError", err, err)
					}
					s.outcomes <- outcome{reason: he.Reason, err: err}
					return
				}
				st := tc.ConnectionState()
				id, err := BoardID(st)
				s.outcomes <- outcome{id: id, state: st, err: err}
				_, _ = io.Copy(tc, tc)
			})
		}
	})
	t.Cleanup(func() {
		cancel()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// next is the server's outcome for the next connection.
func (s *echoServer) next(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-s.outcomes:
		return o
	case <-time.After(20 * time.Second):
		t.Fatal("no handshake outcome from the server within 20s")
		return outcome{}
	}
}

// echo sends msg on c and checks it comes back.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the echo of %q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}
