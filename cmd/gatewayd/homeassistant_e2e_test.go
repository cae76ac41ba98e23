package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// testBoard is a board speaking the line protocol by hand.
type testBoard struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// dialBoard connects and says hello as id (with fw= if given).
func dialBoard(t *testing.T, addr, hello string) *testBoard {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b := &testBoard{t: t, c: c, r: bufio.NewReader(c)}
	b.c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "!hello %s\n", hello)
	if got := b.read(); !strings.HasPrefix(got, "!ok ") {
		t.Fatalf("hello %s: %q", hello, got)
	}
	return b
}

func (b *testBoard) read() string {
	b.t.Helper()
	line, err := b.r.ReadString('\n')
	if err != nil {
		b.t.Fatalf("board read: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

// send writes line and waits for its receipt.
func (b *testBoard) send(line string) {
	b.t.Helper()
	fmt.Fprintf(b.c, "%s\n", line)
	if got := b.read(); got != line {
		b.t.Fatalf("receipt %q for %q", got, line)
	}
}

func countTopic(msgs []mqtttest.Message, topic string) int {
	n := 0
	for _, m := range msgs {
		if m.Topic == topic {
			n++
		}
	}
	return n
}

// TestHomeAssistantEndToEnd: a real gatewayd with mqtt.homeassistant and
// a real mosquitto. Two boards appear in discovery with a sensor per key
// they send and their state as JSON; Home Assistant's birth message
// brings every config again; a message typed in the text entity reaches
// the board; `forget` over the control socket empties a board's configs.
func TestHomeAssistantEndToEnd(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "#")
	sock := filepath.Join(t.TempDir(), "gatewayd.sock")
	yaml := bridgeYAML(t, m.URL(), "pi.1", filepath.Join(t.TempDir(), "q"), "  homeassistant: true\n") +
		"control: " + sock + "\n"
	p := start2(t, yaml)
	addr := p.addr()

	kitchen := dialBoard(t, addr, "kitchen fw=1.2")
	shed := dialBoard(t, addr, "shed.2-b")
	kitchen.send("temp=21.5 hum=40")
	kitchen.send("hello there")
	shed.send("v=3.3,door=open")

	configs := map[string]string{ // topic: a part of its payload
		"homeassistant/binary_sensor/pi_1/connected/config":          `"state_topic":"e2e/pi.1/status"`,
		"homeassistant/binary_sensor/pi_1_kitchen/connected/config":  `"device":{"identifiers":["pi_1_kitchen"],"name":"kitchen","sw_version":"1.2","via_device":"pi_1"}`,
		"homeassistant/sensor/pi_1_kitchen/temp/config":              `"state_topic":"e2e/pi.1/kitchen/state","unique_id":"pi_1_kitchen_temp","unit_of_measurement":"°C","value_template":"{{ value_json.temp }}"`,
		"homeassistant/sensor/pi_1_kitchen/hum/config":               `"device_class":"humidity"`,
		"homeassistant/text/pi_1_kitchen/message/config":             `"command_topic":"e2e/pi.1/kitchen/down"`,
		"homeassistant/binary_sensor/pi_1_shed_2-b/connected/config": `"state_topic":"e2e/pi.1/shed.2-b/status"`,
		"homeassistant/sensor/pi_1_shed_2-b/v/config":                `"device_class":"voltage"`,
		"homeassistant/sensor/pi_1_shed_2-b/door/config":             `"value_template":"{{ value_json.door }}"`,
		"homeassistant/text/pi_1_shed_2-b/message/config":            `"availability_topic":"e2e/pi.1/status"`,
	}
	gatewaytest.Within(t, 30*time.Second, "the discovery configs and states", func() bool {
		msgs := sub.Messages()
		for topic := range configs {
			if countTopic(msgs, topic) == 0 {
				return false
			}
		}
		return mqtttest.HasMessage(msgs, "e2e/pi.1/kitchen/state", `{"temp":21.5,"hum":40}`) &&
			mqtttest.HasMessage(msgs, "e2e/pi.1/shed.2-b/state", `{"v":3.3,"door":"open"}`)
	})
	for topic, part := range configs {
		got := sub.Last(topic)
		if !strings.Contains(got, part) {
			t.Errorf("%s = %s\nwant it to hold %s", topic, got, part)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(got), &v); err != nil {
			t.Errorf("%s: %v", topic, err)
		}
	}
	if n := countTopic(sub.Messages(), "e2e/pi.1/kitchen/state"); n != 1 {
		t.Errorf("%d kitchen states; want 1: \"hello there\" is not a state line", n)
	}
	if !sub.Has("e2e/pi.1/kitchen/up", "hello there") || !sub.Has("e2e/pi.1/kitchen/up", "temp=21.5 hum=40") {
		t.Errorf("the raw lines did not reach up")
	}

	// Home Assistant restarts.
	before := countTopic(sub.Messages(), "homeassistant/sensor/pi_1_kitchen/temp/config")
	sub.Publish(t, "homeassistant/status", "online")
	gatewaytest.Within(t, 30*time.Second, "the re-announce", func() bool {
		msgs := sub.Messages()
		return countTopic(msgs, "homeassistant/sensor/pi_1_kitchen/temp/config") > before &&
			countTopic(msgs, "homeassistant/text/pi_1_shed_2-b/message/config") > 1 &&
			countTopic(msgs, "homeassistant/binary_sensor/pi_1/connected/config") > 1
	})

	// The text entity: Home Assistant publishes on the command topic.
	sub.Publish(t, "e2e/pi.1/kitchen/down", "hello board")
	if got := kitchen.read(); got != "!msg hello board" {
		t.Errorf("board got %q, want the message", got)
	}

	// Forget the shed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := control.NewClient(sock).Forget(ctx, "shed.2-b"); err != nil {
		t.Fatalf("forget: %v", err)
	}
	gatewaytest.Within(t, 30*time.Second, "the shed's configs emptied", func() bool {
		for topic := range configs {
			if strings.Contains(topic, "shed") && !sub.Has(topic, "") {
				return false
			}
		}
		return true
	})
	late := mqtttest.Subscribe(t, m.URL(), "homeassistant/#")
	gatewaytest.Within(t, 30*time.Second, "the kitchen's retained configs", func() bool {
		return countTopic(late.Messages(), "homeassistant/text/pi_1_kitchen/message/config") == 1
	})
	for _, msg := range late.Messages() {
		if strings.Contains(msg.Topic, "shed") {
			t.Errorf("%s still retained after forget", msg.Topic)
		}
	}
}
