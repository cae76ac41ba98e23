package homeassistant

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The keys Home Assistant's MQTT integration requires and allows in a
// discovery config, copied by hand from home-assistant/core,
// homeassistant/components/mqtt/ (as stored for this project's reference):
//   - config.py @ a5c8209270205b905bb35a9082c39708b0d5f52f: SCHEMA_BASE,
//     MQTT_RO_SCHEMA (state_topic required), MQTT_RW_SCHEMA (command_topic
//     required);
//   - schemas.py @ c6ca7f5f416326437e8e652a5623aa5eff7b3d00:
//     MQTT_AVAILABILITY_SCHEMA, MQTT_ENTITY_DEVICE_INFO_SCHEMA (at least one
//     of identifiers, connections), MQTT_ORIGIN_INFO_SCHEMA (name required),
//     MQTT_ENTITY_COMMON_SCHEMA;
//   - sensor.py (the version importing .schemas and .entity, with
//     suggested_display_precision and options): _PLATFORM_SCHEMA_BASE;
//   - binary_sensor.py (the version importing .schemas and .entity):
//     PLATFORM_SCHEMA_MODERN;
//   - text.py @ 9acf305f9a616979c30115de819ffbadcd348748: _PLATFORM_SCHEMA_BASE
//     and valid_text_size_configuration (min <= max <= 255,
//     MAX_LENGTH_STATE_STATE);
//   - abbreviations.py @ 911803bfd294b1ba1f541af01f6d37666ae4e384: the
//     abbreviations discovery.py expands before validating;
//   - discovery.py @ bdc5ec6042ca8092f29b687456a50a159dbce8a7: TOPIC_MATCHER.
// DISCOVERY_SCHEMA is these with extra=vol.REMOVE_EXTRA: an unknown key is
// dropped silently, which is why this test fails on one, since a key Home
// Assistant drops is a setting the user would never get.

var (
	schemaBase   = []string{"qos", "encoding"}
	schemaRO     = []string{"state_topic", "value_template"}
	schemaRW     = []string{"command_topic", "optimistic", "retain", "state_topic"}
	availability = []string{"availability_topic", "availability_template", "payload_available",
		"payload_not_available", "availability_mode", "availability"}
	entityCommon = []string{"device", "origin", "enabled_by_default", "entity_category", "icon",
		"json_attributes_topic", "json_attributes_template", "object_id", "unique_id"}
	deviceKeys = []string{"identifiers", "connections", "manufacturer", "model", "model_id", "name",
		"hw_version", "serial_number", "sw_version", "via_device", "suggested_area", "configuration_url"}
	originKeys = []string{"name", "sw_version", "support_url"}

	platforms = map[string]struct{ required, allowed []string }{
		"sensor": {
			required: []string{"state_topic"},
			allowed: cat(schemaBase, schemaRO, availability, entityCommon, []string{"device_class", "expire_after",
				"force_update", "last_reset_value_template", "name", "options", "suggested_display_precision",
				"state_class", "unit_of_measurement"}),
		},
		"binary_sensor": {
			required: []string{"state_topic"},
			allowed: cat(schemaBase, schemaRO, availability, entityCommon, []string{"device_class", "expire_after",
				"force_update", "name", "off_delay", "payload_off", "payload_on"}),
		},
		"text": {
			required: []string{"command_topic"},
			allowed: cat(schemaBase, schemaRW, availability, entityCommon, []string{"command_template", "name",
				"max", "min", "mode", "pattern", "value_template"}),
		},
	}

	// Values checked beyond the keys: the device classes of
	// homeassistant/components/{sensor,binary_sensor}/const.py that we use,
	// with the units DEVICE_CLASS_UNITS accepts for each.
	sensorUnits = map[string][]string{
		"temperature":     {"°C", "°F", "K"},
		"humidity":        {"%"},
		"signal_strength": {"dB", "dBm"},
		"battery":         {"%"},
		"voltage":         {"V", "mV", "µV", "kV", "MV"},
	}
	stateClasses        = []string{"measurement", "total", "total_increasing"}
	binaryDeviceClasses = []string{"connectivity"}

	// TOPIC_MATCHER of discovery.py, with the discovery prefix cut off.
	topicMatcher = regexp.MustCompile(`^(\w+)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config$`)

	abbreviations       = map[string]string{"avty_t": "availability_topic", "cmd_t": "command_topic", "dev": "device", "dev_cla": "device_class", "stat_t": "state_topic", "stat_cla": "state_class", "uniq_id": "unique_id", "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template", "pl_on": "payload_on", "pl_off": "payload_off", "o": "origin"}
	deviceAbbreviations = map[string]string{"ids": "identifiers", "cns": "connections", "mf": "manufacturer", "mdl": "model", "sw": "sw_version", "hw": "hw_version", "sa": "suggested_area", "cu": "configuration_url"}
)

