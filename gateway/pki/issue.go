package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// issued is a freshly made certificate and key, in PEM as they go to disk.
type issued struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

// newKey makes an ECDSA P-256 key: what ESP32's mbedTLS accelerates, and
// small enough to paste into a sketch.
func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generating a key: %w", err)
	}
	return k, nil
}

// newSerial is a random 128-bit serial number (RFC 5280 allows up to 20
// octets; random serials never collide across re-runs of init).
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: generating a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}

// newCA makes a self-signed CA that may sign end-entity certificates only.
func newCA(now time.Time, name string) (issued, *ecdsa.PrivateKey, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(now, CAValidity, tmpl, nil, nil)
}

// newServer makes gatewayd's certificate for the given DNS names and IPs.
func newServer(now time.Time, dns []string, ips []net.IP, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (issued, error) {
	cn := "gatewayd"
	if len(dns) > 0 {
		cn = dns[0]
	} else if len(ips) > 0 {
		cn = ips[0].String()
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		DNSNames:    dns,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	is, _, err := sign(now, ServerValidity, tmpl, ca, caKey)
	return is, err
}

// newBoard makes a board's client certificate: its common name is the ID
// the gateway gives the board.
func newBoard(now time.Time, id string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (issued, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: id},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	is, _, err := sign(now, BoardValidity, tmpl, ca, caKey)
	return is, err
}

// sign completes tmpl with a new key, a serial and a validity period, and
// signs it with parentKey (self-signed when parent is nil).
func sign(now time.Time, validity time.Duration, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (issued, *ecdsa.PrivateKey, error) {
	key, err := newKey()
	if err != nil {
		return issued{}, nil, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return issued{}, nil, err
	}
	tmpl.NotBefore = ValidFrom
	tmpl.NotAfter = now.Add(validity).UTC().Truncate(time.Second)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return issued{}, nil, fmt.Errorf("pki: signing the certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return issued{}, nil, fmt.Errorf("pki: reading back the certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	// SEC1 ("EC PRIVATE KEY") is the form every mbedTLS build parses,
	// including MicroPython's and Arduino's WiFiClientSecure.
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return issued{}, nil, fmt.Errorf("pki: encoding a key: %w", err)
	}
	return issued{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, key, nil
}
