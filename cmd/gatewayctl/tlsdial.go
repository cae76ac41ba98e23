package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/load"
	"github.com/gatewayd/gatewayd/gateway/board"
)

// conn is what send and chat talk over: a TCP or a TLS connection, both of
// which can half-close.
type conn interface {
	net.Conn
	CloseWrite() error
}

// connFlags are the flags send, chat and bench share for TLS and for
// saying hello.
type connFlags struct {
	tls               bool
	ca, cert, key     string
	hello             string
	helloDescribeBulk bool // bench: each connection says hello as ID-N
}

func addConnFlags(fs *flag.FlagSet, bench bool) *connFlags {
	f := &connFlags{helloDescribeBulk: bench}
	fs.BoolVar(&f.tls, "tls", false, "connect with TLS (gatewayd's tls: section is set)")
	fs.StringVar(&f.ca, "ca", "", "with -tls, trust the CA certificate in `FILE` (pki's ca.crt) instead of the system's")
	fs.StringVar(&f.cert, "cert", "", "with -tls, present the board certificate in `FILE` (needs -key)")
	fs.StringVar(&f.key, "key", "", "with -tls, the key of -cert, in `FILE`")
	helloHelp := "first say \"!hello `ID`\" and expect \"!ok ID\" (needs framing: line)"
	if bench {
		helloHelp = "each connection N first says \"!hello `ID`-N\" and expects \"!ok ID-N\" (needs framing: line; implies -lines)"
	}
	fs.StringVar(&f.hello, "hello", "", helloHelp)
	return f
}

// check reports a flag combination that cannot work, as a usage error.
func (f *connFlags) check() error {
	switch {
	case !f.tls && (f.ca != "" || f.cert != "" || f.key != ""):
		return usageError{Err: errors.New("-ca, -cert and -key need -tls")}
	case (f.cert == "") != (f.key == ""):
		return usageError{Err: errors.New("-cert and -key go together")}
	case f.hello != "":
		id := f.hello
		if f.helloDescribeBulk {
			id += "-1"
		}
		if err := board.CheckID(id); err != nil {
			return usageError{Err: fmt.Errorf("-hello: %w", err)}
		}
	}
	return nil
}

// tlsConfig is the client side of TLS to addr, or nil without -tls.
func (f *connFlags) tlsConfig(addr string) (*tls.Config, error) {
	if !f.tls {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageError{Err: fmt.Errorf("-addr %q: %w", addr, err)}
	}
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %q: no PEM certificate in it", f.ca)
		}
	}
	if f.cert != "" {
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("-cert %q, -key %q: %w", f.cert, f.key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// dial connects to addr as the flags say: TCP, then the TLS handshake and
// the hello when asked for. Any failure is one line naming addr.
func (f *connFlags) dial(ctx context.Context, addr string, timeout time.Duration) (conn, error) {
	cfg, err := f.tlsConfig(addr)
	if err != nil {
		return nil, err
	}
	tc, err := dial(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	c, err := f.open(ctx, tc, cfg, f.hello, timeout)
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("cannot connect to %s: %w", addr, err)
	}
	return c, nil
}

// openError is why a connection could be made but not opened: the TLS
// handshake or the hello failed. It is one line, without the address.
type openError string

func (e openError) Error() string { return string(e) }

// open runs the TLS handshake (cfg not nil) and says hello as id (not
// empty) on a new connection, all within timeout.
func (f *connFlags) open(ctx context.Context, tc *net.TCPConn, cfg *tls.Config, id string, timeout time.Duration) (conn, error) {
	var c conn = tc
	if timeout > 0 {
		_ = tc.SetDeadline(time.Now().Add(timeout))
	}
	stop := context.AfterFunc(ctx, func() { _ = tc.SetDeadline(longAgo) })
	defer stop()
	if cfg != nil {
		tlsc := tls.Client(tc, cfg)
		if err := tlsc.Handshake(); err != nil {
			return nil, openError("TLS handshake: " + tlsReason(err, f, timeout))
		}
		c = tlsc
	}
	if id != "" {
		if err := hello(c, id); err != nil {
			return nil, openError(helloReason(err, f, timeout))
		}
	}
	if ctx.Err() != nil {
		return nil, openError("interrupted")
	}
	_ = tc.SetDeadline(time.Time{})
	return c, nil
}

// tlsReason says in one line why the client handshake failed, with a hint
// at the flag to fix.
func tlsReason(err error, f *connFlags, timeout time.Duration) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		opErr    *net.OpError
	)
	switch {
	case errors.As(err, &unknown):
		if f.ca == "" {
			return "the gateway's certificate is signed by an unknown authority (give its CA with -ca FILE)"
		}
		return fmt.Sprintf("the gateway's certificate is not signed by the CA in %s", f.ca)
	case errors.As(err, &hostname):
		return fmt.Sprintf("the gateway's certificate is not for %q (it is for %s)", hostname.Host, strings.Join(certNames(hostname.Certificate), ", "))
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the gateway's certificate has expired, or this machine's clock is wrong: " + strings.TrimPrefix(invalid.Detail, "current time ")
	case strings.Contains(err.Error(), "clientHelloMsg"):
		// Our own ClientHello came back: a plaintext echo server.
		return "the gateway echoed the TLS handshake: it does not speak TLS (is its tls: section set?)"
	case errors.As(err, &recErr):
		return "the gateway did not answer in TLS (is its tls: section set?)"
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		why := strings.TrimPrefix(opErr.Err.Error(), "tls: ")
		if f.cert == "" {
			return "the gateway refused the handshake: " + why + " (does it want a board certificate, -cert and -key?)"
		}
		return "the gateway refused the handshake: " + why + " (is -cert from the gateway's CA, and valid?)"
	case hungUp(err):
		return "the gateway closed the connection during the handshake (is its tls: section set?)"
	}
	return reason(err, timeout)
}

