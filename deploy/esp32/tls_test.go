package esp32

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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
	return issuePKIHosts(t, id, "127.0.0.1", "localhost")
}

// issuePKIHosts is issuePKI with the gateway's certificate for hosts.
func issuePKIHosts(t *testing.T, id string, hosts ...string) boardPKI {
	t.Helper()
	ctl := gatewayctlBinary(t)
	dir := filepath.Join(t.TempDir(), "pki")
	args := []string{"pki", "init"}
	for _, h := range hosts {
		args = append(args, "-host", h)
	}
	out, err := exec.Command(ctl, append(args, dir)...).CombinedOutput()
	if err != nil {
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

// tlsGateway runs gatewayd with the `tls:` section that `gatewayctl pki
// init` printed: its listener speaks TLS only and demands a board
// certificate from p's CA, whose common name must match the hello.
func tlsGateway(t *testing.T, p boardPKI) (*gateway, *daemon) {
	t.Helper()
	g := newGateway(t, "line", "tls:\n  cert_file: "+p.certFile+"\n  key_file: "+p.keyFile+"\n  client_ca_file: "+p.caFile+"\n")
	return g, g.start(t)
}
