package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseHosts(t *testing.T) {
	tests := []struct {
		in      []string
		dns     []string
		ips     []string
		wantErr string
	}{
		{in: []string{"gw", "GW.local.", "192.168.1.5", "::1", "gw"}, dns: []string{"gw", "gw.local"}, ips: []string{"192.168.1.5", "::1"}},
		{in: []string{"::ffff:10.0.0.1"}, ips: []string{"10.0.0.1"}},
		{in: []string{"bad host"}, wantErr: `host "bad host"`},
		{in: []string{"-gw"}, wantErr: "cannot start or end with '-'"},
		{in: []string{"a..b"}, wantErr: `""`},
		{in: []string{"fe80::1%eth0"}, wantErr: "zone"},
		{in: nil, wantErr: "no host names"},
	}
	for _, tt := range tests {
		h, err := ParseHosts(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseHosts(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHosts(%q): %v", tt.in, err)
			continue
		}
		var ips []string
		for _, a := range h.IPs {
			ips = append(ips, a.String())
		}
		if !slices.Equal(h.DNS, tt.dns) || !slices.Equal(ips, tt.ips) {
			t.Errorf("ParseHosts(%q) = %v %v, want %v %v", tt.in, h.DNS, ips, tt.dns, tt.ips)
		}
	}
}

func TestDefaultHosts(t *testing.T) {
	h, err := DefaultHosts()
	if err != nil {
		t.Fatal(err)
	}
	hn, _ := os.Hostname()
	short, _, _ := strings.Cut(strings.ToLower(hn), ".")
	for _, want := range []string{strings.ToLower(hn), short + ".local", "localhost", "127.0.0.1"} {
		if !slices.Contains(h.Strings(), want) {
			t.Errorf("DefaultHosts() = %v, want it to include %q", h.Strings(), want)
		}
	}
}

// mode returns path's permission bits.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verify checks that certPath chains to the CA in dir for usage, and
// returns the certificate.
func verify(t *testing.T, dir, certPath string, usage x509.ExtKeyUsage, dnsName string) *x509.Certificate {
	t.Helper()
	ca, err := parseCert("ca", readFile(t, filepath.Join(dir, CACertFile)))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCert(certPath, readFile(t, certPath))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		t.Errorf("%s does not verify for %q: %v", certPath, dnsName, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("%s key is %T, want ECDSA P-256", certPath, cert.PublicKey)
	}
	return cert
}

func TestInitNewDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	now := time.Now()
	res, err := Init(dir, Options{Hosts: []string{"gw.example", "gw.local", "192.168.1.50"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile),
		filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile),
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(res.Written))
	if !slices.Equal(got, want) || len(res.Kept) != 0 {
		t.Errorf("Written = %v, Kept = %v; want Written %v, nothing kept", res.Written, res.Kept, want)
	}
	for _, f := range []struct {
		name string
		mode fs.FileMode
	}{{"", 0o700}, {CACertFile, 0o644}, {CAKeyFile, 0o600}, {ServerCertFile, 0o644}, {ServerKeyFile, 0o600}} {
		if got := mode(t, filepath.Join(dir, f.name)); got != f.mode {
			t.Errorf("mode of %q = %04o, want %04o", f.name, got, f.mode)
		}
	}

	ca := res.CA
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, MaxPathLenZero %v, KeyUsage %b: want a CA that signs end entities only", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	for _, host := range []string{"gw.example", "gw.local", "192.168.1.50"} {
		verify(t, dir, filepath.Join(dir, ServerCertFile), x509.ExtKeyUsageServerAuth, host)
	}
	srv := verify(t, dir, filepath.Join(dir, ServerCertFile), x509.ExtKeyUsageServerAuth, "")
	if got := srv.ExtKeyUsage; !slices.Equal(got, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server ExtKeyUsage = %v, want serverAuth only", got)
	}
	if d := srv.NotAfter.Sub(now); d < ServerValidity-time.Minute || d > ServerValidity+time.Minute {
		t.Errorf("server certificate valid for %v from now, want %v", d, ServerValidity)
	}
	if !srv.NotBefore.Equal(ValidFrom) {
		t.Errorf("server NotBefore = %v, want %v: a board that has not set its clock reads 2000-01-01", srv.NotBefore, ValidFrom)
	}
	if srv.SerialNumber.Cmp(ca.SerialNumber) == 0 || srv.SerialNumber.BitLen() < 64 {
		t.Errorf("serials: CA %v, server %v; want distinct random serials", ca.SerialNumber, srv.SerialNumber)
	}
	if !bytes.Equal(srv.AuthorityKeyId, ca.SubjectKeyId) || len(ca.SubjectKeyId) == 0 {
		t.Errorf("server AuthorityKeyId %x, CA SubjectKeyId %x: want them equal and set", srv.AuthorityKeyId, ca.SubjectKeyId)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("dir holds %d entries, want the 4 files and no temporary ones", len(entries))
	}
}

