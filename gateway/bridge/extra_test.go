package bridge

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// TestExtraPublishSubscribe: Publish reaches the broker retained or not,
// fails at once while the broker is away, and a Subscribe made before the
// broker restarts still delivers after it.
func TestExtraPublishSubscribe(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "ha/#")
	b := openBridge(t, testConfig(t, m.URL()), nil)
	var mu sync.Mutex
	var got []string
	if err := b.Subscribe("ha/status", func(topic string, payload []byte) {
		mu.Lock()
		got = append(got, topic+"="+string(payload))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	received := func(want string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if g == want {
					return true
				}
			}
			return false
		}
	}
	waitConnected(t, b)
	ctx := context.Background()
	if err := b.Publish(ctx, "ha/sensor/x/config", true, []byte("{}")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := b.Publish(ctx, "ha/x/state", false, []byte(`{"a":1}`)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	gatewaytest.Within(t, brokerWait, "the publishes", func() bool {
		return sub.Has("ha/sensor/x/config", "{}") && sub.Has("ha/x/state", `{"a":1}`)
	})
	// A subscriber that comes later gets the retained config, not the state.
	late := mqtttest.Subscribe(t, m.URL(), "ha/#")
	gatewaytest.Within(t, brokerWait, "the retained config", func() bool { return late.Has("ha/sensor/x/config", "{}") })
	for _, msg := range late.Messages() {
		if msg.Topic == "ha/x/state" {
			t.Errorf("%s was retained", msg.Topic)
		}
	}
	sub.Publish(t, "ha/status", "online")
	gatewaytest.Within(t, brokerWait, "the subscription", received("ha/status=online"))

	m.Stop()
	gatewaytest.Within(t, brokerWait, "the bridge to see the broker gone", func() bool { return b.Health() != nil })
	if err := b.Publish(ctx, "ha/y", false, []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish without a broker = %v, want ErrNotConnected", err)
	}
	m.Start()
	waitConnected(t, b)
	sub2 := mqtttest.Subscribe(t, m.URL(), "ha/#")
	gatewaytest.Within(t, brokerWait, "the subscription to be renewed", func() bool {
		sub2.Publish(t, "ha/status", "again")
		return received("ha/status=again")()
	})
}
