package configs

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/gateway"
)

// FuzzParse: whatever the file holds, Parse does not panic, and either
// returns a configuration whose conversions hold or problems that each
// name the file, one per line of the error text.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML)
	f.Add([]byte(""))
	f.Add([]byte("# only a comment\n"))
	f.Add([]byte("listen: \"[::1]:0\"\nallow: [\"10.0.0.0/8\", \"::1\"]\nlimits: {max_clients: -1, idle_timeout: 30}\n"))
	f.Add([]byte("gpio:\n  leds:\n    - {name: a, pin: GPIO5, on: clients, action: blink, duration: 1us}\n    - {name: a, pin: GPIO5}\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\nlog: *x\n---\nc: d\n"))
	f.Add([]byte("limits:\n\tmax_clients: 3\n"))
	f.Add([]byte("framing: line\nmqtt: {broker: \"mqtt://b\", topic_prefix: a/b, queue_max_bytes: 1}\ntls: {handshake_timeout: 0}\nboards: {require_token: true}\n"))
	const file = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(file, data)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config with its error %v", err)
			}
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("Parse error %T %q, want Problems", err, err)
			}
			for _, p := range ps {
				if p.File != file || p.Line < 0 || p.Msg == "" {
					t.Errorf("problem %+v: want the file, a line and a message", p)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, file+":") {
					t.Errorf("error line %q does not start with the file name", line)
				}
			}
			return
		}
		if c.File != file {
			t.Errorf("File = %q, want %q", c.File, file)
		}
		// A configuration Parse accepts converts without surprises.
		p := c.Policy()
		for _, prefix := range p.Allow {
			if !prefix.IsValid() || prefix != prefix.Masked() {
				t.Errorf("Policy().Allow has %v", prefix)
			}
		}
		if p.MaxClients < 0 || p.MaxClientsPerIP < 0 || p.IdleTimeout < 0 || p.WriteTimeout < 0 {
			t.Errorf("Policy() = %+v: a negative limit", p)
		}
		for _, l := range c.LEDs() {
			if err := l.Validate(); err != nil || l.Duration <= 0 {
				t.Errorf("LEDs() has %+v: %v", l, err)
			}
		}
		if d := c.Driver().String(); d != c.GPIO.Driver {
			t.Errorf("Driver() = %s, want %s", d, c.GPIO.Driver)
		}
		if l := c.LogLevel().String(); !strings.EqualFold(l, c.Log.Level) {
			t.Errorf("LogLevel() = %s, want %s", l, c.Log.Level)
		}
		s := c.Settings()
		if s.MQTT.Broker != nil && (s.Policy.Framing != gateway.FramingLine || s.MQTT.Broker.Port() == "") {
			t.Errorf("accepted broker %v with framing %v", s.MQTT.Broker, s.Policy.Framing)
		}
		if s.MQTT.QueueMaxBytes <= 0 || s.TLS.HandshakeTimeout <= 0 || s.Policy.MaxMessageBytes < 0 {
			t.Errorf("Settings() = %+v: a bound that is not positive", s)
		}
	})
}
