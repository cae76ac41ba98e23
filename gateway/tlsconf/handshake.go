package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// A HandshakeError is a failed server handshake. Reason is one short line
// for the log (see Reason); Err is what crypto/tls or the network said.
type HandshakeError struct {
	Reason string
	Err    error
}

func (e *HandshakeError) Error() string { return "tlsconf: handshake: " + e.Reason }
func (e *HandshakeError) Unwrap() error { return e.Err }

// Handshake runs the server side of a TLS handshake on c, all of it within
// timeout (0: no limit) and until ctx is done. It first sniffs c, so a
// plaintext client is refused at once with ErrPlaintext. It is meant to run
// on the connection's own goroutine, never on the accept loop. On success
// the deadline it set is cleared; on failure the error is a *HandshakeError
// and the caller closes c.
func Handshake(ctx context.Context, c net.Conn, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	if timeout > 0 {
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			return nil, &HandshakeError{Reason: Reason(err), Err: err}
		}
	}
	// A cancelled ctx (the server shutting down) ends the wait at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (*tls.Conn, error) {
		if ctx.Err() != nil {
			return nil, &HandshakeError{Reason: "handshake interrupted: the server is shutting down", Err: ctx.Err()}
		}
		return nil, &HandshakeError{Reason: Reason(err), Err: err}
	}

	pc, isTLS, err := Sniff(c)
	if err != nil {
		return fail(err)
	}
	if !isTLS {
		return fail(ErrPlaintext)
	}
	tc := tls.Server(pc, cfg)
	if err := tc.Handshake(); err != nil {
		return fail(err)
	}
	if !stop() {
		return fail(ctx.Err())
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return tc, nil
}

// Reason reduces a failed server handshake to one short line that names
// the cause, never a TLS error dump:
//
//	plaintext client on TLS listener
//	handshake timeout
//	no client certificate
//	certificate signed by unknown authority
//	certificate expired
//	certificate not yet valid (is the gateway's clock right?)
//	client rejected the handshake: ALERT
//	client closed the connection during the handshake
//	no TLS version in common (the client needs TLS 1.2 or 1.3)
//
// and, for anything else, "handshake failed: " and the error's own text.
func Reason(err error) string {
	var (
		recordErr  tls.RecordHeaderError
		unknownCA  x509.UnknownAuthorityError
		invalid    x509.CertificateInvalidError
		opErr      *net.OpError
		netErr     net.Error
		verifyErr  *tls.CertificateVerificationError
		constraint x509.ConstraintViolationError
	)
	msg := err.Error()
	switch {
	case errors.Is(err, ErrPlaintext), errors.As(err, &recordErr):
		return "plaintext client on TLS listener"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "handshake timeout"
	case strings.Contains(msg, "didn't provide a certificate"):
		// crypto/tls has no error value for this; the test of this
		// package fails if its text changes.
		return "no client certificate"
	case errors.As(err, &unknownCA):
		return "certificate signed by unknown authority"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		if strings.Contains(invalid.Detail, "before") {
			return "certificate not yet valid (is the gateway's clock right?)"
		}
		return "certificate expired"
	case errors.As(err, &invalid):
		return "invalid certificate: " + strings.TrimPrefix(invalid.Error(), "x509: ")
	case errors.As(err, &constraint):
		return "invalid certificate: " + strings.TrimPrefix(constraint.Error(), "x509: ")
	case errors.As(err, &verifyErr):
		return "invalid certificate: " + strings.TrimPrefix(verifyErr.Err.Error(), "x509: ")
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// The client sent an alert: usually it does not trust our certificate.
		return "client rejected the handshake: " + strings.TrimPrefix(opErr.Err.Error(), "tls: ")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "client closed the connection during the handshake"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset during the handshake"
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "protocol version not supported"):
		return "no TLS version in common (the client needs TLS 1.2 or 1.3)"
	case strings.Contains(msg, "no cipher suite supported"):
		return "no cipher suite in common"
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return "handshake failed: " + strings.TrimPrefix(msg, "tls: ")
}
