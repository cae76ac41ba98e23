package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/tlsconf"
)

// tlsEcho is a TLS echo listener on 127.0.0.1:0 built from tlsconf and a
// pki directory, standing in for gatewayd until its TLS listener exists.
// With sessions, a first line "!hello ID" is answered "!ok ID" (or
// "!err identity-mismatch" when a client certificate names another ID),
// like gatewayd's board sessions.
type tlsEcho struct {
	addr   string
	mu     sync.Mutex
	hellos []string
}

func startTLSEcho(t *testing.T, dir string, clientCA, sessions bool) *tlsEcho {
	t.Helper()
	files := tlsconf.Files{CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key")}
	if clientCA {
		files.ClientCAFile = filepath.Join(dir, "ca.crt")
	}
	store, err := tlsconf.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.Config()
	s := &tlsEcho{}
	s.addr = startTCP(t, func(c net.Conn) {
		tc, err := tlsconf.Handshake(context.Background(), c, cfg, 10*time.Second)
		if err != nil {
			return
		}
		if !sessions {
			_, _ = io.Copy(tc, tc)
			return
		}
		br := bufio.NewReader(tc)
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		id, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "!hello ")
		if !ok {
			_, _ = tc.Write([]byte("!err hello-required\n"))
			return
		}
		s.mu.Lock()
		s.hellos = append(s.hellos, id)
		s.mu.Unlock()
		if cn, _ := tlsconf.BoardID(tc.ConnectionState()); cn != "" && cn != id {
			_, _ = tc.Write([]byte("!err identity-mismatch\n"))
			return
		}
		_, _ = tc.Write([]byte("!ok " + id + "\n"))
		_, _ = io.Copy(tc, br)
	})
	return s
}

func tlsArgs(dir, board string) []string {
	args := []string{"-tls", "-ca", filepath.Join(dir, "ca.crt")}
	if board != "" {
		args = append(args, "-cert", filepath.Join(dir, "boards", board+".crt"), "-key", filepath.Join(dir, "boards", board+".key"))
	}
	return args
}

func TestSendTLS(t *testing.T) {
	dir := makePKI(t, "b1")
	other := makePKI(t, "b1")
	certs := startTLSEcho(t, dir, true, false)
	sessions := startTLSEcho(t, dir, true, true)
	plain := startTCP(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
	named := filepath.Join(t.TempDir(), "named")
	if r := ctl(t, nil, "pki", "init", "-host", "gw.example", named); r.code != 0 {
		t.Fatalf("pki init: %s", r.stderr)
	}
	elsewhere := startTLSEcho(t, named, false, false)

	send := func(addr string, flags ...string) []string {
		return append(append([]string{"send", "-addr", addr}, flags...), "Hello", "Goodbye")
	}
	ok := []struct {
		name string
		args []string
	}{
		{"board certificate", send(certs.addr, tlsArgs(dir, "b1")...)},
		{"TLS and hello", send(sessions.addr, append(tlsArgs(dir, "b1"), "-hello", "b1")...)},
	}
	for _, tt := range ok {
		r := ctl(t, nil, tt.args...)
		if want := "Received from server: Hello\nReceived from server: Goodbye\n"; r.code != 0 || r.stdout != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tt.name, r.code, r.stdout, r.stderr, want)
		}
	}

	fail := []struct {
		name string
		args []string
		want []string
	}{
		{"no -ca", send(certs.addr, "-tls"), []string{"cannot connect to " + certs.addr, "unknown authority (give its CA with -ca FILE)"}},
		{"server of another CA", send(certs.addr, tlsArgs(other, "")...), []string{"not signed by the CA in " + filepath.Join(other, "ca.crt")}},
		{"wrong host name", send(elsewhere.addr, tlsArgs(named, "")...), []string{`the gateway's certificate is not for "127.0.0.1" (it is for gw.example)`}},
		{"board of another CA", send(sessions.addr, append(tlsArgs(dir, "")[:3:3], "-cert", filepath.Join(other, "boards", "b1.crt"), "-key", filepath.Join(other, "boards", "b1.key"), "-hello", "b1")...), []string{"the gateway refused the handshake: unknown certificate authority (is -cert from the gateway's CA, and valid?)"}},
		{"no board certificate", send(sessions.addr, append(tlsArgs(dir, ""), "-hello", "b1")...), []string{"the gateway refused the handshake", "-cert and -key"}},
		{"identity mismatch", send(sessions.addr, append(tlsArgs(dir, "b1"), "-hello", "b2")...), []string{"the gateway refused hello b2: identity-mismatch"}},
		{"hello to a plain echo", send(plain, "-hello", "b1"), []string{"echoed the hello"}},
		{"TLS to a plain echo", send(plain, tlsArgs(dir, "b1")...), []string{"cannot connect to " + plain, "TLS handshake: the gateway echoed the TLS handshake: it does not speak TLS (is its tls: section set?)"}},
	}
	for _, tt := range fail {
		r := ctl(t, nil, tt.args...)
		if r.code != 1 || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q; want exit 1 and nothing on stdout", tt.name, r.code, r.stdout)
		}
		oneLine(t, tt.name, r.stderr, tt.want...)
		t.Logf("%s: %s", tt.name, strings.TrimSpace(r.stderr))
	}
}

