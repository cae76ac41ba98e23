package pki

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// issueForSnippets makes a CA and a board, and returns the board's secrets.
func issueForSnippets(t *testing.T) BoardSecrets {
	t.Helper()
	dir := t.TempDir()
	if _, err := Init(dir, Options{Hosts: []string{"gw.local"}}); err != nil {
		t.Fatal(err)
	}
	res, err := Board(dir, "esp32-1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return BoardSecrets{ID: "esp32-1", CAPEM: res.CAPEM, CertPEM: res.CertPEM, KeyPEM: res.KeyPEM}
}

// TestArduinoSnippetCompiles pastes the secrets.h lines into a C++ file,
// as the user would, and checks that the strings the compiler makes are the
// PEM files byte for byte.
func TestArduinoSnippetCompiles(t *testing.T) {
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not installed")
	}
	s := issueForSnippets(t)
	dir := t.TempDir()
	src := "#include <cstdio>\n" + s.Arduino() + `
int main() {
#if GATEWAY_TLS
	std::fputs(BOARD_ID "\n", stdout);
	std::fputs(GATEWAY_CA_PEM, stdout);
	std::fputs(CLIENT_CERT_PEM, stdout);
	std::fputs(CLIENT_KEY_PEM, stdout);
#endif
}
`
	if err := os.WriteFile(filepath.Join(dir, "s.cpp"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cxx, "-Wall", "-Werror", "-o", filepath.Join(dir, "s"), filepath.Join(dir, "s.cpp")).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s\nsource:\n%s", err, out, src)
	}
	out, err := exec.Command(filepath.Join(dir, "s")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "esp32-1\n" + string(s.CAPEM) + string(s.CertPEM) + string(s.KeyPEM)
	if string(out) != want {
		t.Errorf("compiled secrets.h prints\n%s\nwant\n%s", out, want)
	}
}

// TestMicroPythonSnippet runs the config.py lines with python3 and checks
// the strings it gets.
func TestMicroPythonSnippet(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	s := issueForSnippets(t)
	src := s.MicroPython() + `
import sys
assert GATEWAY_TLS is True
sys.stdout.write(BOARD_ID + "\n" + GATEWAY_CA_PEM + CLIENT_CERT_PEM + CLIENT_KEY_PEM)
`
	cmd := exec.Command(py, "-")
	cmd.Stdin = strings.NewReader(src)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\nsource:\n%s", err, src)
	}
	want := "esp32-1\n" + string(s.CAPEM) + string(s.CertPEM) + string(s.KeyPEM)
	if string(out) != want {
		t.Errorf("config.py gives\n%s\nwant\n%s", out, want)
	}
}

func TestSnippetsWithoutClientCert(t *testing.T) {
	s := issueForSnippets(t)
	s.ID, s.CertPEM, s.KeyPEM = "", nil, nil
	for name, text := range map[string]string{"Arduino": s.Arduino(), "MicroPython": s.MicroPython()} {
		if !strings.Contains(text, "GATEWAY_CA_PEM") || strings.Contains(text, "CLIENT_") || strings.Contains(text, "BOARD_ID") {
			t.Errorf("%s without a client certificate:\n%s\nwant the CA only", name, text)
		}
	}
}
