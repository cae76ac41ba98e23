package bridge

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// mosquitto is a real broker the test runs on a loopback port of its own.
type mosquitto struct{ *gatewaytest.Mosquitto }

// startMosquitto starts mosquitto on a free port; see
// gatewaytest.StartMosquitto for persist.
func startMosquitto(t testing.TB, persist bool) *mosquitto {
	t.Helper()
	return &mosquitto{gatewaytest.StartMosquitto(t, persist)}
}

func (m *mosquitto) url() string { return m.URL() }
func (m *mosquitto) start()      { m.Start() }
func (m *mosquitto) stop()       { m.Stop() }

// message is one publish a subscriber received.
type message struct {
	topic, payload string
	retained       bool
}

// subscriber collects what a real MQTT client sees on a filter.
type subscriber struct {
	mu   sync.Mutex
	msgs []message
	cm   *autopaho.ConnectionManager
	stop context.CancelFunc
}

// subscribe connects a client to broker, subscribed to filter at QoS 1,
// with a session the broker keeps for an hour so a restart loses nothing.
func subscribe(t *testing.T, brokerURL, filter string) *subscriber {
	t.Helper()
	u, _ := url.Parse(brokerURL)
	s := &subscriber{}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
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
				s.msgs = append(s.msgs, message{pr.Packet.Topic, string(pr.Packet.Payload), pr.Packet.Retain})
				s.mu.Unlock()
				return true, nil
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.cm = cm
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatalf("subscriber did not subscribe to %s on %s", filter, brokerURL)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_ = cm.Disconnect(dctx)
		cancel()
		<-cm.Done()
	})
	return s
}

func (s *subscriber) messages() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message(nil), s.msgs...)
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

func waitWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasMessage says whether a message with topic and payload arrived.
func hasMessage(msgs []message, topic, payload string) bool {
	for _, m := range msgs {
		if m.topic == topic && m.payload == payload {
			return true
		}
	}
	return false
}

func startMosquittoB(b *testing.B) *mosquitto { return startMosquitto(b, false) }

func waitBriefly() { time.Sleep(10 * time.Millisecond) }
