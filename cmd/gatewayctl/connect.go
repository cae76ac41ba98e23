package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

const defaultAddr = "127.0.0.1:65432"

// longAgo is a deadline in the past: it unblocks a connection's I/O at once.
var longAgo = time.Unix(1, 0)

// dial connects to the gateway at addr, or explains in one line why not.
func dial(ctx context.Context, addr string, timeout time.Duration) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, connectError(addr, err, timeout)
	}
	return c.(*net.TCPConn), nil
}

// connectError is the one line shown when a connection to the gateway
// cannot be made.
func connectError(addr string, err error, timeout time.Duration) error {
	why := reason(err, timeout)
	if errors.Is(err, syscall.ECONNREFUSED) {
		why += " (is gatewayd running?)"
	}
	return fmt.Errorf("cannot connect to %s: %s", addr, why)
}

// reason reduces a network error to its cause, without the operation and
// addresses that the caller's message already names.
func reason(err error, timeout time.Duration) string {
	var (
		dnsErr  *net.DNSError
		addrErr *net.AddrError
		errno   syscall.Errno
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		if timeout > 0 {
			return fmt.Sprintf("timed out after %v", timeout)
		}
		return "timed out"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("host %q not found", dnsErr.Name)
		}
		return dnsErr.Err
	case errors.As(err, &addrErr):
		return addrErr.Err
	case errors.As(err, &errno):
		return errno.Error()
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out"
	}
	return err.Error()
}

// hungUp reports whether err means the peer closed the connection: at the
// end of the stream, or abruptly (a close with unread data sends a reset).
func hungUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ENOTCONN)
}

// hangUpNote is "" for an orderly close, else why it was abrupt.
func hangUpNote(err error) string {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ""
	}
	return " (" + reason(err, 0) + ")"
}
