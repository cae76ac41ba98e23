package bridge

import (
	"context"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/gateway/spool"
)

// drainWindow bounds the spooled lines in flight at once; lines of one
// board are still sent one at a time, each after the previous PUBACK.
const drainWindow = 64

// drainRetry paces the drain when a pass ends with nothing acknowledged
// while the broker stays connected: a broker that refuses the lines (an
// ACL's "not authorized", a quota) would otherwise be asked again at once,
// forever, spinning the CPU. Nothing is lost meanwhile: the lines wait in
// the spool, and new ones queue behind them.
var drainRetry = backoff(100*time.Millisecond, 30*time.Second)

// drainLoop empties the spool to the broker whenever it holds lines and
// the broker is connected. It ends when the bridge is closed.
func (b *Bridge) drainLoop() {
	defer b.wg.Done()
	failed := 0 // passes in a row that got nothing acknowledged
	for {
		b.mu.Lock()
		ready := b.connected && b.spooling && !b.closed
		ch := b.changed
		b.mu.Unlock()
		if ready {
			if b.drain() {
				failed = 0
				continue
			}
			// Nothing acknowledged. Either the connection went, or the
			// broker refuses the lines: mosquitto even closes a client
			// whose PUBLISH its ACL denies, and autopaho reconnects at once
			// after a connection that came up. Pause before the next pass,
			// whether or not the broker is back by then, so that neither
			// the drain nor the reconnects spin; the pause grows while no
			// pass gets anywhere.
			failed++
			pause := drainRetry(failed)
			if failed > 1 {
				b.log.Warn("bridge: the broker acknowledged none of the queued lines; trying again", "broker", b.broker.addr, "in", pause.Round(time.Millisecond))
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
	rec  spool.Record
	done bool
	err  error
}

// drain sends spooled lines in order until the spool is empty (and then
// lets Send publish directly again) or the connection fails (and then
// rewinds, so what was not acknowledged is sent again on reconnect). It
// reports whether the pass got anywhere: the spool emptied, or at least
// one line acknowledged.
func (b *Bridge) drain() (progressed bool) {
	b.mu.Lock()
	cm, connCtx, timeout := b.cm, b.connCtx, b.cfg.AckTimeout
	b.mu.Unlock()
	ctx, cancel := context.WithCancel(connCtx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		b.q.Rewind()
	}()

	var window []*drainItem              // handed out, in spool order
	last := map[string]<-chan struct{}{} // each board's line in flight
	results := make(chan *drainItem, drainWindow)
	inflight := 0
	for {
		for len(window) > 0 && window[0].done {
			b.q.Ack(window[0].rec)
			window = window[1:]
			progressed = true
		}
		changed := b.q.Changed()
		if inflight < drainWindow {
			rec, ok, err := b.q.TryNext()
			if err != nil {
				return progressed
			}
			if ok {
				board, line, err := decodeLine(rec.Data)
				if err != nil {
					b.log.Error("bridge: dropping a spooled record that cannot be read", "err", err)
					it := &drainItem{rec: rec, done: true}
					window = append(window, it)
					continue
				}
				it := &drainItem{rec: rec}
				window = append(window, it)
				prev := last[board]
				mine := make(chan struct{})
				last[board] = mine
				inflight++
				b.mu.Lock()
				topic := b.topic(board, "up")
				b.mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					if prev != nil {
						select {
						case <-prev:
						case <-ctx.Done():
							it.err = ctx.Err()
							results <- it
							return
						}
					}
					b.stats.redelivered.Add(1)
					if it.err = b.publish(ctx, connCtx, cm, topic, line, timeout); it.err == nil {
						close(mine)
					}
					results <- it
				}()
				continue
			}
			if len(window) == 0 && b.caughtUp() {
				return true
			}
		}
		select {
		case it := <-results:
			inflight--
			if it.err != nil {
				b.log.Debug("bridge: draining stopped", "err", it.err)
				return progressed
			}
			it.done = true
		case <-changed:
		case <-ctx.Done():
			return progressed
		}
	}
}

// caughtUp switches Send back to publishing directly once every spooled
// line is acknowledged and no Send is writing to the spool.
func (b *Bridge) caughtUp() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if msgs, _ := b.q.Len(); msgs > 0 || b.appending > 0 {
		return false
	}
	b.spooling = false
	b.log.Info("bridge: disk queue drained", "broker", b.broker.addr)
	b.broadcast()
	return true
}
