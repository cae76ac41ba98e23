package tlsconf

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/pki"
	"github.com/gatewayd/gatewayd/gateway/pki/pkitest"
)

// TestReload rotates the server certificate under a live listener: the
// connection already open keeps echoing, a new one gets the new
// certificate, and a bad file is refused with the old certificate kept.
func TestReload(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	srv := startEchoServer(t, store.Config(), 10*time.Second)
	serial := func(c *tls.Conn) string { return c.ConnectionState().PeerCertificates[0].SerialNumber.String() }

	first, err := tls.Dial("tcp", srv.addr, pkitest.Client(t, p.dir, p.dir, "b1"))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	srv.next(t)
	echo(t, first, "before rotation\n")
	oldSerial := serial(first)

	// The user renews the server certificate and sends SIGHUP.
	if _, err := pki.Init(p.dir, pki.Options{Hosts: []string{"localhost", "127.0.0.1"}, Renew: true}); err != nil {
		t.Fatal(err)
	}
	if err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	echo(t, first, "after rotation, same connection\n")

	second, err := tls.Dial("tcp", srv.addr, pkitest.Client(t, p.dir, p.dir, "b1"))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	srv.next(t)
	newSerial := serial(second)
	if newSerial == oldSerial {
		t.Fatalf("a connection after Reload got the old certificate (serial %s)", oldSerial)
	}
	if got := store.Leaf().SerialNumber.String(); got != newSerial {
		t.Errorf("Leaf serial %s, want the new one %s", got, newSerial)
	}
	echo(t, second, "new connection\n")

	// Bad files: each Reload fails naming the problem, and the
	// certificate served stays the good one.
	certPEM, err := os.ReadFile(p.files().CertFile)
	if err != nil {
		t.Fatal(err)
	}
	other := Files{CertFile: filepath.Join(p.other, pki.ServerCertFile)}
	otherCert, _ := os.ReadFile(other.CertFile)
	bad := []struct {
		name  string
		cert  []byte
		wants string
	}{
		{"garbage certificate", []byte("not a certificate\n"), "failed to find any PEM data"},
		{"certificate of another key", otherCert, "private key does not match public key"},
		{"empty certificate", nil, "cert_file"},
	}
	for _, b := range bad {
		if err := os.WriteFile(p.files().CertFile, b.cert, 0o644); err != nil {
			t.Fatal(err)
		}
		err := store.Reload()
		if err == nil || !strings.Contains(err.Error(), b.wants) || !strings.Contains(err.Error(), p.files().CertFile) {
			t.Errorf("Reload with a %s: %v, want an error naming the file and %q", b.name, err, b.wants)
		}
		c, err := tls.Dial("tcp", srv.addr, pkitest.Client(t, p.dir, p.dir, "b1"))
		if err != nil {
			t.Fatalf("after a failed Reload (%s): %v", b.name, err)
		}
		srv.next(t)
		if got := serial(c); got != newSerial {
			t.Errorf("after a failed Reload (%s): serial %s, want the kept %s", b.name, got, newSerial)
		}
		c.Close()
	}
	if err := os.WriteFile(p.files().CertFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := store.Reload(); err != nil {
		t.Errorf("Reload with the good file back: %v", err)
	}
	echo(t, first, "the first connection outlived it all\n")
}

func TestLoadErrors(t *testing.T) {
	p := newTestPKI(t)
	good := p.files()
	expired := t.TempDir()
	if _, err := pki.Init(expired, pki.Options{Hosts: []string{"x"}, Now: time.Now().Add(-pki.ServerValidity - time.Hour)}); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("hello\n"), 0o644)
	tests := []struct {
		name  string
		files Files
		want  string
	}{
		{"missing key", Files{CertFile: good.CertFile, KeyFile: "/nonexistent/server.key"}, "/nonexistent/server.key"},
		{"missing client CA", Files{CertFile: good.CertFile, KeyFile: good.KeyFile, ClientCAFile: "/nonexistent/ca.crt"}, "client_ca_file: open /nonexistent/ca.crt"},
		{"client CA without certificates", Files{CertFile: good.CertFile, KeyFile: good.KeyFile, ClientCAFile: garbage}, "no PEM certificate"},
		{"expired server certificate", Files{CertFile: filepath.Join(expired, pki.ServerCertFile), KeyFile: filepath.Join(expired, pki.ServerKeyFile)}, "expired on"},
	}
	for _, tt := range tests {
		_, err := Load(tt.files)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Load error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestServerConfig(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		files    Files
		wantAuth tls.ClientAuthType
	}{
		{Files{CertFile: p.files().CertFile, KeyFile: p.files().KeyFile}, tls.NoClientCert},
		{p.files(), tls.RequireAndVerifyClientCert},
	} {
		s, err := Load(tt.files)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Config().GetConfigForClient(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if c.MinVersion != tls.VersionTLS12 || c.ClientAuth != tt.wantAuth || s.Config().ClientAuth != tt.wantAuth {
			t.Errorf("client CA %q: MinVersion %x ClientAuth %v, want TLS 1.2 and %v", tt.files.ClientCAFile, c.MinVersion, c.ClientAuth, tt.wantAuth)
		}
		if c.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
			t.Errorf("first TLS 1.2 suite %s, want ECDHE-ECDSA-AES128-GCM-SHA256", tls.CipherSuiteName(c.CipherSuites[0]))
		}
	}
}

// TestNoClientCA: without client_ca_file any TLS client is served, and
// BoardID is empty.
func TestNoClientCA(t *testing.T) {
	p := newTestPKI(t)
	store, err := Load(Files{CertFile: p.files().CertFile, KeyFile: p.files().KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := startEchoServer(t, store.Config(), 10*time.Second)
	for _, board := range []string{"", "b1"} {
		c, err := tls.Dial("tcp", srv.addr, pkitest.Client(t, p.dir, p.dir, board))
		if err != nil {
			t.Fatal(err)
		}
		o := srv.next(t)
		if o.reason != "" || o.id != "" {
			t.Errorf("client with board %q: id %q reason %q, want served with no ID", board, o.id, o.reason)
		}
		echo(t, c, "anyone\n")
		c.Close()
	}
}