func certNames(c *x509.Certificate) []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = append(names, "no names")
	}
	return names
}

// errHelloEchoed means the gateway echoed the hello: it runs with
// framing: raw or does not know board sessions.
var errHelloEchoed = errors.New("the gateway echoed the hello instead of answering it (it needs framing: line and board sessions)")

// hello says `!hello ID` and reads the answer: `!ok ID`, or `!err CODE`.
func hello(c net.Conn, id string) error {
	line := "!hello " + id + "\n"
	if _, err := c.Write([]byte(line)); err != nil {
		return err
	}
	// Byte by byte: nothing after the answer may be consumed, it belongs
	// to the caller.
	var got []byte
	b := make([]byte, 1)
	for len(got) < 512 {
		if _, err := c.Read(b); err != nil {
			if len(got) > 0 && hungUp(err) {
				break
			}
			return err
		}
		if b[0] == '\n' {
			break
		}
		got = append(got, b[0])
	}
	answer := strings.TrimSuffix(string(got), "\r")
	switch {
	case answer == "!ok "+id:
		return nil
	case answer+"\n" == line:
		return errHelloEchoed
	case strings.HasPrefix(answer, "!err "):
		return fmt.Errorf("the gateway refused hello %s: %s", id, strings.TrimPrefix(answer, "!err "))
	}
	return fmt.Errorf("the gateway answered hello %s with %q, want \"!ok %s\"", id, quoteCutBytes(got), id)
}

func quoteCutBytes(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// helloReason is why a hello failed, in one line.
func helloReason(err error, f *connFlags, timeout time.Duration) string {
	var opErr *net.OpError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("no answer to the hello within %v (is framing: line set?)", timeout)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// Under TLS 1.3 a refused client certificate shows here, at the
		// first read after the handshake.
		return tlsReason(err, f, timeout)
	case hungUp(err):
		return "the gateway closed the connection after the hello" + hangUpNote(err)
	}
	if strings.HasPrefix(err.Error(), "the gateway") {
		return err.Error()
	}
	return "saying hello: " + reason(err, timeout)
}

// benchHandshake sets cfg.Handshake for -tls and -hello: connection N
// (from 1) says hello as ID-N, since one ID per connection is what the
// gateway allows.
func (f *connFlags) benchHandshake(cfg *load.Config) error {
	tlsCfg, err := f.tlsConfig(cfg.Addr)
	if err != nil || (tlsCfg == nil && f.hello == "") {
		return err
	}
	cfg.Handshake = func(ctx context.Context, c net.Conn, i int) (net.Conn, error) {
		id := ""
		if f.hello != "" {
			id = fmt.Sprintf("%s-%d", f.hello, i+1)
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return nil, fmt.Errorf("not a TCP connection: %T", c)
		}
		return f.open(ctx, tc, tlsCfg, id, cfg.ConnectTimeout)
	}
	return nil
}
