package pki

import (
	"bytes"
	"fmt"
	"strings"
)

// BoardSecrets holds what a board needs to speak TLS to the gateway: the CA it
// trusts and, for a client certificate, its ID, certificate and key. The
// names of the settings below are shared with deploy/esp32's clients.
type BoardSecrets struct {
	ID              string // empty: no client certificate
	CAPEM           []byte
	CertPEM, KeyPEM []byte
}

// Arduino returns the lines to paste into the sketch's secrets.h: each PEM
// as a C string macro, one literal per line so the file stays readable.
func (s BoardSecrets) Arduino() string {
	var b strings.Builder
	b.WriteString("#define GATEWAY_TLS 1\n")
	cMacro(&b, "GATEWAY_CA_PEM", s.CAPEM)
	if s.ID != "" {
		fmt.Fprintf(&b, "#define BOARD_ID %q\n", s.ID)
		cMacro(&b, "CLIENT_CERT_PEM", s.CertPEM)
		cMacro(&b, "CLIENT_KEY_PEM", s.KeyPEM)
	}
	return b.String()
}

// MicroPython returns the lines to paste into config.py: each PEM as a
// triple-quoted string, which MicroPython's ssl module takes as it is.
func (s BoardSecrets) MicroPython() string {
	var b strings.Builder
	b.WriteString("GATEWAY_TLS = True\n")
	pyString(&b, "GATEWAY_CA_PEM", s.CAPEM)
	if s.ID != "" {
		fmt.Fprintf(&b, "BOARD_ID = %q\n", s.ID)
		pyString(&b, "CLIENT_CERT_PEM", s.CertPEM)
		pyString(&b, "CLIENT_KEY_PEM", s.KeyPEM)
	}
	return b.String()
}

// cMacro writes `#define NAME` and the PEM as concatenated string literals.
// PEM holds only base64, dashes, spaces and letters, so no escaping is
// needed.
func cMacro(b *strings.Builder, name string, pem []byte) {
	fmt.Fprintf(b, "#define %s \\\n", name)
	lines := bytes.Split(bytes.TrimSpace(pem), []byte("\n"))
	for i, l := range lines {
		fmt.Fprintf(b, "  \"%s\\n\"", bytes.TrimSpace(l))
		if i < len(lines)-1 {
			b.WriteString(" \\")
		}
		b.WriteString("\n")
	}
}

func pyString(b *strings.Builder, name string, pem []byte) {
	fmt.Fprintf(b, "%s = \"\"\"%s\n\"\"\"\n", name, bytes.TrimSpace(pem))
}
