package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// startServer serves p on 127.0.0.1:0 and shuts down at the end of the test.
func startServer(t testing.TB, p Policy, hooks Hooks) (*Server, string, *gatewaytest.Buffer) {
	t.Helper()
	return startServerOn(t, "tcp", "127.0.0.1:0", p, hooks)
}

func startServerOn(t testing.TB, network, addr string, p Policy, hooks Hooks) (*Server, string, *gatewaytest.Buffer) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s here: %v", network, addr, err)
	}
	s := &Server{Policy: p, Hooks: hooks}
	logs := serveForTest(t, s, l)
	return s, l.Addr().String(), logs
}

// serveForTest serves s on l, logging at debug level to the buffer it
// returns, and at the end of the test shuts s down and checks that Serve
// returned ErrServerClosed.
func serveForTest(t testing.TB, s *Server, l net.Listener) *gatewaytest.Buffer {
	t.Helper()
	logs := &gatewaytest.Buffer{}
	s.Logger = newTestLogger(logs)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return logs
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip sends msg and reads back exactly len(msg) bytes.
func roundTrip(c net.Conn, msg []byte) ([]byte, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	return got, err
}

// expectClosed reports whether the server closes c without sending data.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil {
		t.Fatalf("read = %d, %v; want the server to close the connection", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 5s; want it closed")
	}
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