func cat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// checkConfig returns every way c breaks Home Assistant's schema.
func checkConfig(prefix string, c Config) []string {
	var bad []string
	rest, ok := strings.CutPrefix(c.Topic, prefix+"/")
	m := topicMatcher.FindStringSubmatch(rest)
	if !ok || m == nil {
		return []string{fmt.Sprintf("topic %q does not match TOPIC_MATCHER", c.Topic)}
	}
	p, ok := platforms[m[1]]
	if !ok {
		return []string{fmt.Sprintf("component %q is not one this test knows", m[1])}
	}
	var cfg map[string]any
	if err := json.Unmarshal(c.Payload, &cfg); err != nil {
		return []string{fmt.Sprintf("payload is not a JSON object: %v", err)}
	}
	for k, v := range cfg { // discovery.py expands abbreviations first
		if full, ok := abbreviations[k]; ok {
			delete(cfg, k)
			cfg[full] = v
		}
	}
	for _, k := range p.required {
		if s, _ := cfg[k].(string); s == "" {
			bad = append(bad, fmt.Sprintf("required %q missing or not a string", k))
		}
	}
	for k := range cfg {
		if !slices.Contains(p.allowed, k) {
			bad = append(bad, fmt.Sprintf("key %q is not in the schema", k))
		}
	}
	for _, k := range []string{"state_topic", "command_topic", "availability_topic"} {
		if s, ok := cfg[k].(string); ok && (s == "" || strings.ContainsAny(s, "+#\x00")) {
			bad = append(bad, fmt.Sprintf("%s %q is not a valid topic", k, s))
		}
	}
	if dev, ok := cfg["device"].(map[string]any); ok {
		for k, v := range dev {
			if full, ok := deviceAbbreviations[k]; ok {
				delete(dev, k)
				dev[full] = v
			}
		}
		for k, v := range dev {
			if !slices.Contains(deviceKeys, k) {
				bad = append(bad, fmt.Sprintf("device key %q is not in the schema", k))
			}
			if _, isList := v.([]any); !isList {
				if _, isString := v.(string); !isString {
					bad = append(bad, fmt.Sprintf("device %q is %T, want a string", k, v))
				}
			}
		}
		ids, _ := dev["identifiers"].([]any)
		cns, _ := dev["connections"].([]any)
		if len(ids) == 0 && len(cns) == 0 {
			bad = append(bad, "device has no identifiers or connections")
		}
	} else if cfg["device"] != nil {
		bad = append(bad, "device is not an object")
	}
	if o, ok := cfg["origin"].(map[string]any); ok {
		if s, _ := o["name"].(string); s == "" {
			bad = append(bad, "origin has no name")
		}
		for k := range o {
			if !slices.Contains(originKeys, k) {
				bad = append(bad, fmt.Sprintf("origin key %q is not in the schema", k))
			}
		}
	}
	switch m[1] {
	case "sensor":
		if dc, ok := cfg["device_class"].(string); ok {
			units, known := sensorUnits[dc]
			if u, _ := cfg["unit_of_measurement"].(string); !known || !slices.Contains(units, u) {
				bad = append(bad, fmt.Sprintf("device class %q with unit %q", dc, u))
			}
		}
		if sc, ok := cfg["state_class"]; ok && !slices.Contains(stateClasses, fmt.Sprint(sc)) {
			bad = append(bad, fmt.Sprintf("state_class %v", sc))
		}
	case "binary_sensor":
		if dc, ok := cfg["device_class"]; ok && !slices.Contains(binaryDeviceClasses, fmt.Sprint(dc)) {
			bad = append(bad, fmt.Sprintf("binary device class %v", dc))
		}
	case "text":
		maxLen, minLen := 255.0, 0.0
		if v, ok := cfg["max"].(float64); ok {
			maxLen = v
		}
		if v, ok := cfg["min"].(float64); ok {
			minLen = v
		}
		if minLen > maxLen || maxLen > 255 {
			bad = append(bad, fmt.Sprintf("text min %v max %v", minLen, maxLen))
		}
		if mode, ok := cfg["mode"]; ok && mode != "text" && mode != "password" {
			bad = append(bad, fmt.Sprintf("text mode %v", mode))
		}
	}
	sort.Strings(bad)
	return bad
}

