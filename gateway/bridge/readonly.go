package bridge

import (
	"context"
	"fmt"
)

// sendDirectOnly is Send while the spool cannot be written (its directory
// is on a read-only file system): a line is taken only once the broker
// acknowledges it, and while the broker is unreachable Send fails, so the
// board gets no receipt and sends the line again later. Lines an earlier
// run left in the spool are delivered first, and Send waits for them, so
// that a board's lines keep their order.
func (b *Bridge) sendDirectOnly(ctx context.Context, board string, line []byte) error {
	b.mu.Lock()
	for b.spooling && b.connected && !b.closed {
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.mu.Lock()
	}
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if !b.connected {
		addr := b.broker.addr
		b.mu.Unlock()
		return fmt.Errorf("bridge: board %q: broker %s unreachable and the queue cannot be written: line not taken", board, addr)
	}
	cm, connCtx, topic, timeout := b.cm, b.connCtx, b.topic(board, "up"), b.cfg.AckTimeout
	b.mu.Unlock()
	if err := b.publish(ctx, connCtx, cm, topic, line, timeout); err != nil {
		return fmt.Errorf("bridge: board %q: %w", board, err)
	}
	return nil
}