func TestChatTLS(t *testing.T) {
	dir := makePKI(t, "b1")
	srv := startTLSEcho(t, dir, true, true)
	in := "first line\nsecond line\n"
	r := ctl(t, []byte(in), append(append([]string{"chat", "-addr", srv.addr}, tlsArgs(dir, "b1")...), "-hello", "b1")...)
	if r.code != 0 || r.stdout != in {
		t.Errorf("chat -tls -hello: exit %d, stdout %q, stderr %q; want the lines echoed", r.code, r.stdout, r.stderr)
	}
}

func TestBenchTLS(t *testing.T) {
	dir := makePKI(t, "b1")
	srv := startTLSEcho(t, dir, false, true)
	r := ctl(t, nil, append([]string{"bench", "-addr", srv.addr, "-c", "4", "-n", "50", "-lines", "-json", "-hello", "bench"}, tlsArgs(dir, "")...)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"conns":4,"connect_errors":0,"messages":200,`) || !strings.Contains(r.stdout, `"mismatches":0`) {
		t.Errorf("bench -tls -hello: exit %d, stdout %q, stderr %q; want 200 messages on 4 connections", r.code, r.stdout, r.stderr)
	}
	srv.mu.Lock()
	hellos := strings.Join(srv.hellos, " ")
	srv.mu.Unlock()
	for _, id := range []string{"bench-1", "bench-2", "bench-3", "bench-4"} {
		if !strings.Contains(hellos, id) {
			t.Errorf("hellos %q, want one from %s", hellos, id)
		}
	}

	r = ctl(t, nil, "bench", "-addr", srv.addr, "-c", "2", "-n", "1", "-tls")
	if r.code != 1 {
		t.Errorf("bench -tls without -ca: exit %d, want 1", r.code)
	}
	oneLine(t, "bench -tls without -ca", r.stderr, "cannot connect to "+srv.addr+": TLS handshake:", "unknown authority")
}

func TestConnFlagsUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "-ca", "x", "m"}, "-ca, -cert and -key need -tls"},
		{[]string{"send", "-tls", "-cert", "x", "m"}, "-cert and -key go together"},
		{[]string{"chat", "-hello", "bad id"}, `-hello: board ID "bad id": the ID may hold only`},
		{[]string{"bench", "-hello", strings.Repeat("x", 64)}, "-hello"},
	} {
		r := ctl(t, nil, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// TestTLSConfigNames checks the server name is the address's host.
func TestTLSConfigNames(t *testing.T) {
	f := &connFlags{tls: true}
	cfg, err := f.tlsConfig("gw.local:65432")
	if err != nil || cfg.ServerName != "gw.local" || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("tlsConfig: %+v, %v; want ServerName gw.local, TLS 1.2 at least", cfg, err)
	}
}
