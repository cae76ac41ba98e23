package gateway

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

func TestMaxClients(t *testing.T) {
	var rejected atomic.Value
	s, addr, logs := startServer(t, Policy{MaxClients: 3}, Hooks{
		Reject: func(_ netip.AddrPort, r RejectReason) { rejected.Store(r) },
	})
	var admitted []net.Conn
	for range 3 {
		c := dial(t, addr)
		if _, err := roundTrip(c, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		admitted = append(admitted, c)
	}
	extra := dial(t, addr)
	expectClosed(t, extra)
	// The hook and the log line come just after the close the client saw.
	gatewaytest.Eventually(t, "the Reject hook", func() bool { return rejected.Load() != nil })
	if r := rejected.Load().(RejectReason); r != RejectMaxClients {
		t.Errorf("reject reason = %v, want %v", r, RejectMaxClients)
	}
	gatewaytest.Eventually(t, "the rejection logged", func() bool { return strings.Contains(logs.String(), "reason=max_clients") })
	if got := s.Stats().Rejected[RejectMaxClients]; got != 1 {
		t.Errorf("Stats().Rejected[max_clients] = %d, want 1", got)
	}
	for i, c := range admitted {
		if got, err := roundTrip(c, []byte("still fine")); err != nil || string(got) != "still fine" {
			t.Errorf("admitted client %d after the rejection: %q, %v", i, got, err)
		}
	}
	// A place frees up when a client leaves.
	admitted[0].Close()
	gatewaytest.Eventually(t, "a free place", func() bool { return s.Stats().Clients == 2 })
	if _, err := roundTrip(dial(t, addr), []byte("in")); err != nil {
		t.Errorf("client after one left: %v", err)
	}
}

func TestMaxClientsPerIP(t *testing.T) {
	s, addr, _ := startServer(t, Policy{MaxClientsPerIP: 2}, Hooks{})
	from := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", ip, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a1, a2 := from("127.0.0.1"), from("127.0.0.1")
	for _, c := range []net.Conn{a1, a2} {
		if _, err := roundTrip(c, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	expectClosed(t, from("127.0.0.1"))
	// Another address still gets in.
	if got, err := roundTrip(from("127.0.0.2"), []byte("other host")); err != nil || string(got) != "other host" {
		t.Fatalf("client from 127.0.0.2: %q, %v", got, err)
	}
	if got := s.Stats().Rejected[RejectMaxClientsPerIP]; got != 1 {
		t.Errorf("Rejected[max_clients_per_ip] = %d, want 1", got)
	}
}

func TestAllow(t *testing.T) {
	tests := []struct {
		name    string
		network string
		listen  string
		allow   []string
		dialTo  string
		from    string
		allowed bool
	}{
		{"v4 inside", "tcp", "127.0.0.1:0", []string{"127.0.0.0/8"}, "", "127.0.0.1", true},
		{"v4 outside", "tcp", "127.0.0.1:0", []string{"127.0.0.2/32"}, "", "127.0.0.1", false},
		{"v4 second prefix", "tcp", "127.0.0.1:0", []string{"10.0.0.0/8", "127.0.0.3/32"}, "", "127.0.0.3", true},
		{"v6 loopback", "tcp6", "[::1]:0", []string{"::1/128"}, "", "::1", true},
		{"v6 outside", "tcp6", "[::1]:0", []string{"fd00::/8"}, "", "::1", false},
		// A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
		{"v4-mapped on dual stack", "tcp", "[::]:0", []string{"127.0.0.0/8"}, "127.0.0.1", "127.0.0.1", true},
		{"v4-mapped outside", "tcp", "[::]:0", []string{"192.168.0.0/16"}, "127.0.0.1", "127.0.0.1", false},
		{"v4-mapped prefix", "tcp", "[::]:0", []string{"::ffff:127.0.0.0/104"}, "127.0.0.1", "127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Policy
			for _, a := range tt.allow {
				p.Allow = append(p.Allow, netip.MustParsePrefix(a))
			}
			_, addr, _ := startServerOn(t, tt.network, tt.listen, p, Hooks{})
			if tt.dialTo != "" {
				_, port, _ := net.SplitHostPort(addr)
				addr = net.JoinHostPort(tt.dialTo, port)
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tt.from)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Skipf("cannot dial %s from %s here: %v", addr, tt.from, err)
			}
			defer c.Close()
			if tt.allowed {
				if got, err := roundTrip(c, []byte("ok")); err != nil || string(got) != "ok" {
					t.Fatalf("allowed client: %q, %v", got, err)
				}
			} else {
				expectClosed(t, c)
			}
		})
	}
}

// TestIdleTimeout: a silent client is dropped after the idle timeout, and
// traffic resets the clock.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	var reason atomic.Value
	_, addr, _ := startServer(t, Policy{IdleTimeout: idle}, Hooks{
		Disconnect: func(_ netip.AddrPort, _ int, r error) {
			if r != nil {
				reason.Store(r)
			}
		},
	})
	c := dial(t, addr)
	start := time.Now()
	// Talk every idle/3 for 3 idle periods: never idle long enough.
	var quiet time.Time // when the last ping was sent: the server read it later
	for time.Since(start) < 3*idle {
		quiet = time.Now()
		if _, err := roundTrip(c, []byte("ping")); err != nil {
			t.Fatalf("busy client dropped after %v: %v", time.Since(start), err)
		}
		time.Sleep(idle / 3)
	}
	expectClosed(t, c)
	if waited := time.Since(quiet); waited < idle {
		t.Errorf("dropped after %v of silence, before the %v idle timeout", waited, idle)
	}
	gatewaytest.Eventually(t, "the reason", func() bool { return reason.Load() != nil })
	if r := reason.Load().(error); r != ErrIdleTimeout {
		t.Errorf("reason = %v, want %v", r, ErrIdleTimeout)
	}
}

