package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// BenchmarkEcho measures one round trip of a 64-byte message on each of
// 100 connections, through a Server with every per-connection feature on
// and through the smallest goroutine-per-connection echo loop, in the
// same process. The figures include the client side; for the server's own
// CPU time per message, run the daemon against the baseline with
// go run ./cmd/internal/echobench.
func BenchmarkEcho(b *testing.B) {
	for _, impl := range []struct {
		name  string
		serve func(b *testing.B, l net.Listener) func()
		hello bool // each client names itself first
	}{
		{"gateway", serveGateway(FramingRaw), false},
		{"gateway-line", serveGateway(FramingLine), false},
		{"gateway-line-board", serveGateway(FramingLine), true},
		{"baseline", serveBaseline, false},
	} {
		b.Run(impl.name, func(b *testing.B) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			stop := impl.serve(b, l)
			defer stop()
			benchmarkClients(b, l.Addr().String(), 100, 64, impl.hello)
		})
	}
}

func serveGateway(f Framing) func(b *testing.B, l net.Listener) func() {
	return func(b *testing.B, l net.Listener) func() {
		return serveGatewayFramed(b, l, f)
	}
}

func serveGatewayFramed(b *testing.B, l net.Listener, f Framing) func() {
	s := &Server{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), // info, as deployed
		Policy: Policy{
			Framing:    f,
			MaxClients: 10000, MaxClientsPerIP: 10000, IdleTimeout: 5 * time.Minute, WriteTimeout: 10 * time.Second,
			Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		},
		Hooks: Hooks{Message: func(netip.AddrPort, int) {}},
	}
	go s.Serve(l)
	return func() { s.Close() }
}

func serveBaseline(b *testing.B, l net.Listener) func() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, readBufferBytes)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

// benchmarkClients shares b.N round trips among conns connections. The
// messages end in LF, so they are one line each under line framing too.
// With hello, each connection says hello as a board first.
func benchmarkClients(b *testing.B, addr string, conns, size int, hello bool) {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
		if hello {
			id := fmt.Sprintf("bench-%d", i)
			fmt.Fprintf(c, "!hello %s\n", id)
			ok := make([]byte, len("!ok \n")+len(id))
			if _, err := io.ReadFull(c, ok); err != nil || string(ok) != "!ok "+id+"\n" {
				b.Fatalf("hello: %q, %v", ok, err)
			}
		}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, c := range cs {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, got := make([]byte, size), make([]byte, size)
			msg[size-1] = '\n'
			for range n {
				c.Write(msg)
				if _, err := io.ReadFull(c, got); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
