package gateway

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/pki"
	"github.com/gatewayd/gatewayd/gateway/pki/pkitest"
	"github.com/gatewayd/gatewayd/gateway/tlsconf"
)

// tlsPKI is a pki directory made as `gatewayctl pki` makes it, with boards
// b1, b2 and "old" (expired), and an unrelated CA with its own board b1.
type tlsPKI struct{ dir, other string }

func newTLSPKI(t *testing.T) tlsPKI {
	t.Helper()
	p := pkitest.New(t, "b2")
	return tlsPKI{dir: p.Dir, other: p.Other}
}

// store serves the pki's server certificate, asking for client
// certificates of its CA when boards is true.
func (p tlsPKI) store(t *testing.T, boards bool) *tlsconf.Store {
	t.Helper()
	f := tlsconf.Files{CertFile: filepath.Join(p.dir, pki.ServerCertFile), KeyFile: filepath.Join(p.dir, pki.ServerKeyFile)}
	if boards {
		f.ClientCAFile = filepath.Join(p.dir, pki.CACertFile)
	}
	s, err := tlsconf.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is a board of dir (board "" for none) trusting p's CA.
func (p tlsPKI) client(t *testing.T, dir, board string) *tls.Config {
	t.Helper()
	return pkitest.Client(t, p.dir, dir, board)
}

// startTLSServer serves p over TLS with cfg on 127.0.0.1:0 until the test
// ends.
func startTLSServer(t *testing.T, p Policy, cfg *tls.Config) (*Server, string, *gatewaytest.Buffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Policy: p, TLS: cfg}
	logs := serveForTest(t, s, l)
	return s, l.Addr().String(), logs
}

// waitLog waits for a log line containing want and returns it.
func waitLog(t *testing.T, logs *gatewaytest.Buffer, want string) string {
	t.Helper()
	var line string
	gatewaytest.Eventually(t, "a log line with "+want, func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, want) {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// tlsLines talks lines over c.
type tlsLines struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (l tlsLines) say(line string) string {
	l.t.Helper()
	l.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(l.c, line+"\n"); err != nil {
		l.t.Fatalf("write %q: %v", line, err)
	}
	got, err := l.br.ReadString('\n')
	if err != nil {
		l.t.Fatalf("reading the answer to %q: %v", line, err)
	}
	return strings.TrimSuffix(got, "\n")
}

func TestTLSHappyPath(t *testing.T) {
	p := newTLSPKI(t)
	st := p.store(t, true)
	srv, addr, _ := startTLSServer(t, Policy{Framing: FramingLine, HandshakeTimeout: 5 * time.Second}, st.Config())

	cfg := p.client(t, p.dir, "b1")
	cfg.MaxVersion = tls.VersionTLS12
	c, err := dialTLS(t, addr, cfg)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if got, want := c.ConnectionState().CipherSuite, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256; got != want {
		t.Errorf("TLS 1.2 suite = %s, want %s", tls.CipherSuiteName(got), tls.CipherSuiteName(want))
	}
	lc := tlsLines{t, c, bufio.NewReader(c)}
	// A client with a board certificate that has not said hello is echoed.
	if got, want := lc.say("plain"), "plain"; got != want {
		t.Errorf("echo = %q, want %q", got, want)
	}

	// Over TLS 1.3 too, and then as a board.
	c13, err := dialTLS(t, addr, p.client(t, p.dir, "b2"))
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if v := c13.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("version = %x, want TLS 1.3", v)
	}
	lc = tlsLines{t, c13, bufio.NewReader(c13)}
	if got, want := lc.say("!hello b2 fw=1.0"), "!ok b2"; got != want {
		t.Fatalf("hello answered %q, want %q", got, want)
	}
	if got, want := lc.say("reading 21.5"), "reading 21.5"; got != want {
		t.Errorf("receipt = %q, want %q", got, want)
	}
	bs := srv.Boards()
	if len(bs) != 1 || bs[0].ID != "b2" || !bs[0].TLS {
		t.Fatalf("Boards() = %+v, want b2 with TLS true", bs)
	}
	if err := srv.Deliver("b2", []byte("led on")); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	c13.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := lc.br.ReadString('\n'); err != nil || got != "!msg led on\n" {
		t.Fatalf("delivery = %q, %v; want %q", got, err, "!msg led on\n")
	}
}

func TestTLSIdentityMismatch(t *testing.T) {
	p := newTLSPKI(t)
	_, addr, logs := startTLSServer(t, Policy{Framing: FramingLine, HandshakeTimeout: 5 * time.Second}, p.store(t, true).Config())
	c, err := dialTLS(t, addr, p.client(t, p.dir, "b1"))
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	lc := tlsLines{t, c, bufio.NewReader(c)}
	if got, want := lc.say("!hello b2"), "!err identity-mismatch"; !strings.HasPrefix(got, want) {
		t.Fatalf("hello b2 with b1's certificate answered %q, want %q", got, want)
	}
	if _, err := lc.br.ReadString('\n'); err != io.EOF {
		t.Fatalf("after the refusal: %v, want EOF", err)
	}
	waitLog(t, logs, "code=identity-mismatch")
}

func TestTLSRefusedAtHandshake(t *testing.T) {
	p := newTLSPKI(t)
	_, addr, logs := startTLSServer(t, Policy{Framing: FramingLine, HandshakeTimeout: 5 * time.Second}, p.store(t, true).Config())
	for _, tc := range []struct {
		name, dir, board, reason string
	}{
		{"no certificate", p.dir, "", "no client certificate"},
		{"wrong CA", p.other, "b1", "certificate signed by unknown authority"},
		{"expired", p.dir, "old", "certificate expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialTLS(t, addr, p.client(t, tc.dir, tc.board))
			if err == nil {
				// TLS 1.3: the client learns of the refusal on its first read.
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = c.Read(make([]byte, 1))
			}
			if err == nil {
				t.Fatal("connection accepted; want it refused at the handshake")
			}
			line := waitLog(t, logs, "reason=\""+tc.reason+"\"")
			if !strings.Contains(line, "msg=\"TLS handshake failed\"") || !strings.Contains(line, "remote=") {
				t.Errorf("log line %q, want msg=\"TLS handshake failed\" with the remote", line)
			}
		})
	}
}