// TestWriteTimeout: a client that sends but never reads is dropped once
// its echo cannot be written, and the server holds no more than one read
// of its data meanwhile.
func TestWriteTimeout(t *testing.T) {
	var reason atomic.Value
	s, addr, logs := startServer(t, Policy{WriteTimeout: 300 * time.Millisecond}, Hooks{
		Disconnect: func(_ netip.AddrPort, _ int, r error) {
			if r != nil {
				reason.Store(r)
			}
		},
	})
	hog := dial(t, addr)
	hog.SetReadBuffer(4 << 10)
	good := dial(t, addr)

	chunk := bytes.Repeat([]byte("z"), 64<<10)
	hog.SetWriteDeadline(time.Now().Add(20 * time.Second))
	for reason.Load() == nil {
		if _, err := hog.Write(chunk); err != nil {
			break // the server dropped us
		}
		st := s.Stats()
		if held := st.BytesIn - st.BytesOut; held > readBufferBytes {
			t.Fatalf("server holds %d bytes read but not echoed; want at most one read (%d)", held, readBufferBytes)
		}
	}
	gatewaytest.Eventually(t, "the hog dropped", func() bool { return reason.Load() != nil })
	if r := reason.Load().(error); r != ErrWriteTimeout {
		t.Errorf("reason = %v, want %v", r, ErrWriteTimeout)
	}
	if got, err := roundTrip(good, []byte("unaffected")); err != nil || string(got) != "unaffected" {
		t.Fatalf("other client: %q, %v\n%s", got, err, logs)
	}
}

// TestSetPolicy applies to new connections at once and leaves open ones
// alone.
func TestSetPolicy(t *testing.T) {
	s, addr, _ := startServer(t, Policy{}, Hooks{})
	old := dial(t, addr)
	if _, err := roundTrip(old, []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.SetPolicy(Policy{MaxClients: 1})
	expectClosed(t, dial(t, addr))
	if _, err := roundTrip(old, []byte("kept")); err != nil {
		t.Fatalf("existing client after SetPolicy: %v", err)
	}
}

// flakyListener fails Accept with a transient error a few times, as a host
// out of file descriptors does.
type flakyListener struct {
	net.Listener
	failures atomic.Int32
}

var errEMFILE = errors.New("accept: too many open files")

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, errEMFILE
	}
	return l.Listener.Accept()
}

func TestAcceptErrorsBackOffAndRecover(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &flakyListener{Listener: inner}
	l.failures.Store(4)
	logs := &gatewaytest.Buffer{}
	s := &Server{Logger: newTestLogger(logs)}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c := dial(t, inner.Addr().String())
	if got, err := roundTrip(c, []byte("after EMFILE")); err != nil || string(got) != "after EMFILE" {
		t.Fatalf("echo after accept errors: %q, %v", got, err)
	}
	if n := strings.Count(logs.String(), "accept failed; retrying"); n != 4 {
		t.Errorf("logged %d accept failures, want 4:\n%s", n, logs)
	}
	c.Close()
	s.Close()
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}

func TestBackoffDoublesToOneSecond(t *testing.T) {
	var d time.Duration
	var got []time.Duration
	for range 10 {
		d = nextBackoff(d)
		got = append(got, d)
	}
	if got[0] != 5*time.Millisecond || got[1] != 10*time.Millisecond || got[9] != time.Second {
		t.Errorf("backoffs = %v; want 5ms, 10ms, ... capped at 1s", got)
	}
}

// TestAllowIgnoresZones: a link-local IPv6 client carries its interface as
// a zone (fe80::1%eth0), which must not keep it out of fe80::/10.
func TestAllowIgnoresZones(t *testing.T) {
	p := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"fe80::1%eth0", true},
		{"fe80::1", true},
		{"::ffff:10.1.2.3", true},
		{"fd00::1%eth0", false},
	} {
		if got := p.allows(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("allows(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if got := hostOf(netip.MustParseAddrPort("[fe80::1%eth0]:80")); got != netip.MustParseAddr("fe80::1") {
		t.Errorf("hostOf = %v, want fe80::1 without its zone", got)
	}
}

func TestRejectLogIsRateLimited(t *testing.T) {
	var l rejectLog
	t0 := time.Unix(1000, 0)
	if ok, n := l.allow(RejectMaxClients, t0); !ok || n != 0 {
		t.Fatalf("first rejection: %v, %d; want logged", ok, n)
	}
	for i := range 5 {
		if ok, _ := l.allow(RejectMaxClients, t0.Add(time.Duration(i)*time.Second)); ok {
			t.Fatalf("rejection %d within %v logged", i+2, rejectLogEvery)
		}
	}
	if ok, _ := l.allow(RejectNotAllowed, t0.Add(time.Second)); !ok {
		t.Errorf("another reason's first rejection not logged")
	}
	if ok, n := l.allow(RejectMaxClients, t0.Add(rejectLogEvery)); !ok || n != 5 {
		t.Errorf("after %v: %v, %d; want logged with 5 more since", rejectLogEvery, ok, n)
	}
}