var testNames = Names{DiscoveryPrefix: "homeassistant", TopicPrefix: "gatewayd", GatewayID: "pi-1", Version: "1.4.0"}

func TestConfigsMatchHomeAssistantSchema(t *testing.T) {
	boards := []Board{
		{ID: "kitchen", FW: "2.1", Keys: []string{"temp", "hum", "rssi", "battery", "v", "voltage", "temperature", "humidity", "door", "connected", "message"}},
		{ID: "shed.node-2"},
		{ID: "ip-192-168-1-7", Keys: []string{"count"}},
	}
	var all []Config
	all = append(all, testNames.GatewayConfigs()...)
	for _, b := range boards {
		all = append(all, testNames.BoardConfigs(b)...)
	}
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c.Topic] {
			t.Errorf("two configs on %s", c.Topic)
		}
		seen[c.Topic] = true
		for _, p := range checkConfig("homeassistant", c) {
			t.Errorf("%s: %s\n%s", c.Topic, p, c.Payload)
		}
	}
	if want := 1 + (1 + 11 + 1) + (1 + 0 + 1) + (1 + 1 + 1); len(all) != want {
		t.Errorf("%d configs; want %d", len(all), want)
	}
}

// TestCheckConfigFails keeps the schema check honest: configs that Home
// Assistant would refuse or strip are caught.
func TestCheckConfigFails(t *testing.T) {
	good := testNames.BoardConfigs(Board{ID: "b", Keys: []string{"temp"}})
	mutate := func(i int, f func(m map[string]any)) Config {
		var m map[string]any
		json.Unmarshal(good[i].Payload, &m)
		f(m)
		p, _ := json.Marshal(m)
		return Config{Topic: good[i].Topic, Payload: p}
	}
	bad := []Config{
		mutate(1, func(m map[string]any) { delete(m, "state_topic") }),
		mutate(1, func(m map[string]any) { m["unit"] = "C" }),
		mutate(1, func(m map[string]any) { m["unit_of_measurement"] = "%" }),
		mutate(0, func(m map[string]any) { m["device_class"] = "door_open" }),
		mutate(2, func(m map[string]any) { delete(m, "command_topic") }),
		mutate(2, func(m map[string]any) { m["max"] = 1000 }),
		mutate(2, func(m map[string]any) { m["device"] = map[string]any{"name": "x"} }),
		mutate(2, func(m map[string]any) { m["device"].(map[string]any)["via"] = "x" }),
		{Topic: "homeassistant/sensor/pi.1_b/temp/config", Payload: good[1].Payload},
	}
	for _, c := range bad {
		if len(checkConfig("homeassistant", c)) == 0 {
			t.Errorf("checkConfig passed a bad config: %s %s", c.Topic, c.Payload)
		}
	}
}