func TestTLSPlaintextClient(t *testing.T) {
	p := newTLSPKI(t)
	_, addr, logs := startTLSServer(t, Policy{Framing: FramingLine, HandshakeTimeout: 5 * time.Second}, p.store(t, false).Config())
	c := dial(t, addr)
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
	waitLog(t, logs, "client disconnected")
	var plain int
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "plaintext client on TLS listener; closed") {
			plain++
		}
		if strings.Contains(line, "tls:") || strings.Contains(line, "TLS handshake failed") {
			t.Errorf("log line %q: want no TLS error text for a plaintext client", line)
		}
	}
	if plain != 1 {
		t.Errorf("%d lines saying the client spoke plaintext, want 1:\n%s", plain, logs)
	}
}

// TestTLSRotation: a reloaded store serves new handshakes the new
// certificate while a connection already open keeps going.
func TestTLSRotation(t *testing.T) {
	p := newTLSPKI(t)
	dir := t.TempDir()
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	copyFile(filepath.Join(p.dir, pki.ServerCertFile), certFile)
	copyFile(filepath.Join(p.dir, pki.ServerKeyFile), keyFile)
	st, err := tlsconf.Load(tlsconf.Files{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	_, addr, _ := startTLSServer(t, Policy{HandshakeTimeout: 5 * time.Second}, st.Config())
	old, err := dialTLS(t, addr, p.client(t, p.dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	roundTripOK(t, old, "before")

	copyFile(filepath.Join(p.other, pki.ServerCertFile), certFile)
	copyFile(filepath.Join(p.other, pki.ServerKeyFile), keyFile)
	if err := st.Reload(); err != nil {
		t.Fatal(err)
	}
	roundTripOK(t, old, "after") // open connections keep going
	if _, err := dialTLS(t, addr, p.client(t, p.dir, "")); err == nil {
		t.Fatal("a client trusting only the old CA completed a handshake after the rotation")
	}
	trustOther := p.client(t, p.dir, "")
	ca, _ := os.ReadFile(filepath.Join(p.other, pki.CACertFile))
	trustOther.RootCAs = x509.NewCertPool()
	trustOther.RootCAs.AppendCertsFromPEM(ca)
	fresh, err := dialTLS(t, addr, trustOther)
	if err != nil {
		t.Fatalf("handshake with the new certificate: %v", err)
	}
	roundTripOK(t, fresh, "new")
}

func roundTripOK(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	got, err := roundTrip(c, []byte(msg))
	if err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
}

// TestTLSStalledHandshakes: 1,000 clients that connect and never finish
// their handshake are cut at the handshake timeout, while a TLS client and
// new connections keep being served.
func TestTLSStalledHandshakes(t *testing.T) {
	const stalled = 1000
	p := newTLSPKI(t)
	timeout := 2 * time.Second
	srv, addr, logs := startTLSServer(t, Policy{HandshakeTimeout: timeout}, p.store(t, false).Config())

	live, err := dialTLS(t, addr, p.client(t, p.dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, 0, stalled)
	for i := range stalled {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			c.Write([]byte{0x16, 0x03, 0x01}) // a handshake record begun, never finished
		}
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	// The echo and the accept loop carry on meanwhile.
	for i := 0; time.Since(start) < timeout/2; i++ {
		roundTripOK(t, live, "still here")
		if i%10 == 0 {
			c, err := dialTLS(t, addr, p.client(t, p.dir, ""))
			if err != nil {
				t.Fatalf("a new client during the stall: %v", err)
			}
			roundTripOK(t, c, "new")
			c.Close()
		}
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { expectClosed(t, c) })
	}
	wg.Wait()
	if n := strings.Count(logs.String(), `reason="handshake timeout"`); n != stalled {
		t.Errorf("%d handshake timeouts logged, want %d", n, stalled)
	}
	roundTripOK(t, live, "after")
	gatewaytest.Eventually(t, "only the live client left", func() bool { return srv.Stats().Clients == 1 })
}

// TestTLSWriteTimeout: a TLS client that stops reading is dropped at the
// write timeout, as a plaintext one is.
func TestTLSWriteTimeout(t *testing.T) {
	p := newTLSPKI(t)
	_, addr, logs := startTLSServer(t, Policy{HandshakeTimeout: 5 * time.Second, WriteTimeout: time.Second}, p.store(t, false).Config())
	c, err := dialTLS(t, addr, p.client(t, p.dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16<<10)
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, err := c.Write(chunk); err != nil {
			break // the server closed us
		}
		if strings.Contains(logs.String(), "write timeout") {
			break
		}
	}
	waitLog(t, logs, `reason="write timeout: client stopped reading"`)
}
