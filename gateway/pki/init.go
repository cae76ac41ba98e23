package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Options tune Init and Board. The zero value does what a first run needs.
type Options struct {
	// Hosts are the -host values for Init's server certificate; empty means
	// DefaultHosts.
	Hosts []string
	// Renew issues a new server certificate (Init) or board certificate
	// (Board) even when one exists, replacing its two files. The CA is
	// never replaced.
	Renew bool
	// Now is when the certificates are made; zero means time.Now().
	Now time.Time
	// Group, for Init, is the group that may read the directory and the
	// server's key (dir 0750, server.key 0640): the daemon's, so that it
	// can serve TLS under its packaged unit. Empty: the owner alone.
	Group string
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// Result says what Init or Board did.
type Result struct {
	Written, Kept []string // paths, in the order they were handled
	Notes         []string // things the user should know, one line each

	CA    *x509.Certificate
	CAPEM []byte
	// The server's certificate (Init) or the board's (Board), and its key.
	Cert            *x509.Certificate
	CertPEM, KeyPEM []byte
	CertFile        string
	KeyFile         string
	// Hosts the server certificate is valid for (Init only).
	Hosts Hosts
}

func (r *Result) wrote(paths ...string) { r.Written = append(r.Written, paths...) }
func (r *Result) kept(paths ...string)  { r.Kept = append(r.Kept, paths...) }

// Init makes dir a pki directory: it creates dir (mode 0700; 0750 and
// opt.Group's with opt.Group) if needed, a
// CA unless dir already holds one, and a server certificate unless one
// exists. An existing CA is always kept. An existing server certificate is
// kept too, unless opt.Renew; if opt.Hosts name other hosts than it covers,
// Init refuses rather than hand back a certificate that does not fit.
func Init(dir string, opt Options) (*Result, error) {
	gid := -1
	if opt.Group != "" {
		var err error
		if gid, err = lookupGroup(opt.Group); err != nil {
			return nil, err // before anything is written
		}
	}
	res, err := initDir(dir, opt)
	if err != nil || gid < 0 {
		return res, err
	}
	if err := shareWithGroup(dir, opt.Group, gid, res); err != nil {
		return nil, err
	}
	return res, nil
}

func initDir(dir string, opt Options) (*Result, error) {
	var want *Hosts
	if len(opt.Hosts) > 0 {
		h, err := ParseHosts(opt.Hosts)
		if err != nil {
			return nil, err
		}
		want = &h
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	res := &Result{}
	ca, err := ensureCA(dir, opt.now(), res)
	if err != nil {
		return nil, err
	}
	res.CA, res.CAPEM = ca.cert, ca.certPEM

	certPath, keyPath := filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile)
	res.CertFile, res.KeyFile = certPath, keyPath
	have, err := pairState(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	if have == pairComplete && !opt.Renew {
		p, err := loadIssued(certPath, keyPath, ca.cert)
		if err != nil {
			return nil, fmt.Errorf("%w (add -renew to issue a new server certificate)", err)
		}
		res.Hosts = certHosts(p.cert)
		if want != nil && !want.sameSet(res.Hosts) {
			return nil, fmt.Errorf("pki: %q is for %v, not %v: add -renew to issue a new one", certPath, res.Hosts.Strings(), want.Strings())
		}
		res.kept(certPath, keyPath)
		res.Cert, res.CertPEM, res.KeyPEM = p.cert, p.certPEM, p.keyPEM
		res.noteExpiry(certPath, p.cert, opt.now(), "add -renew to issue a new one, then reload gatewayd")
		return res, nil
	}
	if have == pairHalf && !opt.Renew {
		return nil, fmt.Errorf("pki: only one of %q and %q exists: add -renew to issue both again", certPath, keyPath)
	}
	hosts := want
	if hosts == nil {
		h, err := DefaultHosts()
		if err != nil {
			return nil, err
		}
		hosts = &h
	}
	is, err := newServer(opt.now(), hosts.DNS, hosts.netIPs(), ca.cert, ca.key)
	if err != nil {
		return nil, err
	}
	if err := writeIssued(is, certPath, keyPath, opt.Renew); err != nil {
		return nil, err
	}
	res.wrote(certPath, keyPath)
	res.Hosts = *hosts
	res.Cert, res.CertPEM, res.KeyPEM = is.cert, is.certPEM, is.keyPEM
	return res, nil
}

// ca is the loaded or new CA.
type ca struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// ensureCA loads dir's CA, or makes one if dir has none. Half a CA (one
// file of the two) is an error: the other file may be recoverable, and a new
// CA would orphan every board.
func ensureCA(dir string, now time.Time, res *Result) (ca, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	switch have, err := pairState(certPath, keyPath); {
	case err != nil:
		return ca{}, err
	case have == pairComplete:
		c, err := loadCA(dir, now, res)
		if err == nil {
			res.kept(certPath, keyPath)
		}
		return c, err
	case have == pairHalf:
		return ca{}, fmt.Errorf("pki: only one of %q and %q exists: restore the other, or move %q aside to start a new CA (every board then needs a new certificate)", certPath, keyPath, dir)
	}
	name := "gatewayd CA"
	if hn, err := os.Hostname(); err == nil && hn != "" {
		name += " " + hn
	}
	is, key, err := newCA(now, name)
	if err != nil {
		return ca{}, err
	}
	if err := writeIssued(is, certPath, keyPath, false); err != nil {
		return ca{}, err
	}
	res.wrote(certPath, keyPath)
	return ca{is.cert, key, is.certPEM}, nil
}

// loadCA reads dir's CA and checks that it can still sign.
func loadCA(dir string, now time.Time, res *Result) (ca, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	p, err := loadPair(certPath, keyPath)
	if err != nil {
		if ok, _ := exists(certPath); !ok {
			return ca{}, fmt.Errorf("pki: no CA in %q: make one with pki init first", dir)
		}
		return ca{}, err
	}
	if !p.cert.IsCA || p.cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return ca{}, fmt.Errorf("pki: %q is not a CA certificate", certPath)
	}
	if now.After(p.cert.NotAfter) {
		return ca{}, fmt.Errorf("pki: the CA %q expired on %s: move %q aside and start again (every board then needs a new certificate)", certPath, p.cert.NotAfter.Format(time.DateOnly), dir)
	}
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%s is readable by others (mode %04o): chmod 600 it", keyPath, fi.Mode().Perm()))
	}
	return ca{p.cert, p.key, p.certPEM}, nil
}

