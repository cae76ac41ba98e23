package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// buildGatewayctl builds cmd/gatewayctl, to drive gatewayd the way a user
// does.
func buildGatewayctl(t *testing.T) string {
	t.Helper()
	bin, err := gatewaytest.Build(t.TempDir(), "github.com/gatewayd/gatewayd/cmd/gatewayctl", gatewaytest.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// gatewayctl runs the built gatewayctl and returns stdout, stderr and the
// exit status.
func gatewayctl(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	return runToEnd(t, bin, args...)
}

// tlsBoard is a board connected over TLS, with its certificate, after
// its hello.
type tlsBoard struct {
	t  *testing.T
	c  *tls.Conn
	br *bufio.Reader
}

func dialTLSBoard(t *testing.T, addr, dir, id string) *tlsBoard {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "boards", id+".crt"), filepath.Join(dir, "boards", id+".key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	b := &tlsBoard{t: t, c: c, br: bufio.NewReader(c)}
	if got, want := b.exchange("!hello "+id), "!ok "+id; got != want {
		t.Fatalf("hello: got %q, want %q", got, want)
	}
	return b
}

// exchange sends line and returns the line that comes back, without LFs.
func (b *tlsBoard) exchange(line string) string {
	b.t.Helper()
	b.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := b.c.Write([]byte(line + "\n")); err != nil {
		b.t.Fatalf("writing %q: %v", line, err)
	}
	got, err := b.br.ReadString('\n')
	if err != nil {
		b.t.Fatalf("reading the answer to %q: %v", line, err)
	}
	return strings.TrimSuffix(got, "\n")
}

// serial is the serial number of the certificate the gateway presented.
func (b *tlsBoard) serial() string {
	return b.c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// fileSerial is the serial number of the PEM certificate in path.
func fileSerial(t *testing.T, path string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(path, strings.TrimSuffix(path, ".crt")+".key")
	if err != nil {
		t.Fatal(err)
	}
	return cert.Leaf.SerialNumber.String()
}

// TestTLSWithGatewayctlPKI is the README's path, with the real binaries:
// certificates from gatewayctl pki, gatewayd with a tls: section, boards
// connecting with gatewayctl send, and rotation on SIGHUP.
func TestTLSWithGatewayctlPKI(t *testing.T) {
	ctl := buildGatewayctl(t)
	dir := filepath.Join(t.TempDir(), "pki")
	for _, args := range [][]string{{"pki", "init", "-host", "127.0.0.1", dir}, {"pki", "board", dir, "b1"}, {"pki", "board", dir, "b2"}} {
		if _, stderr, code := gatewayctl(t, ctl, args...); code != 0 {
			t.Fatalf("gatewayctl %v: exit %d, %s", args, code, stderr)
		}
	}
	p := start(t, nil, "-config", writeConfig(t, fmt.Sprintf(`
listen: "127.0.0.1:0"
framing: line
control: ""
gpio:
  driver: none
tls:
  cert_file: %q
  key_file: %q
  client_ca_file: %q
`, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.crt"))))
	addr := p.addr()
	board := []string{"send", "-addr", addr, "-tls", "-ca", filepath.Join(dir, "ca.crt"),
		"-cert", filepath.Join(dir, "boards", "b1.crt"), "-key", filepath.Join(dir, "boards", "b1.key")}

	t.Run("board with its certificate", func(t *testing.T) {
		stdout, stderr, code := gatewayctl(t, ctl, append(board, "-hello", "b1", "temp=21.5")...)
		if want := "Received from server: temp=21.5\n"; code != 0 || stdout != want {
			t.Errorf("send -hello b1: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", code, stdout, stderr, want)
		}
	})
	t.Run("hello with another ID", func(t *testing.T) {
		stdout, stderr, code := gatewayctl(t, ctl, append(board, "-hello", "b3", "temp=21.5")...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "identity-mismatch") {
			t.Errorf("send -hello b3: exit %d, stdout %q, stderr %q; want exit 1 and identity-mismatch", code, stdout, stderr)
		}
		p.waitLog(`msg="board hello refused" remote=\S+ code=identity-mismatch board=b3`)
	})
	t.Run("plaintext client", func(t *testing.T) {
		stdout, stderr, code := gatewayctl(t, ctl, "send", "-addr", addr, "plain")
		if code != 1 || stdout != "" || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("plaintext send: exit %d, stdout %q, stderr %q; want exit 1 and one line", code, stdout, stderr)
		}
		p.waitLog(`reason="plaintext client on TLS listener"`)
		if got := p.countLog(`(?m)^.*plaintext client on TLS listener; closed.*$`); got != 1 {
			t.Errorf("%d lines say a plaintext client was closed, want 1", got)
		}
		if got := p.countLog(`TLS handshake failed`); got != 0 {
			t.Errorf("%d handshake failures logged for a plaintext client, want 0", got)
		}
	})

	t.Run("rotation on SIGHUP", func(t *testing.T) {
		// b2 stays connected throughout; new connections are b1's (a
		// second b2 would replace it).
		open := dialTLSBoard(t, addr, dir, "b2")
		first := fileSerial(t, filepath.Join(dir, "server.crt"))
		if got := open.serial(); got != first {
			t.Fatalf("gateway presented serial %s, want server.crt's %s", got, first)
		}
		if _, stderr, code := gatewayctl(t, ctl, "pki", "init", "-renew", "-host", "127.0.0.1", dir); code != 0 {
			t.Fatalf("pki init -renew: exit %d, %s", code, stderr)
		}
		second := fileSerial(t, filepath.Join(dir, "server.crt"))
		if second == first {
			t.Fatalf("pki init -renew kept serial %s", first)
		}
		p.signal(syscall.SIGHUP)
		p.waitLog(`msg="TLS certificate reloaded"`)
		if got := open.exchange("after rotation"); got != "after rotation" {
			t.Errorf("open connection after rotation: echo %q, want %q", got, "after rotation")
		}
		if got := dialTLSBoard(t, addr, dir, "b1").serial(); got != second {
			t.Errorf("new connection after rotation: serial %s, want the new certificate's %s", got, second)
		}

		// A bad file: the reload fails and the second certificate stays.
		if err := os.WriteFile(filepath.Join(dir, "server.crt"), []byte("not a certificate\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p.signal(syscall.SIGHUP)
		p.waitLog(`msg="reload failed; configuration unchanged"`)
		p.waitLog(`msg="config problem" problem=.*server\.crt`)
		if got := p.countLog(`msg="TLS certificate reloaded"`); got != 1 {
			t.Errorf("%d reloads of the certificate logged, want 1 (the bad file must not be used)", got)
		}
		if got := open.exchange("after a bad file"); got != "after a bad file" {
			t.Errorf("open connection after a bad file: echo %q, want %q", got, "after a bad file")
		}
		if got := dialTLSBoard(t, addr, dir, "b1").serial(); got != second {
			t.Errorf("new connection after a bad file: serial %s, want the last good certificate's %s", got, second)
		}
	})
	p.stop()
}
