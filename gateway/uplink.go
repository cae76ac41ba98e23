package gateway

import (
	"context"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// Uplink takes each data line of a board before it is receipted. The
// consumer that forwards lines elsewhere (the MQTT bridge) implements it;
// Server.Uplink nil echoes at once. board is the board ID, or "ip-ADDR"
// for a client that never said hello (dots and colons written as '-').
//
// A connection keeps up to maxInFlight lines with the Uplink at once and
// writes their receipts in the order of the lines (pipeline.go).
type Uplink interface {
	// Send hands over line (without its LF) as board's next line. Send copies what it
	// keeps: line is valid only until Send returns. Send may wait while the uplink is full
	// (backpressure) and gives up when ctx ends; ctx ends when the connection ends.
	// A non-nil error means the line was not taken: a *board.Error (such as code
	// "too-large") is answered "!err CODE" in place of the receipt and the session goes on;
	// any other error closes the connection without a receipt.
	// Once Send returns nil, done is called exactly once, from any goroutine, possibly
	// before Send returns: done(nil) when the line is safe (acknowledged by the broker or
	// written to the queue) so its receipt may be written; done(err) when it was not (the
	// connection is then closed without that receipt). done must not block.
	// Lines of one board reach the broker in the order Send was called.
	Send(ctx context.Context, board string, line []byte, done func(error)) error
}

// anonymousName is the Uplink's name for a client that never said hello.
func anonymousName(c *conn) string {
	return board.AnonymousID(hostOf(c.remote))
}
