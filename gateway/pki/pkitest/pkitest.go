// Package pkitest makes certificate directories with package pki, as
// `gatewayctl pki` makes them, and client TLS configurations from them,
// for tests of the TLS side of gatewayd.
package pkitest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/pki"
)

// PKI is two unrelated pki directories below one temporary directory.
// Dir has a server certificate for localhost and 127.0.0.1, board "b1",
// the boards New was given and board "old", whose certificate has
// expired. Other is a second CA with its own board "b1".
type PKI struct {
	Dir, Other string
}

// New makes the directories of a PKI, with boards in Dir besides "b1"
// and "old".
func New(t testing.TB, boards ...string) PKI {
	t.Helper()
	root := t.TempDir()
	p := PKI{Dir: filepath.Join(root, "pki"), Other: filepath.Join(root, "other")}
	for _, dir := range []string{p.Dir, p.Other} {
		if _, err := pki.Init(dir, pki.Options{Hosts: []string{"localhost", "127.0.0.1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := pki.Board(dir, "b1", pki.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range boards {
		if _, err := pki.Board(p.Dir, b, pki.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pki.Board(p.Dir, "old", pki.Options{Now: time.Now().Add(-pki.BoardValidity - time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// Client is the tls.Config of board of the pki directory dir (board ""
// for none) that trusts the CA of trustDir, for a server named localhost.
func Client(t testing.TB, trustDir, dir, board string) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(trustDir, pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("%s: no PEM certificate in it", filepath.Join(trustDir, pki.CACertFile))
	}
	c := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	if board != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, pki.BoardsDir, board+".crt"), filepath.Join(dir, pki.BoardsDir, board+".key"))
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}
