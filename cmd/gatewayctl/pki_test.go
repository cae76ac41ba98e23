package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makePKI runs `gatewayctl pki init` for localhost and `pki board` for
// each board, and returns the directory.
func makePKI(t *testing.T, boards ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if r := ctl(t, nil, "pki", "init", "-host", "localhost", "-host", "127.0.0.1", dir); r.code != 0 {
		t.Fatalf("pki init: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, b := range boards {
		if r := ctl(t, nil, "pki", "board", dir, b); r.code != 0 {
			t.Fatalf("pki board %s: exit %d\n%s%s", b, r.code, r.stdout, r.stderr)
		}
	}
	return dir
}

func TestPKIInitAndBoard(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	r := ctl(t, nil, "pki", "init", "-host", "gw.local", "-host", "192.168.1.50", dir)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("pki init: exit %d, stderr %q", r.code, r.stderr)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	for _, want := range []string{
		"wrote " + filepath.Join(dir, "ca.crt") + "\n",
		"wrote " + filepath.Join(dir, "ca.key") + " (readable by its owner only)\n",
		"wrote " + filepath.Join(dir, "server.crt") + " (server certificate for gw.local, 192.168.1.50, valid until ",
		"  cert_file: " + filepath.Join(dir, "server.crt") + "\n",
		"  client_ca_file: " + filepath.Join(dir, "ca.crt"),
		"#define GATEWAY_TLS 1\n#define GATEWAY_CA_PEM \\\n  \"-----BEGIN CERTIFICATE-----\\n\" \\\n",
		"GATEWAY_TLS = True\nGATEWAY_CA_PEM = \"\"\"" + strings.TrimSpace(string(ca)) + "\n\"\"\"\n",
		"gatewayctl pki board " + dir + " ID\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("pki init output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "CLIENT_") {
		t.Errorf("pki init prints client certificate lines:\n%s", r.stdout)
	}

	r = ctl(t, nil, "pki", "board", dir, "esp32-kitchen")
	key, _ := os.ReadFile(filepath.Join(dir, "boards", "esp32-kitchen.key"))
	if r.code != 0 || len(key) == 0 {
		t.Fatalf("pki board: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"wrote " + filepath.Join(dir, "boards", "esp32-kitchen.crt") + ` (board "esp32-kitchen", valid until `,
		"#define BOARD_ID \"esp32-kitchen\"\n#define CLIENT_CERT_PEM \\\n",
		"#define CLIENT_KEY_PEM \\\n  \"-----BEGIN EC PRIVATE KEY-----\\n\" \\\n",
		"BOARD_ID = \"esp32-kitchen\"\n",
		"CLIENT_KEY_PEM = \"\"\"" + strings.TrimSpace(string(key)) + "\n\"\"\"\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("pki board output lacks %q:\n%s", want, r.stdout)
		}
	}

	// Again: everything kept, and said so.
	r = ctl(t, nil, "pki", "init", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "kept  "+filepath.Join(dir, "ca.key")) || strings.Contains(r.stdout, "wrote") {
		t.Errorf("pki init again: exit %d, output\n%s\nwant everything kept", r.code, r.stdout)
	}
	r = ctl(t, nil, "pki", "board", dir, "esp32-kitchen")
	if again, _ := os.ReadFile(filepath.Join(dir, "boards", "esp32-kitchen.key")); r.code != 0 || string(again) != string(key) ||
		!strings.Contains(r.stdout, "kept  "+filepath.Join(dir, "boards", "esp32-kitchen.key")) {
		t.Errorf("pki board again: exit %d, output\n%s\nwant the key kept", r.code, r.stdout)
	}
}

func TestPKIFailures(t *testing.T) {
	dir := makePKI(t)
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"pki", "init", "-host", "other.local", dir}, 1, []string{"server.crt", "-renew"}},
		{[]string{"pki", "init", "-host", "bad host", dir}, 1, []string{`"bad host"`}},
		{[]string{"pki", "board", dir, "bad id"}, 1, []string{`board ID "bad id"`, "A-Z a-z 0-9 . _ -"}},
		{[]string{"pki", "board", filepath.Join(dir, "nothing"), "b1"}, 1, []string{"no CA in", "pki init"}},
	}
	for _, tt := range tests {
		r := ctl(t, nil, tt.args...)
		if r.code != tt.code || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q; want exit %d and nothing on stdout", tt.args, r.code, r.stdout, tt.code)
		}
		oneLine(t, strings.Join(tt.args, " "), r.stderr, tt.want...)
	}
	for _, args := range [][]string{
		{"pki"}, {"pki", "frob"}, {"pki", "init"}, {"pki", "init", "a", "b"}, {"pki", "board", dir},
		{"pki", "init", "-bogus", dir}, {"pki", "init", dir, "-host", "x"},
	} {
		if r := ctl(t, nil, args...); r.code != 2 || !strings.Contains(r.stderr, "usage: gatewayctl pki") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and the usage", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "-host")); err == nil {
		t.Error("a flag after DIR was taken for a directory")
	}
}
