package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/term"
)

// chatFlags defines `gatewayctl chat`: like a serial console on an ESP32,
// each line read from stdin is sent with its LF and the echo is printed as
// it comes back. At the end of stdin the connection is half-closed and the
// rest of the echo awaited, so piped input works too.
func chatFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	addr := fs.String("addr", defaultAddr, "the gateway's `HOST:PORT`")
	timeout := fs.Duration("timeout", 5*time.Second, "give up connecting, or waiting for the last echo after the end of input, after `D`")
	cf := addConnFlags(fs, false)
	return func(ctx context.Context, args []string, std stdio) error {
		if err := cf.check(); err != nil {
			return err
		}
		if len(args) > 0 {
			return usageError{Err: fmt.Errorf("unexpected argument %q: chat reads its messages from stdin", args[0])}
		}
		c, err := cf.dial(ctx, *addr, *timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		if isTerminal(std.in) {
			fmt.Fprintf(std.errOut, "connected to %s: each line you type is sent and its echo printed; Ctrl-D ends\n", *addr)
		}
		return chat(ctx, c, *addr, *timeout, std)
	}
}

type copied struct {
	n   int64
	err error
}

func chat(ctx context.Context, c conn, addr string, timeout time.Duration, std stdio) error {
	// The receiver prints the echo as it arrives; the sender sends stdin
	// line by line. The sender may stay blocked reading stdin when the
	// server hangs up first: run then returns and the process exits with it.
	received := make(chan copied, 1)
	go func() {
		n, err := io.Copy(std.out, c)
		received <- copied{n, err}
	}()
	sent := make(chan copied, 1)
	go func() {
		n, err := sendLines(c, std.in)
		sent <- copied{n, err}
	}()

	select {
	case <-ctx.Done():
		return nil // the user quit: not an error
	case r := <-received:
		if r.err != nil && !hungUp(r.err) {
			return fmt.Errorf("talking to %s: %s", addr, reason(r.err, 0))
		}
		return fmt.Errorf("%s closed the connection%s", addr, hangUpNote(r.err))
	case s := <-sent:
		if s.err != nil {
			return s.err
		}
		// End of input: tell the server, then wait for the rest of the echo.
		if err := c.CloseWrite(); err != nil && !hungUp(err) {
			return fmt.Errorf("talking to %s: %s", addr, reason(err, 0))
		} // if the server has already hung up, the receiver says how much came back
		if timeout > 0 {
			_ = c.SetReadDeadline(time.Now().Add(timeout))
		}
		stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(longAgo) })
		defer stop()
		r := <-received
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(r.err, os.ErrDeadlineExceeded):
			return fmt.Errorf("no echo from %s within %v after the end of input: %d of %d bytes came back", addr, timeout, r.n, s.n)
		case r.err != nil && !hungUp(r.err):
			return fmt.Errorf("talking to %s: %s", addr, reason(r.err, 0))
		case r.err != nil || r.n < s.n:
			return fmt.Errorf("%s closed the connection%s: %d of %d bytes of the echo came back", addr, hangUpNote(r.err), r.n, s.n)
		}
		return nil
	}
}

// sendLines writes in to c one line at a time (any bytes; the last line may
// lack its LF) and returns how many bytes it sent.
func sendLines(c net.Conn, in io.Reader) (int64, error) {
	br := bufio.NewReader(in)
	var total int64
	for {
		line, rerr := br.ReadBytes('\n')
		if len(line) > 0 {
			n, err := c.Write(line)
			total += int64(n)
			if err != nil {
				return total, fmt.Errorf("sending: %s", reason(err, 0))
			}
		}
		if errors.Is(rerr, io.EOF) {
			return total, nil
		}
		if rerr != nil {
			return total, fmt.Errorf("reading input: %w", rerr)
		}
	}
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
