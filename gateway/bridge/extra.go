package bridge

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/eclipse/paho.golang/paho"
)

// This file is the bridge's side door for messages that are not board
// lines: Home Assistant's discovery configs and state JSON. They carry no
// receipt, so they are never queued on disk: Publish tries once, now.

// ErrNotConnected is returned by Publish while the broker is unreachable.
var ErrNotConnected = errors.New("bridge: not connected to the broker")

// extras holds the subscriptions made with Subscribe, renewed at every
// connect.
type extras struct {
	mu   sync.Mutex
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
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if !b.connected {
		b.mu.Unlock()
		return ErrNotConnected
	}
	cm, connCtx, timeout := b.cm, b.connCtx, b.cfg.AckTimeout
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(connCtx, cancel)
	defer stop()
	_, err := cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: retained, Payload: payload})
	return err
}

// Subscribe calls handler with every message on filter (MQTT wildcards
// allowed), subscribing at QoS 1 now if connected and again after every
// connect, so retained messages arrive each time. handler is called on
// the MQTT client's goroutine, which also reads the acks every Send waits
// for: it must return at once. payload is handler's to keep.
func (b *Bridge) Subscribe(filter string, handler func(topic string, payload []byte)) error {
	b.extra.mu.Lock()
	b.extra.subs = append(b.extra.subs, extraSub{filter, handler})
	b.extra.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.connected {
		b.extraSubscribe(b.connCtx, []string{filter})
	}
	return nil
}

// extraUp renews the subscriptions on a new connection; b.mu is held.
func (b *Bridge) extraUp() {
	b.extra.mu.Lock()
	var filters []string
	for _, s := range b.extra.subs {
		filters = append(filters, s.filter)
	}
	b.extra.mu.Unlock()
	if len(filters) > 0 {
		b.extraSubscribe(b.connCtx, filters)
	}
}

// extraSubscribe subscribes on a goroutine of its own, since the callers
// hold b.mu or run on paho's goroutine; it ends with the connection or
// after the ack timeout. b.mu is held.
func (b *Bridge) extraSubscribe(connCtx context.Context, filters []string) {
	cm, timeout := b.cm, b.cfg.AckTimeout
	var opts []paho.SubscribeOptions
	for _, f := range filters {
		opts = append(opts, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(connCtx, timeout)
		defer cancel()
		if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: opts}); err != nil {
			b.log.Warn("bridge: subscribing failed; trying again at the next connect", "topics", filters, "err", err)
		}
	}()
}

// extraReceived is autopaho's OnPublishReceived after downlink: messages
// on the filters of Subscribe go to their handlers.
func (b *Bridge) extraReceived(pr paho.PublishReceived) (bool, error) {
	if pr.AlreadyHandled {
		return true, nil
	}
	b.extra.mu.Lock()
	subs := b.extra.subs
	b.extra.mu.Unlock()
	handled := false
	for _, s := range subs {
		if topicMatches(s.filter, pr.Packet.Topic) {
			s.handler(pr.Packet.Topic, bytes.Clone(pr.Packet.Payload))
			handled = true
		}
	}
	return handled, nil
}

// topicMatches says whether topic matches filter, with MQTT's wildcards:
// + one level, # the rest (MQTT 3.1.1, 4.7). A topic starting with $ is
// matched by no wildcard in the first level.
func topicMatches(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}
