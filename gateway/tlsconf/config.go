// Package tlsconf is the server side of gatewayd's TLS for boards: the
// tls.Config a listener uses, the certificate that SIGHUP swaps without
// touching open connections, the sniff that tells a plaintext client from a
// TLS one, the handshake under a deadline with its failure reduced to one
// log-friendly reason, and the board ID a client certificate carries.
//
// What a board sees:
//
//   - TLS 1.2 and 1.3; TLS 1.2 offers ECDHE AEAD suites only. With pki's
//     ECDSA P-256 certificates an ESP32 negotiates
//     ECDHE-ECDSA-AES128-GCM-SHA256 (openssl_test.go checks it with
//     openssl s_client, with OpenSSL's list and with only the ESP32's).
//   - With client_ca_file, every client must present a certificate from
//     that CA, and its common name is the board's ID. A refused handshake is
//     logged as one reason, never a TLS dump: no client certificate,
//     certificate signed by unknown authority, certificate expired,
//     certificate not yet valid (is the gateway's clock right?), client
//     rejected the handshake: ALERT, no TLS version in common, handshake
//     timeout.
//   - A client whose first byte is not a TLS handshake record (0x16) is
//     refused at once as a plaintext client on a TLS listener, so a
//     plaintext board shows up under its real cause, not as a timeout.
//   - The handshake runs under handshake_timeout from the connection: a
//     client that stalls, silent or halfway through its ClientHello, is cut.
//   - A reload reads the certificate, key and client CA again and swaps them
//     atomically: open connections keep going, new ones get the new
//     certificate; a missing, malformed, mismatched or expired file is
//     refused naming it, and the old certificate stays.
//
// The certificates themselves are made by package pki.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
)

// cipherSuites are the TLS 1.2 suites offered (TLS 1.3 suites are not
// configurable in Go, and all are good). All are ECDHE, so forward secret,
// and AEAD. ESP32 boards, whose mbedTLS has AES and P-256 in hardware,
// negotiate TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 with the ECDSA P-256
// certificates pki makes; Go's server prefers AES-128-GCM among these
// whatever the client's order. The RSA suites only matter for someone who
// brings an RSA certificate of their own.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerConfig is the configuration of a TLS listener for boards: TLS 1.2
// and 1.3, the suites above, the certificate getCert returns for each
// handshake and, when clientCAs is not nil, a client certificate that
// clientCAs verifies is required of every client.
func ServerConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), clientCAs *x509.CertPool) *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   cipherSuites,
		GetCertificate: getCert,
		ClientAuth:     tls.NoClientCert,
	}
	if clientCAs != nil {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = clientCAs
	}
	return c
}
