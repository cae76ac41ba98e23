package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes of the files written: anyone may read a certificate, only the owner
// a key.
const (
	certMode fs.FileMode = 0o644
	keyMode  fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

// writeFile puts data at path in one step, so a crash never leaves half a
// key. With replace false it fails if path exists (os.Link does not
// overwrite): a CA or a certificate is never replaced by accident, even by
// two runs at once.
func writeFile(path string, data []byte, mode fs.FileMode, replace bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a rename or link, removes nothing or only the spare name
	// CreateTemp makes the file 0600, so a key is never readable by others,
	// even for a moment; a certificate is opened up after it is written.
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pki: writing %q: %w", path, err)
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes the new names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("pki: syncing %q: %w", dir, err)
	}
	return nil
}

// exists reports whether path exists; an error other than "not there"
// (a permission problem, say) is returned so it is not taken for absence.
func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("pki: %w", err)
}

// pair is a certificate and key read from disk.
type pair struct {
	cert            *x509.Certificate
	key             *ecdsa.PrivateKey
	certPEM, keyPEM []byte
}

// loadPair reads a certificate and its ECDSA key and checks that they
// belong together.
func loadPair(certPath, keyPath string) (pair, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return pair{}, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return pair{}, fmt.Errorf("pki: %w", err)
	}
	cert, err := parseCert(certPath, certPEM)
	if err != nil {
		return pair{}, err
	}
	key, err := parseKey(keyPath, keyPEM)
	if err != nil {
		return pair{}, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return pair{}, fmt.Errorf("pki: %q is not the key of %q", keyPath, certPath)
	}
	return pair{cert, key, certPEM, keyPEM}, nil
}

func parseCert(path string, data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: %q: no PEM CERTIFICATE block", path)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %q: %w", path, err)
	}
	return cert, nil
}

func parseKey(path string, data []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("pki: %q: no PEM key block", path)
	}
	var (
		key any
		err error
	)
	switch b.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("pki: %q: a %q block is not an EC private key", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: %q: %w", path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("pki: %q: not an ECDSA key", path)
	}
	return ec, nil
}
