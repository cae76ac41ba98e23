package configs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBrokerList(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"broker: mqtt://a", "mqtt://a:1883"},
		{"broker: [mqtt://a, mqtts://b]", "mqtt://a:1883 mqtts://b:8883"},
		{"broker:\n    - mqtt://a:1884\n    - mqtt://b", "mqtt://a:1884 mqtt://b:1883"},
	} {
		c, err := Parse("f.yaml", []byte("framing: line\nmqtt:\n  gateway_id: g\n  "+tt.yaml+"\n"))
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		m := c.Settings().MQTT
		got := ""
		for i, u := range m.Brokers {
			if i > 0 {
				got += " "
			}
			got += u.String()
		}
		if got != tt.want || m.Broker != m.Brokers[0] {
			t.Errorf("%q: brokers %q (first %v), want %q", tt.yaml, got, m.Broker, tt.want)
		}
	}
}

// On a host named like many others the default gateway ID carries the
// machine ID, so two Pis on default settings do not share an MQTT client
// ID; on a host with its own name it is the host name.
func TestGatewayIDDefaultOnGenericHostName(t *testing.T) {
	dir := t.TempDir()
	idFile := filepath.Join(dir, "machine-id")
	os.WriteFile(idFile, []byte("0a1b2c3d4e5f60718293a4b5c6d7e8f9\n"), 0o644)
	old := machineIDFile
	machineIDFile = idFile
	t.Cleanup(func() { machineIDFile = old })
	host, _ := os.Hostname()
	c, err := Parse("f.yaml", []byte("framing: line\nmqtt:\n  broker: mqtt://a\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := host
	switch host {
	case "raspberrypi", "localhost", "debian", "ubuntu", "dietpi":
		want = host + "-0a1b2c"
	}
	if got := c.Settings().MQTT.GatewayID; got != want {
		t.Errorf("gateway ID = %q, want %q", got, want)
	}
}
