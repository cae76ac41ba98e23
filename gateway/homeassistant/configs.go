package homeassistant

import (
	"encoding/json"
	"slices"
)

// Names says where things are on the broker and who publishes them.
type Names struct {
	DiscoveryPrefix string // DISCOVERY, e.g. "homeassistant"
	TopicPrefix     string // P
	GatewayID       string // G
	Version         string // gatewayd's version, the gateway device's sw_version
}

// Board is what discovery knows of one board.
type Board struct {
	ID   string   // B
	FW   string   // its hello's fw=, "" if it gave none
	Keys []string // the KEYs it has sent, in the order first seen
}

// Config is one retained discovery message.
type Config struct {
	Topic   string
	Payload []byte
}

// Objects of a board, the OBJECT part of their discovery topics. A sensor
// takes its KEY as object; a board that sends connected=1 gets a sensor
// "connected" beside the binary sensor "connected", kept apart by their
// components (sensor/, binary_sensor/) in topic and unique ID alike.
const (
	objectConnected = "connected"
	objectMessage   = "message"
)

// topic is P/G/leaf, or P/G/B/leaf.
func (n Names) topic(board, leaf string) string {
	if board == "" {
		return n.TopicPrefix + "/" + n.GatewayID + "/" + leaf
	}
	return n.TopicPrefix + "/" + n.GatewayID + "/" + board + "/" + leaf
}

func (n Names) configTopic(component, node, object string) string {
	return n.DiscoveryPrefix + "/" + component + "/" + node + "/" + object + "/config"
}

// StatusTopic is DISCOVERY/status, where Home Assistant says "online"
// when it (re)starts.
func (n Names) StatusTopic() string { return n.DiscoveryPrefix + "/status" }

// StateTopic is P/G/B/state.
func (n Names) StateTopic(board string) string { return n.topic(board, "state") }

func (n Names) origin() map[string]any {
	o := map[string]any{"name": "gatewayd"}
	if n.Version != "" {
		o["sw_version"] = n.Version
	}
	return o
}

// GatewayConfigs are the configs of the gateway's own device: one
// connectivity binary sensor from P/G/status. It has no availability
// topic, being the availability of everything else: it shows the gateway
// off rather than unavailable.
func (n Names) GatewayConfigs() []Config {
	node := NodeID(n.GatewayID, "")
	device := map[string]any{
		"identifiers":  []string{node},
		"name":         n.GatewayID,
		"manufacturer": "gatewayd",
		"model":        "gateway",
	}
	if n.Version != "" {
		device["sw_version"] = n.Version
	}
	return []Config{n.config("binary_sensor", node, objectConnected, map[string]any{
		"name":         "Connected",
		"unique_id":    node + "_" + objectConnected,
		"device_class": "connectivity",
		"state_topic":  n.topic("", "status"),
		"payload_on":   "online",
		"payload_off":  "offline",
		"device":       device,
		"origin":       n.origin(),
	})}
}

// BoardConfigs builds every discovery config of b: the connectivity binary
// sensor, a sensor per key and the message text entity, all on one device
// via the gateway's.
func (n Names) BoardConfigs(b Board) []Config {
	node := NodeID(n.GatewayID, b.ID)
	device := map[string]any{
		"identifiers": []string{node},
		"name":        b.ID,
		"via_device":  NodeID(n.GatewayID, ""),
	}
	if b.FW != "" {
		device["sw_version"] = b.FW
	}
	common := func(name, object string, m map[string]any) map[string]any {
		m["name"] = name
		m["unique_id"] = node + "_" + object
		m["availability_topic"] = n.topic("", "status")
		m["device"] = device
		m["origin"] = n.origin()
		return m
	}
	out := []Config{n.config("binary_sensor", node, objectConnected, common("Connected", objectConnected, map[string]any{
		"device_class": "connectivity",
		"state_topic":  n.topic(b.ID, "status"),
		"payload_on":   "online",
		"payload_off":  "offline",
	}))}
	for _, key := range b.Keys {
		m := map[string]any{
			"state_topic":    n.StateTopic(b.ID),
			"value_template": "{{ value_json." + key + " }}",
		}
		if c := ClassOf(key); c.DeviceClass != "" {
			m["device_class"] = c.DeviceClass
			m["unit_of_measurement"] = c.Unit
			m["state_class"] = "measurement"
		}
		out = append(out, n.config("sensor", node, key, common(key, key, m)))
	}
	out = append(out, n.config("text", node, objectMessage, common("Message", objectMessage, map[string]any{
		"command_topic": n.topic(b.ID, "down"),
		// A downlink is one line to the board; Home Assistant's own
		// bound on a text state is 255.
		"max":  255,
		"mode": "text",
	})))
	return out
}

// SensorConfig is the config of b's sensor for key alone, for a key seen
// for the first time.
func (n Names) SensorConfig(b Board, key string) Config {
	b.Keys = []string{key}
	return n.BoardConfigs(b)[1]
}

// BoardTopics lists the config topics of b, for removing them with empty
// retained messages.
func (n Names) BoardTopics(b Board) []string {
	var out []string
	for _, c := range n.BoardConfigs(b) {
		out = append(out, c.Topic)
	}
	return out
}

func (n Names) config(component, node, object string, m map[string]any) Config {
	payload, err := json.Marshal(m) // maps of strings, ints and slices
	if err != nil {
		panic(err)
	}
	return Config{Topic: n.configTopic(component, node, object), Payload: payload}
}

// AddKeys returns keys with those of pairs not yet in it appended, and
// whether any was new.
func AddKeys(keys []string, pairs []Pair) ([]string, bool) {
	added := false
	for _, p := range pairs {
		if !slices.Contains(keys, p.Key) {
			keys = append(keys, p.Key)
			added = true
		}
	}
	return keys, added
}
