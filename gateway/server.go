package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/gateway/stall"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("gateway: server closed")

// A Server echoes what its clients send. The zero value is ready to use:
// raw framing, no limits, logging to slog.Default.
type Server struct {
	// Policy is applied to the connections accepted after Serve starts.
	// To change it while serving, call SetPolicy.
	Policy Policy
	// Hooks report clients coming, going and talking.
	Hooks Hooks
	// Logger receives connects and disconnects at info and payloads at
	// debug. Nil means slog.Default().
	Logger *slog.Logger
	// Uplink, if set, takes every data line under FramingLine before its
	// echo is written; up to 32 lines of a connection are in flight and
	// their receipts come back in order (pipeline.go). Set it before Serve.
	Uplink Uplink
	// TLS, if set, makes every listener speak TLS only: each client's
	// handshake runs on its connection's goroutine, within
	// Policy.HandshakeTimeout, never on the accept loop. With ClientAuth
	// requiring a certificate, its common name is the board's ID (see
	// package tlsconf, whose Store.Config is meant to be set here). Nil
	// means plaintext. Set it before Serve.
	TLS *tls.Config

	policy       atomic.Pointer[Policy]
	shuttingDown atomic.Bool
	// drainDeadline, once shutting down, is when lingering clients are cut.
	drainDeadline atomic.Pointer[time.Time]
	// acceptWatch is the accept loops' liveness for Healthy.
	acceptWatch stall.Watch

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[netip.Addr]int
	accepted  uint64
	rejected  [numRejectReasons]uint64
	closed    Stats          // totals of connections no longer tracked
	rejectLog rejectLog      // rate-limits the "client rejected" line
	cutOff    bool           // a client was still connected at the drain deadline
	done      bool           // listeners closed: no Serve may start
	closing   bool           // Close was called: no connection may start
	routines  sync.WaitGroup // accept loops and connection goroutines

	// bmu guards boards, the named sessions by ID (registry.go). Apart
	// from mu, so that saying hello never waits on admitting clients.
	bmu    sync.Mutex
	boards map[string]*conn
	sends  map[string]*boardSend // by board ID, while a session of it lives
	// onBoard are the board listeners added by OnBoard (boardevents.go).
	onBoard []func(BoardEvent)

	// hangups watches blocked connections' sockets (hangup_linux.go).
	hangups hangups

	ctxOnce   sync.Once
	ctx       context.Context // parent of connections' contexts; see baseContext
	cancelCtx context.CancelFunc
}

// SetPolicy replaces the policy for connections accepted from now on;
// connections already open keep the one they started with.
func (s *Server) SetPolicy(p Policy) {
	p.Allow = append([]netip.Prefix(nil), p.Allow...)
	p.Tokens = maps.Clone(p.Tokens)
	s.policy.Store(&p)
}

