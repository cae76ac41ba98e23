package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/gateway/board"
	"github.com/gatewayd/gatewayd/gateway/control"
)

// tellFlags defines `gatewayctl tell`: deliver one message to a connected
// board, which reads it as `!msg MESSAGE`.
func tellFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	socketPath := socketFlag(fs)
	timeout := fs.Duration("timeout", 15*time.Second, "give up on the daemon after `D`")
	return func(ctx context.Context, args []string, std stdio) error {
		if len(args) < 2 {
			return usageError{Err: errors.New("want a board ID and a message")}
		}
		id, msg := args[0], strings.Join(args[1:], " ")
		if !board.ValidID(id) {
			return usageError{Err: fmt.Errorf("bad board ID %q: 1 to %d characters of A-Z a-z 0-9 . _ -", id, board.MaxIDBytes)}
		}
		if !board.ValidPayload([]byte(msg)) {
			return usageError{Err: errors.New("the message must be one line")}
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		return control.NewClient(socketPath()).Tell(ctx, id, msg)
	}
}