func TestInitKeepsCA(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"gw.local", "10.0.0.2"}
	if _, err := Init(dir, Options{Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
	snapshot := func() map[string][]byte {
		m := map[string][]byte{}
		for _, f := range []string{CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile} {
			m[f] = readFile(t, filepath.Join(dir, f))
		}
		return m
	}
	before := snapshot()
	unchanged := func(step string, files ...string) {
		t.Helper()
		after := snapshot()
		for _, f := range files {
			if !bytes.Equal(before[f], after[f]) {
				t.Errorf("%s: %s changed", step, f)
			}
		}
	}

	// Again with the same hosts, or none: everything kept.
	for _, h := range [][]string{hosts, {"10.0.0.2", "gw.local"}, nil} {
		res, err := Init(dir, Options{Hosts: h})
		if err != nil {
			t.Fatalf("init again with hosts %q: %v", h, err)
		}
		if len(res.Written) != 0 || len(res.Kept) != 4 {
			t.Errorf("init again with hosts %q: Written %v, Kept %v; want all 4 kept", h, res.Written, res.Kept)
		}
		if !bytes.Equal(res.CertPEM, before[ServerCertFile]) || !bytes.Equal(res.CAPEM, before[CACertFile]) {
			t.Errorf("init again with hosts %q: the result does not carry the kept certificates", h)
		}
	}
	unchanged("init again", CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile)

	// Other hosts without -renew: refused, nothing touched.
	_, err := Init(dir, Options{Hosts: []string{"other.local"}})
	if err == nil || !strings.Contains(err.Error(), "-renew") {
		t.Errorf("init with other hosts: error %v, want one that suggests -renew", err)
	}
	unchanged("init with other hosts", CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile)

	// -renew: a new server certificate from the same CA.
	res, err := Init(dir, Options{Hosts: []string{"other.local"}, Renew: true})
	if err != nil {
		t.Fatal(err)
	}
	unchanged("init -renew", CACertFile, CAKeyFile)
	if bytes.Equal(readFile(t, filepath.Join(dir, ServerKeyFile)), before[ServerKeyFile]) {
		t.Error("init -renew: server.key unchanged, want a new key")
	}
	if got := res.Hosts.Strings(); !slices.Equal(got, []string{"other.local"}) {
		t.Errorf("init -renew: hosts %v, want [other.local]", got)
	}
	verify(t, dir, filepath.Join(dir, ServerCertFile), x509.ExtKeyUsageServerAuth, "other.local")
	if got := mode(t, filepath.Join(dir, ServerKeyFile)); got != 0o600 {
		t.Errorf("renewed server.key mode %04o, want 0600", got)
	}
}

func TestInitRefusesBrokenDir(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(dir string)
		want    string
	}{
		{"half a CA", func(dir string) { os.Remove(filepath.Join(dir, CAKeyFile)) }, "only one of"},
		{"CA key of another CA", func(dir string) {
			other := filepath.Join(dir, "other")
			if _, err := Init(other, Options{Hosts: []string{"x"}}); err != nil {
				panic(err)
			}
			os.Rename(filepath.Join(other, CAKeyFile), filepath.Join(dir, CAKeyFile))
		}, "is not the key of"},
		{"garbage CA", func(dir string) { os.WriteFile(filepath.Join(dir, CACertFile), []byte("hello\n"), 0o644) }, "no PEM CERTIFICATE"},
		{"server from another CA", func(dir string) {
			other := filepath.Join(dir, "other")
			if _, err := Init(other, Options{Hosts: []string{"x"}}); err != nil {
				panic(err)
			}
			os.Rename(filepath.Join(other, ServerCertFile), filepath.Join(dir, ServerCertFile))
			os.Rename(filepath.Join(other, ServerKeyFile), filepath.Join(dir, ServerKeyFile))
		}, "not issued by this directory's CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Init(dir, Options{Hosts: []string{"gw.local"}}); err != nil {
				t.Fatal(err)
			}
			tt.prepare(dir)
			ca := readFileOrNil(filepath.Join(dir, CACertFile))
			_, err := Init(dir, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Init: error %v, want one containing %q", err, tt.want)
			}
			if got := readFileOrNil(filepath.Join(dir, CACertFile)); !bytes.Equal(got, ca) {
				t.Error("Init changed ca.crt after refusing")
			}
		})
	}
}

