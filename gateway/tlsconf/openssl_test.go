package tlsconf

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/pki"
)

// TestOpenSSLClient connects with `openssl s_client -tls1_2` and a board
// certificate, and shows the suite negotiated, once with OpenSSL's own
// list and once offering only what an ESP32's mbedTLS build offers for
// ECDSA (AES-128-GCM on P-256).
func TestOpenSSLClient(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (Debian: apt-get install openssl)")
	}
	p := newTestPKI(t)
	store, err := Load(p.files())
	if err != nil {
		t.Fatal(err)
	}
	srv := startEchoServer(t, store.Config(), 10*time.Second)
	cipherLine := regexp.MustCompile(`(?m)^New, (TLSv[0-9.]+), Cipher is (\S+)$`)
	for _, extra := range [][]string{
		nil,
		{"-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-groups", "P-256"},
	} {
		args := append([]string{"s_client", "-tls1_2", "-connect", srv.addr, "-servername", "localhost",
			"-CAfile", filepath.Join(p.dir, pki.CACertFile),
			"-cert", filepath.Join(p.dir, pki.BoardsDir, "b1.crt"), "-key", filepath.Join(p.dir, pki.BoardsDir, "b1.key"),
			"-verify_return_error"}, extra...)
		cmd := exec.Command(openssl, args...)
		cmd.Stdin = strings.NewReader("hello from openssl\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		o := srv.next(t)
		m := cipherLine.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("openssl %s printed no cipher line:\n%s", strings.Join(args, " "), out)
		}
		t.Logf("openssl s_client -tls1_2 %s: %s %s, server saw board %q", strings.Join(extra, " "), m[1], m[2], o.id)
		if m[1] != "TLSv1.2" || m[2] != "ECDHE-ECDSA-AES128-GCM-SHA256" || o.id != "b1" {
			t.Errorf("openssl negotiated %s %s for board %q, want TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 for b1", m[1], m[2], o.id)
		}
		if !strings.Contains(string(out), "Verify return code: 0 (ok)") {
			t.Errorf("openssl did not verify the server certificate:\n%s", out)
		}
	}
}
