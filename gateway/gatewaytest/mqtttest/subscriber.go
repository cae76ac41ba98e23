// Package mqtttest holds an MQTT subscriber for tests that check what
// reached a real broker. It is apart from gatewaytest so that packages
// needing only a broker process do not import the MQTT client.
package mqtttest

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Message is one publish a Subscriber received.
type Message struct {
	Topic, Payload string
	Retained       bool
}

// Subscriber is a real MQTT client subscribed to a filter at QoS 1 that
// collects every publish it receives.
type Subscriber struct {
	mu   sync.Mutex
	msgs []Message
	cm   *autopaho.ConnectionManager
}

// Subscribe connects a client to brokerURL, subscribed to filter at QoS 1,
// and returns once the subscription is made. It connects with clean start
// false from the first connection (autopaho's default) and a session the
// broker keeps for an hour, so a broker restart with persistence loses
// nothing: mosquitto 2.0 saves no session that began with clean start.
// The client disconnects when the test ends.
func Subscribe(t testing.TB, brokerURL, filter string) *Subscriber {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatalf("broker URL %q: %v", brokerURL, err)
	}
	s := &Subscriber{}
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan struct{}, 1)
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:            []*url.URL{u},
		KeepAlive:             30,
		SessionExpiryInterval: 3600,
		ReconnectBackoff:      func(int) time.Duration { return 20 * time.Millisecond },
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go func() {
				if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err == nil {
					select {
					case up <- struct{}{}:
					default:
					}
				}
			}()
		},
		ClientConfig: paho.ClientConfig{
			ClientID: fmt.Sprintf("test-sub-%d", time.Now().UnixNano()),
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				s.mu.Lock()
				s.msgs = append(s.msgs, Message{pr.Packet.Topic, string(pr.Packet.Payload), pr.Packet.Retain})
				s.mu.Unlock()
				return true, nil
			}},
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s.cm = cm
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_ = cm.Disconnect(dctx)
		cancel()
		<-cm.Done()
	})
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatalf("subscriber did not subscribe to %s on %s", filter, brokerURL)
	}
	return s
}

// Messages returns a copy of what arrived so far, in order.
func (s *Subscriber) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Has says whether a message with topic and payload arrived.
func (s *Subscriber) Has(topic, payload string) bool {
	return HasMessage(s.Messages(), topic, payload)
}

// HasMessage says whether msgs holds one with topic and payload.
func HasMessage(msgs []Message, topic, payload string) bool {
	for _, m := range msgs {
		if m.Topic == topic && m.Payload == payload {
			return true
		}
	}
	return false
}

// Last returns the payload last received on topic, or "" if none.
func (s *Subscriber) Last(topic string) string {
	msgs := s.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Topic == topic {
			return msgs[i].Payload
		}
	}
	return ""
}

// Publish sends payload to topic at QoS 1 through the subscriber's own
// connection.
func (s *Subscriber) Publish(t testing.TB, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}
