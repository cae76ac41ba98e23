package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/pki/pkitest"
)

// TestHandshake connects real TLS clients with certificates made by pki to
// a listener with client_ca_file set, and checks what the server makes of
// each: the board ID, or the one-line reason it refused.
func TestHandshake(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	srv := startEchoServer(t, store.Config(), 10*time.Second)

	tests := []struct {
		name       string
		cfg        *tls.Config
		wantID     string
		wantReason string
	}{
		{"board certificate, TLS 1.3", pkitest.Client(t, p.dir, p.dir, "b1"), "b1", ""},
		{"board certificate, TLS 1.2", withMax(pkitest.Client(t, p.dir, p.dir, "b1"), tls.VersionTLS12), "b1", ""},
		{"certificate from another CA", pkitest.Client(t, p.dir, p.other, "b1"), "", "certificate signed by unknown authority"},
		{"certificate from another CA, TLS 1.2", withMax(pkitest.Client(t, p.dir, p.other, "b1"), tls.VersionTLS12), "", "certificate signed by unknown authority"},
		{"no certificate", pkitest.Client(t, p.dir, p.dir, ""), "", "no client certificate"},
		{"no certificate, TLS 1.2", withMax(pkitest.Client(t, p.dir, p.dir, ""), tls.VersionTLS12), "", "no client certificate"},
		{"expired certificate", pkitest.Client(t, p.dir, p.dir, "old"), "", "certificate expired"},
		{"client does not trust the server", pkitest.Client(t, p.other, p.dir, "b1"), "", "client rejected the handshake: bad certificate"},
		{"TLS 1.1 client", withMax(pkitest.Client(t, p.dir, p.dir, "b1"), tls.VersionTLS11), "", "no TLS version in common (the client needs TLS 1.2 or 1.3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dialErr := tls.Dial("tcp", srv.addr, tt.cfg)
			if dialErr == nil {
				defer c.Close()
			}
			o := srv.next(t)
			if o.reason != tt.wantReason || o.id != tt.wantID {
				t.Errorf("server: id %q reason %q (%v), want id %q reason %q", o.id, o.reason, o.err, tt.wantID, tt.wantReason)
			}
			if tt.wantReason == "" {
				if dialErr != nil {
					t.Fatalf("dial: %v", dialErr)
				}
				echo(t, c, "hello over tls\n")
				return
			}
			// A refused client must not get to talk: under TLS 1.3 its
			// handshake ends before the server checks its certificate, so
			// the refusal shows on the first read.
			if dialErr == nil {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write([]byte("x"))
				if _, err := c.Read(make([]byte, 1)); err == nil {
					t.Error("the refused client read an echo")
				}
			}
		})
	}
}

func withMax(c *tls.Config, v uint16) *tls.Config {
	c.MaxVersion = v
	if v < tls.VersionTLS12 {
		c.MinVersion = v
	}
	return c
}

// TestNegotiatedSuite shows what an ESP32-like client gets: TLS 1.2 with
// ECDHE-ECDSA-AES128-GCM-SHA256, or TLS 1.3.
func TestNegotiatedSuite(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	srv := startEchoServer(t, store.Config(), 10*time.Second)
	for _, tt := range []struct {
		max         uint16
		wantVersion uint16
		wantSuite   uint16
	}{
		{tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{0, tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256},
	} {
		c, err := tls.Dial("tcp", srv.addr, withMax(pkitest.Client(t, p.dir, p.dir, "b1"), tt.max))
		if err != nil {
			t.Fatal(err)
		}
		o := srv.next(t)
		st := c.ConnectionState()
		c.Close()
		t.Logf("negotiated %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		if st.Version != tt.wantVersion || st.CipherSuite != tt.wantSuite || o.state.CipherSuite != tt.wantSuite {
			t.Errorf("negotiated %s %s (server %s), want %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite),
				tls.CipherSuiteName(o.state.CipherSuite), tls.VersionName(tt.wantVersion), tls.CipherSuiteName(tt.wantSuite))
		}
	}
}

// TestPlaintextClient: a client that speaks plaintext to the TLS listener
// is refused at once, by its first byte, without waiting for a timeout,
// and gets no TLS bytes back, just the close.
func TestPlaintextClient(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	srv := startEchoServer(t, store.Config(), time.Hour) // a timeout would hang the test, not pass it
	for _, msg := range []string{"hello\n", "h", "\x00", "GET / HTTP/1.0\r\n\r\n"} {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		o := srv.next(t)
		if o.reason != "plaintext client on TLS listener" || !errors.Is(o.err, ErrPlaintext) {
			t.Errorf("plaintext %q: reason %q (%v), want plaintext client on TLS listener", msg, o.reason, o.err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if len(got) != 0 || err != nil && !errors.Is(err, syscallReset) {
			t.Errorf("plaintext %q: client read %q, %v; want only the close", msg, got, err)
		}
		c.Close()
	}
}

// TestStalledHandshake: clients that connect and say nothing, or start a
// ClientHello and stop, are cut at the timeout, measured from connecting.
func TestStalledHandshake(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 200 * time.Millisecond
	srv := startEchoServer(t, store.Config(), timeout)
	for _, sent := range []string{"", "\x16", "\x16\x03\x01\x02\x00\x01"} {
		start := time.Now()
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(sent)); err != nil {
			t.Fatal(err)
		}
		o := srv.next(t)
		if o.reason != "handshake timeout" {
			t.Errorf("after sending %q: reason %q (%v), want handshake timeout", sent, o.reason, o.err)
		}
		if d := time.Since(start); d < timeout {
			t.Errorf("after sending %q: cut after %v, before the %v timeout", sent, d, timeout)
		}
		c.Close()
	}
}

// TestDeadlineCleared: after a handshake under a short timeout, a client
// that stays quiet for longer than that is still served.
func TestDeadlineCleared(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	// Long enough for a handshake under emulation (the arm64 pass runs
	// under qemu-user), short enough that outliving it is quick.
	const timeout = 2 * time.Second
	srv := startEchoServer(t, store.Config(), timeout)
	c, err := tls.Dial("tcp", srv.addr, pkitest.Client(t, p.dir, p.dir, "b1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o := srv.next(t); o.reason != "" {
		t.Fatalf("handshake refused: %s", o.reason)
	}
	time.Sleep(timeout + timeout/2)
	echo(t, c, "still here\n")
}

// TestHandshakeShutdown: cancelling the context ends a waiting handshake at
// once and says why.
func TestHandshakeShutdown(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Handshake(ctx, b, store.Config(), 0)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "shutting down") {
			t.Errorf("Handshake after cancel: %v, want an error saying the server is shutting down", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Handshake still waiting 10s after its context was cancelled")
	}
}

func TestReasonFallback(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("tls: something new\nwith a second line"), "handshake failed: something new"},
		{io.EOF, "client closed the connection during the handshake"},
		{&net.OpError{Op: "read", Err: syscallReset}, "connection reset during the handshake"},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
