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
	tok  *mqtt.ConnectToken // of the first connection

	id, filter string
	brokers    []string
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
	return subscribe(t, fmt.Sprintf("test-sub-%d", time.Now().UnixNano()), brokerURLs, filter)
}

// Resume connects a new subscriber with the client ID, brokers and filter
// of s, which has been closed: it takes up the session the broker kept
// for s, and with it what was queued there while s was away.
// SessionPresent says whether there was such a session.
func (s *Subscriber) Resume(t testing.TB) *Subscriber {
	t.Helper()
	return subscribe(t, s.id, s.brokers, s.filter)
}

func subscribe(t testing.TB, id string, brokerURLs []string, filter string) *Subscriber {
	t.Helper()
	s := &Subscriber{id: id, filter: filter, brokers: brokerURLs}
	up := make(chan struct{}, 1)
	opts := mqtt.NewClientOptions().
		SetClientID(id).
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
	s.tok = s.c.Connect().(*mqtt.ConnectToken)
	t.Cleanup(s.Close)
	select {
	case <-up:
	case <-time.After(20 * time.Second):
		t.Fatalf("subscriber did not subscribe to %s on %v", filter, brokerURLs)
	}
	// The token completes just after the connection is up, so within
	// moments of the subscription.
	if !s.tok.WaitTimeout(10*time.Second) || s.tok.Error() != nil {
		t.Fatalf("subscriber connect to %v: %v", brokerURLs, s.tok.Error())
	}
	return s
}

// SessionPresent is the CONNACK's session present flag of the
// subscriber's first connection: whether the broker had kept a session
// for its client ID (see Resume). Reconnections do not change it.
func (s *Subscriber) SessionPresent() bool { return s.tok.SessionPresent() }

// Close disconnects the subscriber now rather than when the test ends.
// The broker keeps its session (clean_session false) and queues for it
// what arrives on its filter until Resume takes it up.
func (s *Subscriber) Close() { s.c.Disconnect(100) }

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
