package bridge

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// MaxInFlight is how many lines of one board may be taken by Send and not
// yet safe: published and waiting for their PUBACK, or waiting to be
// written to the spool. A further Send waits. It bounds the memory a
// board holds (MaxInFlight lines) and, as 3.1.1 has no Receive Maximum,
// what one board puts in flight.
const MaxInFlight = 32

// lane holds one board's lines from Send until each is safe, in Send
// order. A goroutine serves it while it holds anything: one per busy
// board, none per publish.
type lane struct {
	slots   chan struct{} // a token per line in the lane
	users   int           // Sends holding the lane; guarded by Bridge.lanesMu
	mu      sync.Mutex
	q       []*pending
	serving bool
}

// pending is one line in a lane.
type pending struct {
	ctx      context.Context // the board connection's: a line not yet safe when it ends is given up
	line     []byte
	done     func(error)
	tok      mqtt.Token // nil: to be written to the spool
	lk       *link      // the connection tok is on
	deadline time.Time  // spool it if no PUBACK by then
}

// lane returns board's lane, held until release: a lane is forgotten
// once empty and held by no Send, so that boards long gone (clients
// without hello are named after their address) cost nothing, while a
// board never has two lanes at once.
func (b *Bridge) lane(board string) *lane {
	b.lanesMu.Lock()
	defer b.lanesMu.Unlock()
	l := b.lanes[board]
	if l == nil {
		l = &lane{slots: make(chan struct{}, MaxInFlight)}
		b.lanes[board] = l
	}
	l.users++
	return l
}

// release lets go of a lane taken by lane, forgetting it if it is empty.
func (b *Bridge) release(board string, l *lane) {
	b.lanesMu.Lock()
	defer b.lanesMu.Unlock()
	l.users--
	b.forgetIdle(board, l)
}

// forgetIdle drops l from b.lanes when no Send holds it and it holds no
// line; b.lanesMu is held. A lane whose lock is taken is busy (a Send may
// hold it across paho's Publish, which can wait for the connection's
// writer): waiting for it here, under b.lanesMu, would hold up every
// board's Send.
func (b *Bridge) forgetIdle(board string, l *lane) {
	if !l.mu.TryLock() {
		return
	}
	idle := l.users == 0 && len(l.q) == 0 && !l.serving
	l.mu.Unlock()
	if idle && b.lanes[board] == l {
		delete(b.lanes, board)
	}
}

// Send takes line (without its LF) as board's next line for P/G/board/up
// and calls done(nil) once it is safe: acknowledged by the broker (QoS 1
// PUBACK), or written to the spool because the broker is unreachable or
// behind; done(err) if it could not be made safe. Send copies line. It
// waits while board has MaxInFlight lines pending, until ctx ends. A line
// longer than MaxLineBytes is refused with a *board.Error "too-large".
// Lines of one board reach the broker in the order of the Send calls;
// done is called in that order too.
func (b *Bridge) Send(ctx context.Context, boardID string, line []byte, done func(error)) error {
	b.mu.Lock()
	closed, max := b.closed, b.cfg.MaxLineBytes
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if len(line) > max {
		return &board.Error{Code: board.CodeTooLarge, Text: fmt.Sprintf("line of %d bytes, mqtt.max_line_bytes is %d", len(line), max)}
	}
	if b.q.Writable() != nil {
		if err := b.waitDirectOnly(ctx, boardID); err != nil {
			return err
		}
	}
	l := b.lane(boardID)
	defer b.release(boardID, l)
	select {
	case l.slots <- struct{}{}:
	default:
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.ctx.Done():
			return ErrClosed
		}
	}
	p := &pending{ctx: ctx, line: bytes.Clone(line), done: done}
	l.mu.Lock()
	b.mu.Lock()
	if b.closed {
		// Close came after the check above: a lane started now would
		// outlive Close's wait for its goroutines.
		b.mu.Unlock()
		l.mu.Unlock()
		<-l.slots
		return ErrClosed
	}
	lk, topic := b.link, b.topic(boardID, "up")
	direct := lk != nil && !b.spooling
	if !direct {
		b.toSpool++
		if !b.spooling {
			b.spooling = true
			b.broadcast()
		}
	}
	timeout := b.cfg.AckTimeout
	b.mu.Unlock()
	if direct {
		b.onWire.Add(1)
		b.stats.published.Add(1)
		p.tok, p.lk, p.deadline = lk.client.Publish(topic, 1, false, p.line), lk, time.Now().Add(timeout)
	}
	l.q = append(l.q, p)
	start := !l.serving
	l.serving = true
	l.mu.Unlock()
	if start {
		b.wg.Add(1)
		go b.serveLane(boardID, l)
	}
	return nil
}

// serveLane makes each line of l safe in turn and ends when l is empty.
// When a line's publish fails, it and every line behind it in the lane,
// published or not, go to the spool, in order: the broker may then see
// some lines twice, but never a line before one sent ahead of it.
func (b *Bridge) serveLane(boardID string, l *lane) {
	defer b.wg.Done()
	for {
		l.mu.Lock()
		if len(l.q) == 0 {
			// Again under b.lanesMu, which comes first, to end and
			// perhaps forget the lane with no Send slipping a line in.
			l.mu.Unlock()
			b.lanesMu.Lock()
			if !l.mu.TryLock() {
				// A Send holds the lane: it is adding a line.
				b.lanesMu.Unlock()
				continue
			}
			if len(l.q) == 0 {
				l.serving = false
				l.mu.Unlock()
				b.forgetIdle(boardID, l)
				b.lanesMu.Unlock()
				return
			}
			b.lanesMu.Unlock()
		}
		p := l.q[0]
		l.mu.Unlock()
		var err error
		if p.tok != nil {
			err = waitToken(b.ctx, p.tok, p.lk, time.Until(p.deadline))
			if err == nil {
				b.onWire.Add(-1)
				b.stats.acked.Add(1)
			} else {
				b.spoolLane(l, err)
			}
		}
		if p.tok == nil {
			// The board's context, not the bridge's: a line of a
			// connection that ended while it waited for queue space is
			// given up (the board got no receipt and sends it again),
			// so it never reaches the broker after that board's newer
			// lines.
			err = b.appendLine(p.ctx, boardID, p.line)
			b.mu.Lock()
			b.toSpool--
			b.broadcast()
			b.mu.Unlock()
			if err == nil {
				b.stats.spooled.Add(1)
			} else {
				err = fmt.Errorf("bridge: board %q: %w", boardID, err)
			}
		}
		l.mu.Lock()
		l.q[0] = nil
		l.q = l.q[1:]
		l.mu.Unlock()
		<-l.slots
		p.done(err)
	}
}

// spoolLane marks every published line of l for the spool after a
// publish failed with err, and turns spooling on.
func (b *Bridge) spoolLane(l *lane, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.q {
		if p.tok != nil {
			p.tok, p.lk = nil, nil
			n++
		}
	}
	b.onWire.Add(int64(-n))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.toSpool += n
	if !b.spooling {
		b.spooling = true
		b.log.Info("bridge: broker unreachable or behind, queueing on disk", "broker", b.broker.addr, "err", err)
		b.broadcast()
	}
}

// appendLine writes a board's line to the spool, waiting for room until
// the board's connection ends (ctx) or the bridge closes.
func (b *Bridge) appendLine(ctx context.Context, boardID string, line []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	return b.q.Append(ctx, encodeLine(boardID, line))
}
