package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// Files names the PEM files of a TLS listener, as the tls: section of
// gatewayd.yaml gives them.
type Files struct {
	CertFile, KeyFile string // the server's certificate chain and key
	ClientCAFile      string // empty: no client certificates asked for
}

// A Store holds the listener's certificate, and its client CAs, read from
// Files. Reload reads them again; a handshake in progress or a connection
// already open keeps what it started with, the next handshake gets the new
// ones. Its methods are safe for concurrent use.
type Store struct {
	files Files // written only by Use, which callers do not run concurrently with Reload
	cur   atomic.Pointer[loaded]
}

// loaded is one consistent reading of the files.
type loaded struct {
	cert   *tls.Certificate
	config *tls.Config // the per-handshake config built from cert and the client CAs
}

// Load reads files, checking each one, and returns a Store serving them.
func Load(files Files) (*Store, error) {
	s := &Store{files: files}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again. If any of them is missing, malformed,
// expired, or the key does not match the certificate, it returns an error
// saying which and why, and the Store keeps serving what it had.
func (s *Store) Reload() error {
	f := s.files
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return fmt.Errorf("tlsconf: cert_file %q, key_file %q: %w", f.CertFile, f.KeyFile, err)
	}
	var pool *x509.CertPool
	if f.ClientCAFile != "" {
		pem, err := os.ReadFile(f.ClientCAFile)
		if err != nil {
			return fmt.Errorf("tlsconf: client_ca_file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tlsconf: client_ca_file %q: no PEM certificate in it", f.ClientCAFile)
		}
	}
	return s.Use(f, &cert, pool)
}

// New returns a Store serving a certificate and client CAs already read
// from files (as package configs reads them), so they are not read twice.
// clientCAs nil asks for no client certificates.
func New(files Files, cert *tls.Certificate, clientCAs *x509.CertPool) (*Store, error) {
	s := &Store{}
	if err := s.Use(files, cert, clientCAs); err != nil {
		return nil, err
	}
	return s, nil
}

// Use makes the Store serve cert and clientCAs, read from files, from the
// next handshake on; Reload reads files from then on. An expired
// certificate is refused with an error, and the Store keeps what it had.
func (s *Store) Use(files Files, cert *tls.Certificate, clientCAs *x509.CertPool) error {
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if len(cert.Certificate) == 0 {
			return fmt.Errorf("tlsconf: cert_file %q: no certificate", files.CertFile)
		}
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("tlsconf: cert_file %q: %w", files.CertFile, err)
		}
		c := *cert
		c.Leaf = leaf
		cert = &c
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		return fmt.Errorf("tlsconf: cert_file %q expired on %s", files.CertFile, leaf.NotAfter.Format(time.DateOnly))
	}
	l := &loaded{cert: cert}
	l.config = ServerConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return l.cert, nil }, clientCAs)
	s.files = files
	s.cur.Store(l)
	return nil
}

// GetCertificate returns the certificate of the last successful load; it
// is the tls.Config.GetCertificate of the listener.
func (s *Store) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load().cert, nil
}

// Leaf is the server certificate now served, for logging its names and
// expiry.
func (s *Store) Leaf() *x509.Certificate { return s.cur.Load().cert.Leaf }

// Files returns the files the Store reads.
func (s *Store) Files() Files { return s.files }

// Config returns the tls.Config for the listener. Each handshake takes the
// configuration of the last successful load (GetConfigForClient), so a
// reload changes the client CAs too, atomically with the certificate.
func (s *Store) Config() *tls.Config {
	c := ServerConfig(s.GetCertificate, nil)
	c.ClientAuth = s.cur.Load().config.ClientAuth // for a reader of the config; handshakes use the one below
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.cur.Load().config, nil
	}
	return c
}
