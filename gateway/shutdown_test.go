package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// TestShutdownDrains: Shutdown stops accepting, echoes what clients had
// already sent, gives every client EOF and returns once they are gone.
func TestShutdownDrains(t *testing.T) {
	s, l, served := serveUnmanaged(t)
	addr := l.Addr().String()

	const clients = 100
	conns := make([]*net.TCPConn, clients)
	for i := range conns {
		conns[i] = dial(t, addr)
		if _, err := roundTrip(conns[i], []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	// Each client has sent a last message the server may not have read yet.
	last := []byte("last words")
	for _, c := range conns {
		c.Write(last)
	}

	var wg sync.WaitGroup
	got := make([][]byte, clients)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got[i], _ = io.ReadAll(c) // ends at the server's EOF
			c.Close()
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v after %v, want nil", err, time.Since(start))
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], last) {
			t.Fatalf("client %d got %q before EOF, want %q", i, got[i], last)
		}
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("a new connection was accepted after Shutdown")
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

// TestShutdownDeadline: a client that never closes is cut off when the
// context ends, and Shutdown still waits for every goroutine.
func TestShutdownDeadline(t *testing.T) {
	s, l, served := serveUnmanaged(t)
	stubborn := dial(t, l.Addr().String())
	if _, err := roundTrip(stubborn, []byte("x")); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	<-served
	if st := s.Stats(); st.Clients != 0 {
		t.Errorf("%d clients still tracked after Shutdown returned", st.Clients)
	}
	if after := runtime.NumGoroutine(); after >= before {
		t.Errorf("goroutines: %d before Shutdown, %d after; want fewer", before, after)
	}
	// The stubborn client saw EOF first (data then FIN), then the close.
	stubborn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := stubborn.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("read after shutdown = %d, %v; want EOF", n, err)
	}
}

func TestCloseIsImmediate(t *testing.T) {
	s, l, served := serveUnmanaged(t)
	c := dial(t, l.Addr().String())
	if _, err := roundTrip(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	expectClosed(t, c)
}

// TestPipeConnections: a connection that is not a socket (net.Pipe) is
// served through plain reads.
func TestServesNonSocketConns(t *testing.T) {
	server, client := net.Pipe()
	l := &oneConnListener{conn: server, closed: make(chan struct{})}
	s := &Server{Logger: newTestLogger(io.Discard)}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	if got, err := roundTrip(client, []byte("through a pipe")); err != nil || string(got) != "through a pipe" {
		t.Fatalf("got %q, %v", got, err)
	}
	client.Close()
	s.Close()
	<-served
}

type oneConnListener struct {
	conn   net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// serveUnmanaged serves on 127.0.0.1:0 and leaves stopping the server to
// the test, which is what these tests are about.
func serveUnmanaged(t *testing.T) (*Server, net.Listener, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Logger: newTestLogger(io.Discard)}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	return s, l, served
}

// TestShutdownEchoesPartialLine: under line framing, what a client sent
// of an unfinished line was received, so Shutdown echoes it before EOF.
func TestShutdownEchoesPartialLine(t *testing.T) {
	s, l, served := serveUnmanaged(t)
	s.SetPolicy(Policy{Framing: FramingLine})
	c := dial(t, l.Addr().String())
	if _, err := roundTrip(c, []byte("whole\n")); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("half a li"))
	gatewaytest.Eventually(t, "the partial line read", func() bool { return s.Stats().BytesIn == 15 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != "half a li" {
		t.Errorf("got %q, %v before EOF; want the partial line", got, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	<-served
}
