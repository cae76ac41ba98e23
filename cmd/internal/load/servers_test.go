package load

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// testServer is a goroutine-per-connection TCP server on 127.0.0.1:0 that
// runs handle on each connection and stops everything at test cleanup.
type testServer struct {
	ln net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]bool
	remotes map[netip.Addr]int // connections seen per remote address
	wg      sync.WaitGroup
}

func startServer(t *testing.T, handle func(net.Conn)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, conns: map[net.Conn]bool{}, remotes: map[netip.Addr]int{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.remotes[c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()]++
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) addr() string { return s.ln.Addr().String() }

func (s *testServer) remoteAddrs() map[netip.Addr]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[netip.Addr]int, len(s.remotes))
	for a, n := range s.remotes {
		m[a] = n
	}
	return m
}

// echo is a faithful echo server's connection handler.
func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// corrupt echoes, but flips the last byte of everything it reads.
func corrupt(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			buf[n-1] ^= 0xff
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// replay answers every message with the connection's first message: a
// server that returns stale data of the right length.
func replay(size int) func(net.Conn) {
	return func(c net.Conn) {
		first := make([]byte, size)
		if _, err := io.ReadFull(c, first); err != nil {
			return
		}
		buf := make([]byte, size)
		for {
			if _, err := c.Write(first); err != nil {
				return
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
		}
	}
}

// hangUp reads a little and closes the connection without echoing.
func hangUp(c net.Conn) {
	var b [1]byte
	_, _ = c.Read(b[:])
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	return addr
}
