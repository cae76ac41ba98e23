package bridge

import (
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatewayd/gatewayd/gateway/spool"
)

// drainWindow bounds the spooled lines in flight at once. They are
// published in spool order from one goroutine, so each board's lines
// reach the broker in order, and records are acknowledged in order.
const drainWindow = 64

// refusalsToDeadLetter is how many connections in a row may end while
// the spool's head line is the only one in flight before that line is
// taken to be refused by the broker (mosquitto closes the connection for
// a packet over its max_packet_size, or a PUBLISH its ACL denies) and
// moved to the dead letters, so the lines behind it go on.
const refusalsToDeadLetter = 5

// drainRetry paces the drain when a pass ends with nothing acknowledged
// while the broker stays connected: a broker that does not acknowledge
// the lines would otherwise be asked again at once, forever, spinning
// the CPU. Nothing is lost meanwhile: the lines wait in the spool, and
// new ones queue behind them.
var drainRetry = backoff(100*time.Millisecond, 30*time.Second)

// drainLoop empties the spool to the broker whenever it holds lines and
// the broker is connected. It ends when the bridge is closed.
func (b *Bridge) drainLoop() {
	defer b.wg.Done()
	failed := 0 // passes in a row that got nothing acknowledged
	for {
		b.mu.Lock()
		lk := b.link
		ready := lk != nil && b.spooling && !b.closed
		ch := b.changed
		b.mu.Unlock()
		if ready {
			if b.drain(lk) {
				failed = 0
				continue
			}
			failed++
			pause := drainRetry(failed)
			if failed > 1 {
				b.log.Warn("bridge: the broker acknowledged none of the queued lines; trying again", "broker", lk.br.addr, "in", pause.Round(time.Millisecond))
			}
			t := time.NewTimer(pause)
			select {
			case <-b.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		select {
		case <-b.ctx.Done():
			return
		case <-ch:
		}
	}
}

type drainItem struct {
	rec      spool.Record
	tok      mqtt.Token // nil: a record that cannot be read, dropped
	board    string
	line     []byte
	deadline time.Time
}

// drain sends spooled lines in order on lk until the spool is empty (and
// then lets Send publish directly again) or a line fails (and then
// rewinds, so what was not acknowledged is sent again). It reports
// whether the pass got anywhere: the spool emptied, or at least one
// line acknowledged. After a failed pass the next sends one line at a
// time, so that a line the broker refuses is known for what it is.
func (b *Bridge) drain(lk *link) (progressed bool) {
	b.mu.Lock()
	timeout, careful := b.cfg.AckTimeout, b.careful
	b.mu.Unlock()
	var window []*drainItem // published, in spool order
	defer func() {
		b.onWire.Add(-int64(len(window)))
		b.q.Rewind()
	}()
	for {
		// Acknowledge, in order, what the broker has.
		for len(window) > 0 {
			it := window[0]
			if it.tok != nil {
				if !tokenDone(it.tok) {
					break
				}
				if it.tok.Error() != nil {
					b.drainFailed(lk, window, careful, it.tok.Error())
					return progressed
				}
				b.stats.acked.Add(1)
			}
			b.q.Ack(it.rec)
			b.onWire.Add(-1)
			window = window[1:]
			progressed = true
			if careful {
				b.mu.Lock()
				b.careful, b.refusals = false, 0
				b.mu.Unlock()
				b.probedAt.Store(0)
				careful = false
			}
		}
		limit := drainWindow
		if careful {
			limit = 1
		}
		changed := b.q.Changed()
		if len(window) < limit {
			rec, ok, err := b.q.TryNext()
			if err != nil {
				return progressed
			}
			if ok {
				it := &drainItem{rec: rec}
				board, line, err := decodeLine(rec.Data)
				if err != nil {
					b.log.Error("bridge: dropping a spooled record that cannot be read", "err", err)
				} else {
					b.mu.Lock()
					topic := b.topic(board, "up")
					b.mu.Unlock()
					b.stats.redelivered.Add(1)
					b.stats.published.Add(1)
					it.board, it.line = board, line
					if careful {
						b.probedAt.Store(time.Now().UnixNano())
					}
					it.tok = lk.client.Publish(topic, 1, false, line)
					it.deadline = time.Now().Add(timeout)
				}
				b.onWire.Add(1)
				window = append(window, it)
				continue
			}
			if len(window) == 0 && b.caughtUp() {
				return true
			}
		}
		if len(window) == 0 {
			select {
			case <-changed:
			case <-lk.lost:
				return progressed
			case <-b.ctx.Done():
				return progressed
			}
			continue
		}
		head := window[0]
		t := time.NewTimer(time.Until(head.deadline))
		select {
		case <-head.tok.Done():
		case <-changed:
		case <-lk.lost:
			t.Stop()
			// Whatever was acknowledged before the loss counts.
			if tokenDone(head.tok) && head.tok.Error() == nil {
				continue
			}
			b.drainFailed(lk, window, careful, errLost)
			return progressed
		case <-t.C:
			b.drainFailed(lk, window, careful, errAckTimeout)
			return progressed
		case <-b.ctx.Done():
			t.Stop()
			return progressed
		}
		t.Stop()
	}
}

// drainFailed handles a pass that ended with window's head unacknowledged.
// When the connection was lost with that line alone in flight, it counts
// a refusal of the line, and at refusalsToDeadLetter moves it to the dead
// letters.
func (b *Bridge) drainFailed(lk *link, window []*drainItem, careful bool, err error) {
	b.log.Debug("bridge: draining stopped", "err", err)
	lost := false
	if err != errAckTimeout {
		select {
		case <-lk.lost:
			lost = true
		case <-b.ctx.Done():
		case <-time.After(time.Second):
			// A refused line's connection is closed by the broker; paho
			// may complete the token a moment before it reports the loss.
		}
	}
	b.mu.Lock()
	b.careful = true
	if !careful || !lost || len(window) != 1 {
		b.refusals = 0
		b.mu.Unlock()
		return
	}
	b.refusals++
	n := b.refusals
	if n >= refusalsToDeadLetter {
		b.refusals = 0
	}
	b.mu.Unlock()
	if n < refusalsToDeadLetter {
		return
	}
	it := window[0]
	if err := b.dead.add(it.board, it.line); err != nil {
		b.log.Error("bridge: a line the broker refuses could not be moved to the dead letters; it stays queued", "board", it.board, "err", err)
		return
	}
	b.q.Ack(it.rec)
	b.stats.deadLetters.Add(1)
	b.log.Error("bridge: the broker refuses a queued line (it closed the connection each time it was sent); moved to the dead letters, the lines behind it go on",
		"board", it.board, "bytes", len(it.line), "times", refusalsToDeadLetter, "file", b.dead.path)
}

// caughtUp switches Send back to publishing directly once every spooled
// line is acknowledged and no line taken by Send is on its way to the
// spool.
func (b *Bridge) caughtUp() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if msgs, _ := b.q.Len(); msgs > 0 || b.toSpool > 0 {
		return false
	}
	b.spooling = false
	b.log.Info("bridge: disk queue drained", "broker", b.broker.addr)
	b.broadcast()
	return true
}

// tokenDone says whether tok is complete, without waiting.
func tokenDone(tok mqtt.Token) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}
