package bridge

import (
	"context"
	"fmt"
)

// waitDirectOnly is the first half of Send while the spool cannot be
// written (its directory is on a read-only file system): a line can then
// be taken only for a direct publish, receipted on its PUBACK. Lines an
// earlier run left in the spool are delivered first, and Send waits for
// them, so that a board's lines keep their order. While the broker is
// unreachable it fails, so the board gets no receipt and sends the line
// again later. The caller does not hold b.mu.
func (b *Bridge) waitDirectOnly(ctx context.Context, board string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.spooling && b.link != nil && !b.closed {
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			b.mu.Lock()
			return ctx.Err()
		}
		b.mu.Lock()
	}
	switch {
	case b.closed:
		return ErrClosed
	case b.link == nil:
		return fmt.Errorf("bridge: board %q: broker %s unreachable and the queue cannot be written: line not taken", board, b.broker.addr)
	}
	return nil
}