func readFileOrNil(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func TestInitExpiredCA(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, Options{Hosts: []string{"gw"}, Now: time.Now().Add(-CAValidity - 24*time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err := Init(dir, Options{Hosts: []string{"gw"}})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Init with an expired CA: error %v, want one saying it expired", err)
	}
	_, err = Board(dir, "b1", Options{})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Board with an expired CA: error %v, want one saying it expired", err)
	}
}

func TestBoard(t *testing.T) {
	dir := t.TempDir()
	if _, err := Board(dir, "b1", Options{}); err == nil || !strings.Contains(err.Error(), "pki init") {
		t.Errorf("Board before init: error %v, want one that says to run pki init", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Board before init left %d files", len(entries))
	}
	if _, err := Init(dir, Options{Hosts: []string{"gw.local"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Board(dir, "bad id", Options{}); err == nil || !strings.Contains(err.Error(), "A-Z a-z 0-9 . _ -") {
		t.Errorf("Board with a bad ID: error %v, want one naming the allowed characters", err)
	}

	res, err := Board(dir, "esp32-kitchen", Options{})
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(dir, BoardsDir, "esp32-kitchen.crt")
	keyPath := filepath.Join(dir, BoardsDir, "esp32-kitchen.key")
	if !slices.Equal(res.Written, []string{certPath, keyPath}) {
		t.Errorf("Written = %v, want %v", res.Written, []string{certPath, keyPath})
	}
	cert := verify(t, dir, certPath, x509.ExtKeyUsageClientAuth, "")
	if cert.Subject.CommonName != "esp32-kitchen" {
		t.Errorf("board CN = %q, want the ID", cert.Subject.CommonName)
	}
	if got := cert.ExtKeyUsage; !slices.Equal(got, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("board ExtKeyUsage = %v, want clientAuth only", got)
	}
	if got := mode(t, keyPath); got != 0o600 {
		t.Errorf("board key mode %04o, want 0600", got)
	}
	key := readFile(t, keyPath)

	again, err := Board(dir, "esp32-kitchen", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Written) != 0 || !bytes.Equal(again.KeyPEM, key) || !bytes.Equal(readFile(t, keyPath), key) {
		t.Errorf("Board again: Written %v; want the existing key kept and returned", again.Written)
	}
	renewed, err := Board(dir, "esp32-kitchen", Options{Renew: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(renewed.Written) != 2 || bytes.Equal(readFile(t, keyPath), key) {
		t.Errorf("Board -renew: Written %v; want a new certificate and key", renewed.Written)
	}
}

func TestBoardExpiryNote(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, Options{Hosts: []string{"gw.local"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Board(dir, "old", Options{Now: time.Now().Add(-BoardValidity - time.Hour)}); err != nil {
		t.Fatal(err)
	}
	res, err := Board(dir, "old", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "expired") {
		t.Errorf("Notes = %q, want one saying the certificate expired", res.Notes)
	}
}

// TestValidOnClocklessBoard: an ESP32 that has just powered on reads
// 2000-01-01 until SNTP answers; the CA, the gateway's certificate and the
// board's certificate must all verify at that time, as mbedTLS on the board
// checks them, and still verify today.
func TestValidOnClocklessBoard(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, Options{Hosts: []string{"gw.local"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Board(dir, "esp32-kitchen", Options{}); err != nil {
		t.Fatal(err)
	}
	ca, err := parseCert("ca", readFile(t, filepath.Join(dir, CACertFile)))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, tc := range []struct {
		path, host string
		usage      x509.ExtKeyUsage
	}{
		{filepath.Join(dir, ServerCertFile), "gw.local", x509.ExtKeyUsageServerAuth},
		{filepath.Join(dir, BoardsDir, "esp32-kitchen.crt"), "", x509.ExtKeyUsageClientAuth},
	} {
		cert, err := parseCert(tc.path, readFile(t, tc.path))
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{
			time.Date(2000, 1, 1, 0, 0, 5, 0, time.UTC), // a board seconds after power-on
			time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
			time.Now(),
		} {
			_, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.host, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
			if want := !at.Before(ValidFrom); (err == nil) != want {
				t.Errorf("%s at %v: error %v, want valid %v", filepath.Base(tc.path), at, err, want)
			}
		}
	}
}
