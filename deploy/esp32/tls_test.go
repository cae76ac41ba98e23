package esp32

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// boardPKI is what `gatewayctl pki init` and `gatewayctl pki board` made:
// the files for gatewayd.yaml and the lines printed for the two clients,
// used here exactly as a person would paste them.
type boardPKI struct {
	certFile, keyFile, caFile string
	secretsH, configPy        string
}

var yamlFileRe = regexp.MustCompile(`(?m)^\s+(cert_file|key_file|client_ca_file): (\S+)`)

// issuePKI runs `gatewayctl pki init -host 127.0.0.1 -host localhost DIR`
// and `gatewayctl pki board DIR ID`.
func issuePKI(t *testing.T, id string) boardPKI {
	t.Helper()
	ctl := gatewayctlBinary(t)
	dir := filepath.Join(t.TempDir(), "pki")
	out, err := exec.Command(ctl, "pki", "init", "-host", "127.0.0.1", "-host", "localhost", dir).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), `unknown command "pki"`) || strings.Contains(string(out), "unknown command") {
			t.Skipf("this gatewayctl has no `pki` command yet (it comes with the TLS work): %s", strings.TrimSpace(string(out)))
		}
		t.Fatalf("gatewayctl pki init: %v\n%s", err, out)
	}
	var p boardPKI
	for _, m := range yamlFileRe.FindAllStringSubmatch(string(out), -1) {
		switch m[1] {
		case "cert_file":
			p.certFile = m[2]
		case "key_file":
			p.keyFile = m[2]
		case "client_ca_file":
			p.caFile = m[2]
		}
	}
	if p.certFile == "" || p.keyFile == "" || p.caFile == "" {
		t.Fatalf("gatewayctl pki init printed no tls: cert_file/key_file/client_ca_file lines:\n%s", out)
	}
	out, err = exec.Command(ctl, "pki", "board", dir, id).CombinedOutput()
	if err != nil {
		t.Fatalf("gatewayctl pki board %s: %v\n%s", id, err, out)
	}
	s := string(out)
	h := strings.Index(s, "In the sketch's secrets.h")
	py := strings.Index(s, "In the MicroPython config.py:")
	if h < 0 || py < h {
		t.Fatalf("gatewayctl pki board printed no secrets.h and config.py sections:\n%s", s)
	}
	p.secretsH = strings.TrimSpace(s[strings.Index(s[h:], "\n")+h+1 : py])
	rest := s[py+len("In the MicroPython config.py:"):]
	p.configPy = strings.TrimSpace(rest)
	for _, want := range []string{"#define GATEWAY_TLS 1", "GATEWAY_CA_PEM", `#define BOARD_ID "` + id + `"`, "CLIENT_CERT_PEM", "CLIENT_KEY_PEM"} {
		if !strings.Contains(p.secretsH, want) {
			t.Fatalf("secrets.h lines from gatewayctl pki board lack %q:\n%s", want, p.secretsH)
		}
	}
	return p
}

// tlsGateway runs gatewayd behind TLS that demands a board certificate from
// p's CA. With gatewayd's own `tls:` section when this gatewayd accepts it;
// otherwise crypto/tls (what gatewayd's listener is built on) terminates
// TLS in the test and passes the bytes to a plaintext gatewayd, so the
// client's TLS is still checked against the same certificates. It returns
// the gateway (for its control socket) and the address boards dial.
func tlsGateway(t *testing.T, p boardPKI) (*gateway, *daemon, string) {
	t.Helper()
	section := "tls:\n  cert_file: " + p.certFile + "\n  key_file: " + p.keyFile + "\n  client_ca_file: " + p.caFile + "\n"
	if ok, why := accepts(t, section); ok {
		g := newGateway(t, "line", section)
		d := g.start(t)
		t.Logf("TLS: gatewayd's own tls: section")
		return g, d, g.addr
	} else {
		t.Logf("TLS: this gatewayd does not take a tls: section yet (%s); crypto/tls in the test terminates it", why)
	}
	g := newGateway(t, "line", "")
	d := g.start(t)
	return g, d, tlsFront(t, p, g.addr)
}

// tlsFront listens with TLS on a loopback port, requires a client
// certificate from p's CA, and copies each connection to backend.
func tlsFront(t *testing.T, p boardPKI, backend string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("no certificate in %s", p.caFile)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				mu.Lock()
				for _, c := range conns {
					c.Close()
				}
				mu.Unlock()
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					t.Logf("tls front: handshake: %v", err)
					return
				}
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				mu.Lock()
				conns = append(conns, c, b)
				mu.Unlock()
				done := make(chan struct{})
				go func() {
					_, _ = io.Copy(b, c)
					b.(*net.TCPConn).CloseWrite()
					close(done)
				}()
				_, _ = io.Copy(c, b)
				c.Close()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}
