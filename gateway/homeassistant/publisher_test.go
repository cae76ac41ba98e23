package homeassistant_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/bridge"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
	"github.com/gatewayd/gatewayd/gateway/homeassistant"
)

const wait = 30 * time.Second

var names = homeassistant.Names{DiscoveryPrefix: "ha", TopicPrefix: "t", GatewayID: "gw.1", Version: "9.9"}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func openBridge(t *testing.T, broker string) *bridge.Bridge {
	t.Helper()
	b, err := bridge.Open(bridge.Config{Brokers: []*url.URL{mustURL(t, broker)}, GatewayID: names.GatewayID, TopicPrefix: names.TopicPrefix,
		QueueDir: filepath.Join(t.TempDir(), "q"), AckTimeout: 2 * time.Second,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b
}

func openPublisher(t *testing.T, b *bridge.Bridge, fw func(string) string) *homeassistant.Publisher {
	t.Helper()
	p, err := homeassistant.NewPublisher(b, b, homeassistant.Options{Names: names, Discovery: true, FW: fw,
		Logger: slog.New(slog.DiscardHandler), RetryWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func send(t *testing.T, u gateway.Uplink, board, line string) {
	t.Helper()
	done := make(chan error, 1)
	if err := u.Send(context.Background(), board, []byte(line), func(err error) { done <- err }); err != nil {
		t.Fatalf("Send(%s, %q): %v", board, line, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Send(%s, %q): done(%v)", board, line, err)
	}
}

func count(msgs []mqtttest.Message, topic string) int {
	n := 0
	for _, m := range msgs {
		if m.Topic == topic {
			n++
		}
	}
	return n
}

// retained returns the retained messages a new subscriber to filter gets.
func retained(t *testing.T, url, filter string, settle func(msgs []mqtttest.Message) bool) map[string]string {
	t.Helper()
	s := mqtttest.Subscribe(t, url, filter)
	gatewaytest.Within(t, wait, "retained messages", func() bool { return settle(s.Messages()) })
	out := map[string]string{}
	for _, m := range s.Messages() {
		if m.Retained {
			out[m.Topic] = m.Payload
		}
	}
	return out
}

// TestPublisher runs the Publisher in front of a real bridge and broker:
// lines reach up unchanged, state lines also state as JSON, discovery
// configs appear for each board and each new key, come again when Home
// Assistant says online, and go when a board is forgotten, even by a later
// run that learnt the board's keys from the broker.
func TestPublisher(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "#")
	b := openBridge(t, m.URL())
	p := openPublisher(t, b, func(id string) string {
		if id == "kitchen" {
			return "2.1"
		}
		return ""
	})
	p.BoardUp("kitchen")
	send(t, p, "kitchen", "temp=21.5 hum=40")
	send(t, p, "kitchen", "just words")
	send(t, p, "shed.node-2", "v=3.3,door=open")

	kitchen := "ha/binary_sensor/gw_1_kitchen/connected/config"
	topics := []string{
		"ha/binary_sensor/gw_1/connected/config",
		kitchen,
		"ha/sensor/gw_1_kitchen/temp/config",
		"ha/sensor/gw_1_kitchen/hum/config",
		"ha/text/gw_1_kitchen/message/config",
		"ha/binary_sensor/gw_1_shed_node-2/connected/config",
		"ha/sensor/gw_1_shed_node-2/v/config",
		"ha/sensor/gw_1_shed_node-2/door/config",
		"ha/text/gw_1_shed_node-2/message/config",
	}
	gatewaytest.Within(t, wait, "configs, states and lines", func() bool {
		msgs := sub.Messages()
		for _, topic := range topics {
			if count(msgs, topic) == 0 {
				return false
			}
		}
		return mqtttest.HasMessage(msgs, "t/gw.1/kitchen/state", `{"temp":21.5,"hum":40}`) &&
			mqtttest.HasMessage(msgs, "t/gw.1/shed.node-2/state", `{"v":3.3,"door":"open"}`) &&
			mqtttest.HasMessage(msgs, "t/gw.1/kitchen/up", "just words") &&
			mqtttest.HasMessage(msgs, "t/gw.1/kitchen/up", "temp=21.5 hum=40")
	})
	if n := count(sub.Messages(), "t/gw.1/kitchen/state"); n != 1 {
		t.Errorf("%d states for kitchen; want 1 (\"just words\" is no state)", n)
	}
	var cfg struct {
		StateTopic    string `json:"state_topic"`
		ValueTemplate string `json:"value_template"`
	}
	// The retained configs are what Home Assistant finds at start.
	got := retained(t, m.URL(), "ha/#", func(msgs []mqtttest.Message) bool { return len(msgs) >= len(topics) })
	for _, topic := range topics {
		if got[topic] == "" {
			t.Errorf("%s not retained", topic)
		}
	}
	json.Unmarshal([]byte(got["ha/sensor/gw_1_kitchen/temp/config"]), &cfg)
	if cfg.StateTopic != "t/gw.1/kitchen/state" || cfg.ValueTemplate != "{{ value_json.temp }}" {
		t.Errorf("temp config = %s", got["ha/sensor/gw_1_kitchen/temp/config"])
	}
	if !strings.Contains(got[kitchen], `"sw_version":"2.1"`) || !strings.Contains(got[kitchen], `"via_device":"gw_1"`) {
		t.Errorf("kitchen device = %s; want sw_version 2.1 via gw_1", got[kitchen])
	}

	// A new key: its sensor alone.
	before := count(sub.Messages(), kitchen)
	send(t, p, "kitchen", "rssi=-61")
	gatewaytest.Within(t, wait, "the rssi sensor", func() bool { return count(sub.Messages(), "ha/sensor/gw_1_kitchen/rssi/config") == 1 })
	if n := count(sub.Messages(), kitchen); n != before {
		t.Errorf("a new key sent the board's other configs again")
	}

	// Home Assistant restarts: everything again.
	sub.Publish(t, "ha/status", "online")
	gatewaytest.Within(t, wait, "the re-announce", func() bool {
		msgs := sub.Messages()
		return count(msgs, kitchen) > before && count(msgs, "ha/sensor/gw_1_kitchen/rssi/config") == 2 &&
			count(msgs, "ha/binary_sensor/gw_1/connected/config") >= 2 && count(msgs, "ha/sensor/gw_1_shed_node-2/door/config") == 2
	})

	// Forget: every config of the board emptied, and no longer retained.
	if err := p.Forget("kitchen"); err != nil {
		t.Fatal(err)
	}
	gone := []string{kitchen, "ha/sensor/gw_1_kitchen/temp/config", "ha/sensor/gw_1_kitchen/hum/config",
		"ha/sensor/gw_1_kitchen/rssi/config", "ha/text/gw_1_kitchen/message/config"}
	gatewaytest.Within(t, wait, "the removals", func() bool {
		for _, topic := range gone {
			if !sub.Has(topic, "") {
				return false
			}
		}
		return true
	})
	got = retained(t, m.URL(), "ha/#", func(msgs []mqtttest.Message) bool { return len(msgs) >= 5 })
	for _, topic := range gone {
		if _, ok := got[topic]; ok {
			t.Errorf("%s still retained after forget", topic)
		}
	}

	// A later run (the daemon restarted) forgets a board it has not seen
	// send: its keys come from the retained configs.
	b2 := openBridge(t, m.URL())
	p2 := openPublisher(t, b2, nil)
	gatewaytest.Within(t, wait, "the second bridge", func() bool { return b2.Health() == nil })
	// Nothing tells when p2 has read the retained configs: forget again
	// now and then until the sensors' removals come.
	var last time.Time
	gatewaytest.Within(t, wait, "the keys learnt and removed", func() bool {
		if time.Since(last) > 100*time.Millisecond {
			p2.Forget("shed.node-2")
			last = time.Now()
		}
		return sub.Has("ha/sensor/gw_1_shed_node-2/door/config", "") && sub.Has("ha/sensor/gw_1_shed_node-2/v/config", "")
	})
}

// TestPublisherBrokerAway: while the broker is away lines are still taken
// (queued by the bridge) and a board's latest state is sent once it is
// back.
func TestPublisherBrokerAway(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "t/#")
	b := openBridge(t, m.URL())
	p := openPublisher(t, b, nil)
	gatewaytest.Within(t, wait, "the bridge", func() bool { return b.Health() == nil })
	m.Stop()
	gatewaytest.Within(t, wait, "the broker gone", func() bool { return b.Health() != nil })
	for i := range 5 {
		send(t, p, "b", "n="+string(rune('0'+i)))
	}
	m.Start()
	gatewaytest.Within(t, wait, "the latest state", func() bool { return sub.Has("t/gw.1/b/state", `{"n":4}`) })
	gatewaytest.Within(t, wait, "every line on up", func() bool { return count(sub.Messages(), "t/gw.1/b/up") == 5 })
	if st := p.Stats(); st.Replaced == 0 || st.Failures == 0 {
		t.Errorf("stats = %+v; want states replaced while the broker was away, and failures", st)
	}
}

// TestPublisherRename: after a reload moved the gateway ID, state and
// configs follow.
func TestPublisherRename(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "#")
	b := openBridge(t, m.URL())
	p := openPublisher(t, b, nil)
	send(t, p, "b", "x=1")
	gatewaytest.Within(t, wait, "the first state", func() bool { return sub.Has("t/gw.1/b/state", `{"x":1}`) })
	p.Rename("t", "gw2")
	send(t, p, "b", "x=2")
	gatewaytest.Within(t, wait, "state and configs under the new name", func() bool {
		msgs := sub.Messages()
		return mqtttest.HasMessage(msgs, "t/gw2/b/state", `{"x":2}`) &&
			count(msgs, "ha/sensor/gw2_b/x/config") == 1 && count(msgs, "ha/binary_sensor/gw2/connected/config") == 1
	})
	if !strings.Contains(sub.Last("ha/sensor/gw2_b/x/config"), `"state_topic":"t/gw2/b/state"`) {
		t.Errorf("renamed config = %s", sub.Last("ha/sensor/gw2_b/x/config"))
	}
}