// loadIssued reads a certificate and key that ca issued.
func loadIssued(certPath, keyPath string, ca *x509.Certificate) (pair, error) {
	p, err := loadPair(certPath, keyPath)
	if err != nil {
		return pair{}, err
	}
	if err := p.cert.CheckSignatureFrom(ca); err != nil {
		return pair{}, fmt.Errorf("pki: %q was not issued by this directory's CA", certPath)
	}
	return p, nil
}

// writeIssued writes the key first, so that a certificate on disk always
// has its key beside it.
func writeIssued(is issued, certPath, keyPath string, replace bool) error {
	if err := writeFile(keyPath, is.keyPEM, keyMode, replace); err != nil {
		return err
	}
	return writeFile(certPath, is.certPEM, certMode, replace)
}

// The state of a certificate and key pair on disk.
const (
	pairMissing = iota
	pairHalf
	pairComplete
)

func pairState(certPath, keyPath string) (int, error) {
	c, err := exists(certPath)
	if err != nil {
		return 0, err
	}
	k, err := exists(keyPath)
	if err != nil {
		return 0, err
	}
	switch {
	case c && k:
		return pairComplete, nil
	case c || k:
		return pairHalf, nil
	}
	return pairMissing, nil
}

// noteExpiry adds a note when cert has expired or will within 30 days.
func (r *Result) noteExpiry(path string, cert *x509.Certificate, now time.Time, fix string) {
	switch {
	case now.After(cert.NotAfter):
		r.Notes = append(r.Notes, fmt.Sprintf("%s expired on %s: %s", path, cert.NotAfter.Format(time.DateOnly), fix))
	case now.Add(30 * 24 * time.Hour).After(cert.NotAfter):
		r.Notes = append(r.Notes, fmt.Sprintf("%s expires on %s: %s", path, cert.NotAfter.Format(time.DateOnly), fix))
	}
}
