package gateway

import (
	"context"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// Uplink takes each data line before it is echoed; the echo (the board's
// receipt) is written only after Send returns nil. board is the board ID, or
// "ip-ADDR" for a client that never said hello (dots and colons written as
// '-'). The consumer that forwards lines elsewhere (the MQTT bridge)
// implements it; Server.Uplink nil echoes at once.
type Uplink interface {
	// Send is called on the connection's goroutine with the line without
	// its LF, valid only until Send returns. ctx ends when the server is
	// closed or cuts the connection off. An error closes the connection
	// without a receipt, so the board sends the line again later.
	Send(ctx context.Context, board string, line []byte) error
}

// anonymousName is the Uplink's name for a client that never said hello.
func anonymousName(c *conn) string {
	return board.AnonymousID(hostOf(c.remote))
}