func (s *Server) currentPolicy() *Policy {
	if p := s.policy.Load(); p != nil {
		return p
	}
	p := s.Policy
	s.policy.CompareAndSwap(nil, &p)
	return s.policy.Load()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l, serving each on a goroutine of its own,
// until Shutdown or Close, and then returns ErrServerClosed. Any other
// error from l is returned after l is closed. Errors that a busy host
// recovers from, such as running out of file descriptors, are retried with
// a backoff and never end Serve.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)
	if s.TLS != nil {
		s.logger().Info("listening", "addr", l.Addr().String(), "tls", true)
	} else {
		s.logger().Info("listening", "addr", l.Addr().String())
	}

	var backoff time.Duration
	for {
		s.acceptWatch.Waiting()
		nc, err := l.Accept()
		s.acceptWatch.Working(time.Now())
		if err != nil {
			if s.shuttingDown.Load() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				backoff = nextBackoff(backoff)
				s.logger().Warn("accept failed; retrying", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.admit(nc)
	}
}

// nextBackoff doubles the wait between failed accepts from 5ms up to 1s,
// as net/http does, so that a host out of descriptors is not spun on.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

// isTemporary reports whether an accept error is worth retrying. Accept
// errors on a listener that is still open are nearly always transient
// (EMFILE, ENFILE, ENOBUFS, ECONNABORTED); only a closed listener is final.
func isTemporary(err error) bool {
	return !errors.Is(err, net.ErrClosed)
}

// admit applies the policy to a new connection and starts its goroutine,
// or closes it at once.
func (s *Server) admit(nc net.Conn) {
	p := s.currentPolicy()
	remote := addrPortOf(nc.RemoteAddr())
	ip := hostOf(remote)

	s.mu.Lock()
	reason := RejectReason(-1)
	switch {
	case s.closing:
		// Close, not Shutdown: a connection accepted during Shutdown is
		// admitted instead and drained like the others, since closing it
		// with its data unread would reset it.
		reason = RejectShuttingDown
	case !p.allows(ip):
		reason = RejectNotAllowed
	case p.MaxClients > 0 && len(s.conns) >= p.MaxClients:
		reason = RejectMaxClients
	case p.MaxClientsPerIP > 0 && s.perIP[ip] >= p.MaxClientsPerIP:
		reason = RejectMaxClientsPerIP
	}
	if reason >= 0 {
		s.rejected[reason]++
		logIt, suppressed := s.rejectLog.allow(reason, time.Now())
		s.mu.Unlock()
		nc.Close()
		if logIt {
			attrs := []any{"remote", remote.String(), "reason", reason.String()}
			if suppressed > 0 {
				attrs = append(attrs, "more_since_last_logged", suppressed)
			}
			s.logger().Warn("client rejected", attrs...)
		}
		if h := s.Hooks.Reject; h != nil {
			h(remote, reason)
		}
		return
	}
	c := newConn(s, nc, remote, p)
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
		s.perIP = make(map[netip.Addr]int)
	}
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.accepted++
	clients := len(s.conns)
	s.routines.Add(1)
	s.mu.Unlock()

	// Logged here rather than on the new goroutine: slog's call chain is
	// deep, and a connection goroutine whose stack grew for it would keep
	// the larger stack while it idles, thousands of times over.
	s.logger().Info("client connected", "remote", remote.String(), "clients", clients)
	if h := s.Hooks.Connect; h != nil {
		h(remote, clients)
	}
	go c.serve()
}

// forget untracks a closed connection, folding its counters into the
// totals, and returns how many clients remain.
func (s *Server) forget(c *conn) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	ip := hostOf(c.remote)
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	s.closed.Disconnected++
	s.closed.MessagesIn += c.messagesIn.Load()
	s.closed.Messages += c.messages.Load()
	s.closed.BytesIn += c.bytesIn.Load()
	s.closed.BytesOut += c.bytesOut.Load()
	return len(s.conns)
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done || s.shuttingDown.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	s.routines.Add(1)
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
	s.routines.Done()
}

// Shutdown stops accepting, lets every client's already received data be
// echoed, then half-closes each connection so the client sees EOF, and
// closes it once the client closes its side. Clients still connected when
// ctx ends are cut off. Shutdown returns once every goroutine the Server
// started has ended: nil if all went cleanly, else ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(24 * time.Hour)
	}
	s.drainDeadline.Store(&deadline)
	s.shuttingDown.Store(true)
	s.closeListeners()
	for _, c := range s.snapshotConns() {
		c.wake()
	}

	finished := make(chan struct{})
	go func() {
		s.routines.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		// Lingering clients are cut at the context's deadline by their
		// own read deadline, which can win the race with ctx.Done.
		s.mu.Lock()
		cut := s.cutOff
		s.mu.Unlock()
		if cut {
			return context.DeadlineExceeded
		}
		return ctx.Err()
	case <-ctx.Done():
		s.cancelContext()
		s.closeConns()
		<-finished
		return ctx.Err()
	}
}

// Close closes every listener and connection at once and waits for their
// goroutines to end. Clients see their connection reset or closed.
func (s *Server) Close() error {
	s.shuttingDown.Store(true)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.closeListeners()
	s.cancelContext()
	s.closeConns()
	s.routines.Wait()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	for l := range s.listeners {
		l.Close()
	}
}

func (s *Server) closeConns() {
	for _, c := range s.snapshotConns() {
		c.nc.Close()
	}
}

func (s *Server) snapshotConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

// Healthy reports nil while every accept loop is either waiting in Accept
// or has been busy for less than stall, which is how a hung daemon is told
// from an idle one.
func (s *Server) Healthy(stall time.Duration) error {
	if s.shuttingDown.Load() {
		return ErrServerClosed
	}
	if busy := s.acceptWatch.Stuck(time.Now(), stall); busy > 0 {
		return fmt.Errorf("gateway: accept loop stuck for %v", busy.Round(time.Millisecond))
	}
	return nil
}

// addrPortOf is a client's address as people write it: an IPv4 client of
// a dual-stack socket is 192.0.2.1, not ::ffff:192.0.2.1.
func addrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	if ta, ok := a.(*net.TCPAddr); ok {
		ap = ta.AddrPort()
	} else {
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// hostOf is the key for per-address limits and the allow list: the
// address without its IPv6 zone, which a prefix never matches
// (fe80::1%eth0 is in fe80::/10).
func hostOf(ap netip.AddrPort) netip.Addr {
	return ap.Addr().WithZone("")
}

// noteCutOff records that a client was cut off at the drain deadline, so
// Shutdown reports it.
func (s *Server) noteCutOff() {
	s.mu.Lock()
	s.cutOff = true
	s.mu.Unlock()
}
