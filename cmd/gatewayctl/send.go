package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// sendFlags defines `gatewayctl send`: the seed lab's multi-message client.
// One connection; each message is written, its whole echo read back and
// printed as `Received from server: MESSAGE`. With -hello each message is
// a line of the board protocol, and with -lines a line for a gateway with
// framing: line: an LF is added to one that lacks it.
func sendFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	addr := fs.String("addr", defaultAddr, "the gateway's `HOST:PORT`")
	timeout := fs.Duration("timeout", 5*time.Second, "give up connecting, or waiting for an echo, after `D`")
	lines := fs.Bool("lines", false, "send each message as a line, LF added when missing, for a gateway with framing: line")
	cf := addConnFlags(fs, false)
	return func(ctx context.Context, msgs []string, std stdio) error {
		if err := cf.check(); err != nil {
			return err
		}
		if len(msgs) == 0 {
			return usageError{Err: errors.New("no message to send")}
		}
		for i, m := range msgs {
			if m == "" {
				return usageError{Err: fmt.Errorf("message %d is empty: there would be nothing to echo", i+1)}
			}
		}
		c, err := cf.dial(ctx, *addr, *timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(longAgo) })
		defer stop()
		for _, m := range msgs {
			// After a hello the gateway speaks the line protocol and
			// echoes a message only once its LF has come: each message
			// is sent as a line, LF added when missing, and its echo
			// printed without the LF.
			line := cf.hello != "" || *lines
			if line && !strings.HasSuffix(m, "\n") {
				m += "\n"
			}
			echo, err := exchange(c, []byte(m), *timeout)
			if err != nil {
				return sendError(ctx, *addr, m, len(echo), err, *timeout)
			}
			shown := echo
			if line {
				shown = bytes.TrimSuffix(echo, []byte("\n"))
			}
			fmt.Fprintf(std.out, "Received from server: %s\n", shown)
			if !bytes.Equal(echo, []byte(m)) {
				return fmt.Errorf("the echo from %s differs from the message %q", *addr, m)
			}
		}
		return nil
	}
}

// exchange writes msg and reads back len(msg) bytes, all within timeout.
// On error it returns what did come back.
func exchange(c net.Conn, msg []byte, timeout time.Duration) ([]byte, error) {
	if timeout > 0 {
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			return nil, err
		}
	}
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	echo := make([]byte, len(msg))
	n, err := io.ReadFull(c, echo)
	return echo[:n], err
}

// sendError is the one line shown when a message's echo does not come back.
func sendError(ctx context.Context, addr, msg string, got int, err error, timeout time.Duration) error {
	what := fmt.Sprintf("%d of %d bytes of the echo of %s came back", got, len(msg), quoteCut(msg))
	switch {
	case ctx.Err() != nil:
		return errors.New("interrupted")
	case hungUp(err):
		return fmt.Errorf("%s closed the connection%s: %s", addr, hangUpNote(err), what)
	case errors.Is(err, os.ErrDeadlineExceeded) && got == 0 && !strings.Contains(msg, "\n"):
		// The usual cause: the gateway runs framing: line, and echoes
		// nothing until the LF that this message never sends.
		return fmt.Errorf("no echo from %s within %v: %s; a gateway with framing: line echoes a message only once its LF has come: use -lines (or end the message with a newline)", addr, timeout, what)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no echo from %s within %v: %s", addr, timeout, what)
	}
	return fmt.Errorf("talking to %s: %s; %s", addr, reason(err, timeout), what)
}

// quoteCut quotes s Go-style, cut to 64 bytes like the daemon's log.
func quoteCut(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
