package bridge

import (
	"time"
)

// presence is what the broker should be told about: the gateway's online
// status and downlink subscription after each connect, and each board's
// status. Only the latest state of a board is published, so a board that
// flaps while the broker is away costs one message, not a backlog.
type presence struct {
	boards    map[string]bool // wanted status; offline entries go once published
	dirty     map[string]bool
	hello     bool // publish P/G/status online and subscribe P/G/+/down
	wake      chan struct{}
	retryWait time.Duration
}

func (p *presence) init() {
	p.boards = map[string]bool{}
	p.dirty = map[string]bool{}
	p.wake = make(chan struct{}, 1)
	p.retryWait = time.Second
}

func (p *presence) nudge() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// reconnected marks everything to be said again on a new connection;
// retained messages on a new broker start empty. The caller holds b.mu.
func (p *presence) reconnected() {
	p.hello = true
	for id := range p.boards {
		p.dirty[id] = true
	}
	p.nudge()
}

// BoardOnline publishes P/G/board/status online (retained), now or as soon
// as the broker is reachable. It never blocks on the network.
func (b *Bridge) BoardOnline(board string) { b.setBoard(board, true) }

// BoardOffline publishes P/G/board/status offline (retained), now or as
// soon as the broker is reachable. It never blocks on the network.
func (b *Bridge) BoardOffline(board string) { b.setBoard(board, false) }

func (b *Bridge) setBoard(board string, online bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.presence.boards[board] = online
	b.presence.dirty[board] = true
	b.presence.nudge()
}

// presenceLoop publishes what presence holds while connected. It ends
// when the bridge is closed.
func (b *Bridge) presenceLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.presence.wake:
		}
		for b.presenceStep() {
		}
	}
}

// presenceStep does one piece of presence work and says whether to go on.
func (b *Bridge) presenceStep() bool {
	b.mu.Lock()
	lk := b.link
	if lk == nil || b.closed {
		b.mu.Unlock()
		return false
	}
	p := &b.presence
	timeout := b.cfg.AckTimeout
	var err error
	switch {
	case p.hello:
		p.hello = false
		status, down := b.topic("", "status"), b.topic("+", "down")
		b.mu.Unlock()
		if err = waitToken(b.ctx, lk.client.Subscribe(down, 1, b.downlink), lk, timeout); err == nil {
			err = waitToken(b.ctx, lk.client.Publish(status, 1, true, "online"), lk, timeout)
		}
		if err != nil {
			b.mu.Lock()
			p.hello = true
			b.mu.Unlock()
		}
	case len(p.dirty) > 0:
		var board string
		for board = range p.dirty {
			break
		}
		online := p.boards[board]
		delete(p.dirty, board)
		topic := b.topic(board, "status")
		b.mu.Unlock()
		payload := "offline"
		if online {
			payload = "online"
		}
		err = waitToken(b.ctx, lk.client.Publish(topic, 1, true, payload), lk, timeout)
		b.mu.Lock()
		switch {
		case err != nil:
			if _, again := p.dirty[board]; !again {
				p.dirty[board] = true
			}
		case !online && !p.dirty[board]:
			delete(p.boards, board)
		}
		b.mu.Unlock()
	default:
		b.mu.Unlock()
		return false
	}
	if err != nil {
		b.log.Debug("bridge: presence not published yet", "err", err)
		// Try again shortly, or at the next connect.
		select {
		case <-b.ctx.Done():
			return false
		case <-time.After(p.retryWait):
		}
	}
	return true
}
