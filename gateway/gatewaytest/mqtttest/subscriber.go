// Package mqtttest holds an MQTT subscriber for tests that check what
// reached a real broker. It is apart from gatewaytest so that packages
// needing only a broker process do not import the MQTT client.
package mqtttest

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
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
	c    mqtt.Client
}

// Subscribe connects a client to brokerURL, subscribed to filter at QoS 1,
// and returns once the subscription is made. It speaks MQTT 3.1.1, as
// the bridge does (RabbitMQ 3.10 speaks no other), with clean_session
// false: the broker keeps its subscription and queues what arrives while
// it is away, and mosquitto with persistence saves that session across a
// restart, so the subscriber misses nothing. It reconnects at once when
// the connection drops, and disconnects when the test ends.
func Subscribe(t testing.TB, brokerURL, filter string) *Subscriber {
	t.Helper()
	return SubscribeAny(t, []string{brokerURL}, filter)
}

// SubscribeAny is Subscribe to whichever of brokerURLs answers: the
// nodes of one cluster, where the session lives on.
func SubscribeAny(t testing.TB, brokerURLs []string, filter string) *Subscriber {
	t.Helper()
	s := &Subscriber{}
	up := make(chan struct{}, 1)
	opts := mqtt.NewClientOptions().
		SetClientID(fmt.Sprintf("test-sub-%d", time.Now().UnixNano())).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(50 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			s.mu.Lock()
			s.msgs = append(s.msgs, Message{m.Topic(), string(m.Payload()), m.Retained()})
			s.mu.Unlock()
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			go func() {
				tok := c.Subscribe(filter, 1, nil)
				if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
					select {
					case up <- struct{}{}:
					default:
					}
				}
			}()
		})
	for _, raw := range brokerURLs {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("broker URL %q: %v", raw, err)
		}
		opts.AddBroker("tcp://" + u.Host)
	}
	s.c = mqtt.NewClient(opts)
	s.c.Connect()
	t.Cleanup(func() { s.c.Disconnect(100) })
	select {
	case <-up:
	case <-time.After(20 * time.Second):
		t.Fatalf("subscriber did not subscribe to %s on %v", filter, brokerURLs)
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
	tok := s.c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("publish %s: no PUBACK in 10 s", topic)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}
