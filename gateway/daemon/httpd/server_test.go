package httpd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts s on 127.0.0.1:0 and stops it when the test ends.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	if s.Handler == nil {
		s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "ok\n")
		})
	}
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// closedWithin reports how long c stayed open, reading (and discarding)
// until the server closed it, or fails the test after limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, net.ErrClosed) {
		t.Fatalf("connection closed by the test, not the server")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

// TestSlowClientsAreClosed: a client that holds a connection without
// finishing anything is closed, for each phase of a request.
func TestSlowClientsAreClosed(t *testing.T) {
	const limit = 15 * time.Second // generous: the timeouts below are 300ms
	for _, tc := range []struct {
		name string
		// hold does what the client does after dialling; it returns once
		// the server's timeout is running.
		hold func(t *testing.T, c net.Conn)
	}{
		{"silent after connecting", func(t *testing.T, c net.Conn) {}},
		{"idle keep-alive", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.Close {
				t.Fatal("the server closed a keep-alive request at once; nothing to test")
			}
		}},
		{"half-sent request", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		}},
		{"trickled body", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
			go func() {
				for {
					time.Sleep(20 * time.Millisecond)
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, &Server{
				ReadHeaderTimeout: 300 * time.Millisecond,
				ReadTimeout:       300 * time.Millisecond,
				WriteTimeout:      300 * time.Millisecond,
				IdleTimeout:       300 * time.Millisecond,
			})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.hold(t, c)
			t.Logf("closed by the server after %v", closedWithin(t, c, limit))
		})
	}
}

// TestConnectionCap: beyond MaxConns, connections wait unaccepted; the
// next is served as soon as one held connection closes.
func TestConnectionCap(t *testing.T) {
	const max = 3
	addr := serve(t, &Server{MaxConns: max, ReadHeaderTimeout: time.Hour, IdleTimeout: time.Hour})
	var held []net.Conn
	for range max {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\n") // half-sent, held by the hour-long timeout
		held = append(held, c)
	}
	answered := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			answered <- err
			return
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("a request beyond the cap of %d was served (err %v)", max, err)
	case <-time.After(500 * time.Millisecond):
	}
	held[0].Close()
	if err := <-answered; err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
}

// TestLimitListener counts accepts directly: never more than n open.
func TestLimitListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(raw, 2)
	accepted := make(chan net.Conn, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 5 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection accepted while two are open")
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close must not free a second slot
	third := <-accepted
	select {
	case <-accepted:
		t.Fatal("two accepted for one slot freed")
	case <-time.After(300 * time.Millisecond):
	}
	second.Close()
	third.Close()
	<-accepted
	// Close ends an Accept that waits for a slot.
	l.Close()
	<-done
	close(accepted)
	for c := range accepted {
		c.Close()
	}
}

func TestDefaults(t *testing.T) {
	s := &Server{}
	hs := s.http()
	for name, got := range map[string]time.Duration{
		"ReadHeaderTimeout": hs.ReadHeaderTimeout, "ReadTimeout": hs.ReadTimeout,
		"WriteTimeout": hs.WriteTimeout, "IdleTimeout": hs.IdleTimeout,
	} {
		if got <= 0 || got > time.Minute {
			t.Errorf("%s = %v, want a bound within a minute", name, got)
		}
	}
}
