package bridge

import (
	"bytes"
	"context"
	"errors"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// This file is the bridge's side door for messages that are not board
// lines: Home Assistant's discovery configs and state JSON. They carry no
// receipt, so they are never queued on disk: Publish tries once, now.

// ErrNotConnected is returned by Publish while the broker is unreachable.
var ErrNotConnected = errors.New("bridge: not connected to the broker")

// extras holds the subscriptions made with Subscribe, renewed on every
// connection (clean sessions keep none); guarded by b.mu, under which
// connections come up, so a filter is subscribed once per connection.
type extras struct {
	subs []extraSub
}

type extraSub struct {
	filter  string
	handler func(topic string, payload []byte)
}

// Publish sends payload on topic at QoS 1, retained or not, and returns
// once the broker acknowledged it, ctx ended, the connection dropped or
// the ack timeout passed. It does not wait for the broker to come back.
func (b *Bridge) Publish(ctx context.Context, topic string, retained bool, payload []byte) error {
	b.mu.Lock()
	lk, closed, timeout := b.link, b.closed, b.cfg.AckTimeout
	b.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case lk == nil:
		return ErrNotConnected
	}
	return waitToken(ctx, lk.client.Publish(topic, 1, retained, payload), lk, timeout)
}

// Subscribe calls handler with every message on filter (MQTT wildcards
// allowed), subscribing at QoS 1 now if connected and again on every
// connection, so retained messages arrive each time. handler is called
// on paho's router goroutine, which also hands over the downlinks: it
// must return at once. payload is handler's to keep.
func (b *Bridge) Subscribe(filter string, handler func(topic string, payload []byte)) error {
	s := extraSub{filter, handler}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.extra.subs = append(b.extra.subs, s)
	if b.link != nil {
		b.extraSubscribe(b.link, []extraSub{s})
	}
	return nil
}

// extraUp renews the subscriptions on lk, a new connection; b.mu is held.
func (b *Bridge) extraUp(lk *link) {
	subs := append([]extraSub(nil), b.extra.subs...)
	if len(subs) > 0 {
		b.extraSubscribe(lk, subs)
	}
}

// extraSubscribe subscribes on a goroutine of its own, since the callers
// hold b.mu; it ends with the connection, the bridge or the ack timeout.
// paho's router matches each message to its filter. b.mu is held.
func (b *Bridge) extraSubscribe(lk *link, subs []extraSub) {
	timeout := b.cfg.AckTimeout
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for _, s := range subs {
			h := s.handler
			tok := lk.client.Subscribe(s.filter, 1, func(_ mqtt.Client, m mqtt.Message) {
				h(m.Topic(), bytes.Clone(m.Payload()))
			})
			if err := waitToken(b.ctx, tok, lk, timeout); err != nil {
				b.log.Warn("bridge: subscribing failed; trying again at the next connect", "topic", s.filter, "err", err)
				return
			}
		}
	}()
}
