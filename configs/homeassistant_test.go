package configs

import (
	"strings"
	"testing"
)

func TestHomeAssistantKeys(t *testing.T) {
	c, err := Parse("f.yaml", []byte("framing: line\nmqtt:\n  broker: mqtt://b\n  homeassistant: true\n  discovery_prefix: ha/disc\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Settings().MQTT; !m.HomeAssistant || m.DiscoveryPrefix != "ha/disc" {
		t.Errorf("homeassistant, discovery_prefix = %v, %q; want true, ha/disc", m.HomeAssistant, m.DiscoveryPrefix)
	}
	for _, tt := range []struct{ yaml, want string }{
		{"mqtt:\n  discovery_prefix: \"\"\n", `f.yaml:2: mqtt.discovery_prefix: must not be empty`},
		{"mqtt:\n  discovery_prefix: ha/#\n", `f.yaml:2: mqtt.discovery_prefix: "ha/#": + and # are wildcards`},
		{"mqtt:\n  homeassistant: true\n", `f.yaml:2: mqtt.homeassistant: needs the MQTT bridge: set mqtt.broker`},
		{"mqtt:\n  homeassistant: yes\n", `f.yaml:2: mqtt.homeassistant: want true or false, got "yes"`},
	} {
		_, err := Parse("f.yaml", []byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v; want %q", tt.yaml, err, tt.want)
		}
	}
}
