package gateway

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClientGone is why a connection ended when its client closed or reset
// it while the connection's goroutine was held up by the Uplink, not
// reading: in Send (the uplink full) or waiting for a receipt slot.
var ErrClientGone = errors.New("client closed the connection while its lines waited for the uplink")

// A connection's goroutine that waits on the Uplink reads nothing, so it
// would not see its client go: a board that resets and reconnects would
// leave a connection behind that holds a max_clients slot and may hand its
// old line to the Uplink after the board's newer ones. So a connection
// blocked for longer than blockedGrace has its socket watched for a hangup
// (hangup_linux.go); a reset ends it at once, a FIN once it has been
// blocked halfCloseGrace more, since a client that only half-closed may
// still be reading its receipts. Ending it cancels its context, which
// makes Send give up, and frees its slot at once.
const (
	blockedGrace   = 200 * time.Millisecond
	halfCloseGrace = time.Second
)

const (
	blockIdle uint8 = iota
	blockBlocked
	blockWatched
)

// blockWatch is a connection's state while its goroutine may be held up.
type blockWatch struct {
	mu    sync.Mutex
	state uint8
	timer *time.Timer
	token int32 // the hangup watch, when watched
}

// begin is called by the connection's goroutine before it may block.
func (b *blockWatch) begin(c *conn) {
	b.mu.Lock()
	b.state = blockBlocked
	if b.timer == nil {
		b.timer = time.AfterFunc(blockedGrace, c.onBlocked)
	} else {
		b.timer.Reset(blockedGrace)
	}
	b.mu.Unlock()
}

// end is called by the connection's goroutine once it goes on.
func (b *blockWatch) end(c *conn) {
	b.mu.Lock()
	b.timer.Stop()
	if b.state == blockWatched && b.token != 0 {
		c.srv.hangups.unwatch(c, b.token)
	}
	b.state, b.token = blockIdle, 0
	b.mu.Unlock()
}

// pending is whether the goroutine is blocked and the timer has not fired.
func (b *blockWatch) pending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == blockBlocked
}

// onBlocked runs when the connection's goroutine has been blocked for
// blockedGrace: watch the socket, and write the receipts that the blocked
// goroutine was left to write.
func (c *conn) onBlocked() {
	b := &c.block
	b.mu.Lock()
	if b.state != blockBlocked {
		b.mu.Unlock()
		return
	}
	b.state = blockWatched
	b.token = c.srv.hangups.watch(c)
	b.mu.Unlock()
	if c.pipe != nil {
		c.pipe.kick()
	}
}

// hungUp is called by the hangup watch: reset when the connection was reset
// or closed both ways, else the client sent a FIN.
func (c *conn) hungUp(reset bool) {
	if reset {
		c.gone()
		return
	}
	time.AfterFunc(halfCloseGrace, func() {
		c.block.mu.Lock()
		still := c.block.state == blockWatched
		c.block.mu.Unlock()
		if still {
			c.gone()
		}
	})
}

// gone ends a connection whose client went away while its goroutine was
// blocked: its context ends, so Send gives up and no line of it is taken
// any more, and its slot is freed now rather than when Send returns.
func (c *conn) gone() {
	c.dropped.CompareAndSwap(nil, &dropped{ErrClientGone})
	c.cancel(ErrClientGone)
	c.nc.Close()
	c.untrack()
}

// wait waits for ch, or for the connection's context to end.
func (c *conn) wait(ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	default:
	}
	c.block.begin(c)
	defer c.block.end(c)
	select {
	case <-ch:
		return nil
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
}
