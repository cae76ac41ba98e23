package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"testing"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		in      string
		wantTLS bool
		wantErr error
	}{
		{"\x16\x03\x01\x00\x05hello", true, nil},
		{"\x16", true, nil},
		{"hello\n", false, nil},
		{"\x15\x03\x03", false, nil}, // an alert record is not a client opening a connection
		{"\x80\x2e\x01", false, nil}, // SSLv2-style hello: not spoken here
		{"", false, io.EOF},
	}
	for _, tt := range tests {
		got, isTLS, err := sniffBytes([]byte(tt.in))
		if isTLS != tt.wantTLS || !errors.Is(err, tt.wantErr) {
			t.Errorf("Sniff(%q) = TLS %v, err %v; want TLS %v, err %v", tt.in, isTLS, err, tt.wantTLS, tt.wantErr)
		}
		if err == nil && string(got) != tt.in {
			t.Errorf("Sniff(%q): the connection then reads %q, want every byte again", tt.in, got)
		}
	}
}

// sniffBytes sends in over a pipe, sniffs the other end, and returns
// everything read through the wrapped connection.
func sniffBytes(in []byte) ([]byte, bool, error) {
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		a.Write(in)
		a.Close()
	}()
	c, isTLS, err := Sniff(b)
	if err != nil {
		return nil, isTLS, err
	}
	// Small reads too: the replayed byte must not be lost or doubled.
	var out bytes.Buffer
	buf := make([]byte, 3)
	for {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.Bytes(), isTLS, nil
}

func FuzzSniff(f *testing.F) {
	for _, s := range []string{"\x16\x03\x01\x00\x05", "hello\n", "", "\x00", "\x16"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, isTLS, err := sniffBytes(in)
		if len(in) == 0 {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Sniff of nothing: %v, want EOF", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := in[0] == 0x16; isTLS != want {
			t.Errorf("Sniff(%q) = TLS %v, want %v", in, isTLS, want)
		}
		if !bytes.Equal(got, in) {
			t.Errorf("Sniff(%q) then reads %q, want the same bytes", in, got)
		}
	})
}

func TestBoardID(t *testing.T) {
	leaf := func(cn string) tls.ConnectionState {
		c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
		return tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}
	}
	unverified := tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "b1"}}}}
	tests := []struct {
		name    string
		cs      tls.ConnectionState
		want    string
		wantErr bool
	}{
		{"verified", leaf("esp32-kitchen"), "esp32-kitchen", false},
		{"no certificate", tls.ConnectionState{}, "", false},
		{"presented but not verified", unverified, "", false},
		{"not a board ID", leaf("gatewayd CA host"), "", true},
		{"empty common name", leaf(""), "", true},
	}
	for _, tt := range tests {
		got, err := BoardID(tt.cs)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: BoardID = %q, %v; want %q, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
