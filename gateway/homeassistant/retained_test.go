package homeassistant

import (
	"strings"
	"testing"
)

func TestParseRetainedSensor(t *testing.T) {
	n := Names{DiscoveryPrefix: "ha", TopicPrefix: "t", GatewayID: "gw.1"}
	tests := []struct {
		topic, payload string
		board, key     string // "" for not ok
	}{
		{"ha/sensor/gw_1_shed_2/temp/config", `{"state_topic":"t/gw.1/shed.2/state"}`, "shed.2", "temp"},
		{"ha/sensor/gw_1_shed_2/temp/config", ``, "", ""},                                       // removed
		{"ha/sensor/gw_1_shed_2/temp/config", `{"state_topic":"t/other/shed.2/state"}`, "", ""}, // another gateway
		{"ha/sensor/zigbee_x/temp/config", `{"state_topic":"zigbee2mqtt/x"}`, "", ""},           // another integration
		{"ha/sensor/gw_1_shed_3/temp/config", `{"state_topic":"t/gw.1/shed.2/state"}`, "", ""},  // node of another board
		{"ha/sensor/gw_1_shed_2/Temp/config", `{"state_topic":"t/gw.1/shed.2/state"}`, "", ""},  // not a KEY
		{"ha/sensor/gw_1_a_b/k/config", `{"state_topic":"t/gw.1/a/b/state"}`, "", ""},           // a / in the board
		{"ha/sensor/gw_1_shed_2/temp/config", `not json`, "", ""},
		{"ha/sensor/gw_1_shed_2/temp/other", `{"state_topic":"t/gw.1/shed.2/state"}`, "", ""},
	}
	for _, tt := range tests {
		board, key, ok := parseRetainedSensor(n, tt.topic, []byte(tt.payload))
		if ok != (tt.board != "") || board != tt.board || key != tt.key {
			t.Errorf("parseRetainedSensor(%s, %s) = %q, %q, %v; want %q, %q", tt.topic, tt.payload, board, key, ok, tt.board, tt.key)
		}
	}
}

// FuzzParseRetainedSensor: whatever is retained on the broker, a board and
// key are learnt only when they name this gateway's own sensor config.
func FuzzParseRetainedSensor(f *testing.F) {
	f.Add("ha/sensor/gw_1_b/temp/config", []byte(`{"state_topic":"t/gw.1/b/state"}`))
	f.Add("ha/sensor/x/y/config", []byte(`{"state_topic":"t/gw.1//state"}`))
	n := Names{DiscoveryPrefix: "ha", TopicPrefix: "t", GatewayID: "gw.1"}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		board, key, ok := parseRetainedSensor(n, topic, payload)
		if !ok {
			return
		}
		levels := strings.Split(topic, "/")
		if board == "" || strings.Contains(board, "/") || !ValidKey(key) ||
			levels[len(levels)-3] != NodeID(n.GatewayID, board) || levels[len(levels)-2] != key {
			t.Fatalf("parseRetainedSensor(%q, %q) = %q, %q", topic, payload, board, key)
		}
	})
}