func TestBoardConfigs(t *testing.T) {
	cs := testNames.BoardConfigs(Board{ID: "kitchen.1", FW: "2.1", Keys: []string{"temp", "door"}})
	want := []string{
		"homeassistant/binary_sensor/pi-1_kitchen_1/connected/config",
		"homeassistant/sensor/pi-1_kitchen_1/temp/config",
		"homeassistant/sensor/pi-1_kitchen_1/door/config",
		"homeassistant/text/pi-1_kitchen_1/message/config",
	}
	var topics []string
	for _, c := range cs {
		topics = append(topics, c.Topic)
	}
	if !slices.Equal(topics, want) {
		t.Fatalf("topics = %q\nwant %q", topics, want)
	}
	payloads := []string{
		`{"availability_topic":"gatewayd/pi-1/status","device":{"identifiers":["pi-1_kitchen_1"],"name":"kitchen.1","sw_version":"2.1","via_device":"pi-1"},"device_class":"connectivity","name":"Connected","origin":{"name":"gatewayd","sw_version":"1.4.0"},"payload_off":"offline","payload_on":"online","state_topic":"gatewayd/pi-1/kitchen.1/status","unique_id":"pi-1_kitchen_1_connected"}`,
		`{"availability_topic":"gatewayd/pi-1/status","device":{"identifiers":["pi-1_kitchen_1"],"name":"kitchen.1","sw_version":"2.1","via_device":"pi-1"},"device_class":"temperature","name":"temp","origin":{"name":"gatewayd","sw_version":"1.4.0"},"state_class":"measurement","state_topic":"gatewayd/pi-1/kitchen.1/state","unique_id":"pi-1_kitchen_1_temp","unit_of_measurement":"°C","value_template":"{{ value_json.temp }}"}`,
		`{"availability_topic":"gatewayd/pi-1/status","device":{"identifiers":["pi-1_kitchen_1"],"name":"kitchen.1","sw_version":"2.1","via_device":"pi-1"},"name":"door","origin":{"name":"gatewayd","sw_version":"1.4.0"},"state_topic":"gatewayd/pi-1/kitchen.1/state","unique_id":"pi-1_kitchen_1_door","value_template":"{{ value_json.door }}"}`,
		`{"availability_topic":"gatewayd/pi-1/status","command_topic":"gatewayd/pi-1/kitchen.1/down","device":{"identifiers":["pi-1_kitchen_1"],"name":"kitchen.1","sw_version":"2.1","via_device":"pi-1"},"max":255,"mode":"text","name":"Message","origin":{"name":"gatewayd","sw_version":"1.4.0"},"unique_id":"pi-1_kitchen_1_message"}`,
	}
	for i, c := range cs {
		if string(c.Payload) != payloads[i] {
			t.Errorf("%s:\n got %s\nwant %s", c.Topic, c.Payload, payloads[i])
		}
	}
	gw := testNames.GatewayConfigs()
	if len(gw) != 1 || gw[0].Topic != "homeassistant/binary_sensor/pi-1/connected/config" {
		t.Fatalf("gateway configs = %v", gw)
	}
	if s := testNames.SensorConfig(Board{ID: "kitchen.1", FW: "2.1"}, "temp"); s.Topic != cs[1].Topic || string(s.Payload) != string(cs[1].Payload) {
		t.Errorf("SensorConfig(temp) = %s %s; want the sensor of BoardConfigs", s.Topic, s.Payload)
	}
}

func TestClassOf(t *testing.T) {
	for key, want := range map[string]Class{
		"temp": {"temperature", "°C"}, "temperature": {"temperature", "°C"},
		"hum": {"humidity", "%"}, "humidity": {"humidity", "%"},
		"rssi": {"signal_strength", "dBm"}, "battery": {"battery", "%"},
		"voltage": {"voltage", "V"}, "v": {"voltage", "V"},
		"door": {}, "temp2": {}, "count": {},
	} {
		if got := ClassOf(key); got != want {
			t.Errorf("ClassOf(%q) = %v; want %v", key, got, want)
		}
	}
}
