package configs

import (
	"errors"
	"strings"
	"testing"
)

// led is a valid LED item for gpio.leds, starting at its own line, to
// which a test adds or changes keys.
const led = "    - name: a\n      pin: GPIO5\n      on: message\n      action: blink\n"

// TestProblems checks each class of mistake: every problem is reported,
// in file order, each as FILE:LINE: KEY: message.
func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each problem: its exact "FILE:LINE: KEY: " start, then a part of the message
	}{
		// Unknown keys, with a suggestion when one is close.
		{"unknown top-level key", "lisen: \"127.0.0.1:1\"\n", []string{
			`f.yaml:1: lisen: unknown key (did you mean "listen"?)`}},
		{"unknown nested key", "limits:\n  max_client: 3\n", []string{
			`f.yaml:2: limits.max_client: unknown key (did you mean "max_clients"?)`}},
		{"unknown LED key", "gpio:\n  leds:\n" + led + "      activelow: true\n", []string{
			`f.yaml:7: gpio.leds[0].activelow: unknown key (did you mean "active_low"?)`}},
		{"unknown key, nothing close", "colour: red\n", []string{
			`f.yaml:1: colour: unknown key`}},
		{"key given twice", "listen: \"127.0.0.1:1\"\nlisten: \"127.0.0.1:2\"\n", []string{
			`f.yaml:2: listen: key given twice`}},

		// Wrong types.
		{"string for int", "max_message_bytes: lots\n", []string{
			`f.yaml:1: max_message_bytes: want a whole number, got "lots"`}},
		{"float for int", "limits:\n  max_clients: 1.5\n", []string{
			`f.yaml:2: limits.max_clients: want a whole number, got "1.5"`}},
		{"int too big", "limits:\n  max_clients: 99999999999999999999\n", []string{
			`f.yaml:2: limits.max_clients: want a whole number, got "99999999999999999999"`}},
		{"int out of range", "max_message_bytes: 9223372036854775808\n", []string{
			`f.yaml:1: max_message_bytes: "9223372036854775808" is out of range`}},
		{"int for string", "listen: 65432\n", []string{
			`f.yaml:1: listen: want a string, got "65432" (quote it)`}},
		{"bool for string", "framing: true\n", []string{
			`f.yaml:1: framing: want a string, got "true" (quote it)`}},
		{"mapping for scalar", "framing: {a: b}\n", []string{
			`f.yaml:1: framing: want a string, got a mapping`}},
		{"list for scalar", "log:\n  level: [debug]\n", []string{
			`f.yaml:2: log.level: want a string, got a list`}},
		{"list for mapping", "limits: [1, 2]\n", []string{
			`f.yaml:1: limits: want a mapping of keys, got a list`}},
		{"scalar for mapping", "gpio: sim\n", []string{
			`f.yaml:1: gpio: want a mapping of keys, got "sim"`}},
		{"scalar for list", "allow: 10.0.0.0/8\n", []string{
			`f.yaml:1: allow: want a list, got "10.0.0.0/8"`}},
		{"not a bool", "gpio:\n  leds:\n" + led + "      active_low: yes\n", []string{
			`f.yaml:7: gpio.leds[0].active_low: want true or false, got "yes"`}},
		{"int for bool", "gpio:\n  leds:\n" + led + "      active_low: 1\n", []string{
			`f.yaml:7: gpio.leds[0].active_low: want true or false, got "1"`}},
		{"number for LED name", "gpio:\n  leds:\n    - name: 5\n      pin: GPIO5\n      on: message\n      action: blink\n", []string{
			`f.yaml:3: gpio.leds[0].name: want a string, got "5" (quote it)`}},
		{"not a mapping at all", "- listen\n- framing\n", []string{
			`f.yaml:1: want a mapping of keys, got a list`}},

		// Durations.
		{"bad unit", "limits:\n  idle_timeout: 5x\n", []string{
			`f.yaml:2: limits.idle_timeout: "5x" is not a duration such as "250ms", "30s" or "5m"`}},
		{"no unit", "shutdown_timeout: 30\n", []string{
			`f.yaml:1: shutdown_timeout: 30 has no unit: write a duration such as "30s" or "30ms"`}},
		{"no unit, quoted", "shutdown_timeout: \"30\"\n", []string{
			`f.yaml:1: shutdown_timeout: "30" is not a duration`}},
		{"no unit, float", "shutdown_timeout: 1.5\n", []string{
			`f.yaml:1: shutdown_timeout: 1.5 has no unit`}},
		{"negative", "limits:\n  write_timeout: -5s\n", []string{
			`f.yaml:2: limits.write_timeout: must not be negative, got -5s`}},
		{"list for duration", "shutdown_timeout: [1s]\n", []string{
			`f.yaml:1: shutdown_timeout: want a duration such as "30s"`}},
		{"LED duration", "gpio:\n  leds:\n" + led + "      duration: 100us\n", []string{
			`f.yaml:7: gpio.leds[0].duration: must be at least 1ms, got 100µs`}},
		{"negative LED duration", "gpio:\n  leds:\n" + led + "      duration: -1s\n", []string{
			`f.yaml:7: gpio.leds[0].duration: must not be negative`}},

		// allow.
		{"bad CIDRs", "allow: [\"10.0.0.0/33\", bogus, 10.0.0.1/8, \"fd00::1/8\"]\n", []string{
			`f.yaml:1: allow[0]: "10.0.0.0/33" is not a CIDR such as "192.168.1.0/24" or "fd00::/8"`,
			`f.yaml:1: allow[1]: "bogus" is not a CIDR`,
			`f.yaml:1: allow[2]: "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?`,
			`f.yaml:1: allow[3]: "fd00::1/8" has host bits set; did you mean fd00::/8?`}},
		{"bad CIDR in a block list", "allow:\n  - 10.0.0.0/8\n  - 300.1.1.1\n", []string{
			`f.yaml:3: allow[1]: "300.1.1.1" is not a CIDR`}},

		// Addresses.
		{"listen without port", "listen: localhost\n", []string{
			`f.yaml:1: listen: "localhost" is not HOST:PORT`}},
		{"listen empty", "listen: \"\"\n", []string{
			`f.yaml:1: listen: must be HOST:PORT, such as "127.0.0.1:65432" or ":65432"`}},
		{"port too big", "listen: \"127.0.0.1:65536\"\n", []string{
			`f.yaml:1: listen: "127.0.0.1:65536": port must be a number from 0 to 65535`}},
		{"port negative", "listen: \"127.0.0.1:-1\"\n", []string{
			`f.yaml:1: listen: "127.0.0.1:-1": port must be a number from 0 to 65535`}},
		{"port name", "listen: \":http\"\n", []string{
			`f.yaml:1: listen: ":http": port must be a number from 0 to 65535`}},
		{"host name", "listen: \"example.com:80\"\n", []string{
			`f.yaml:1: listen: "example.com:80": host must be an IP address, localhost or empty for every address`}},
		{"IPv6 unbracketed", "listen: \"::1:80\"\n", []string{
			`f.yaml:1: listen: "::1:80" is not HOST:PORT`}},
		{"metrics port", "metrics:\n  listen: \":99999\"\n", []string{
			`f.yaml:2: metrics.listen: ":99999": port must be a number from 0 to 65535`}},

		// Numbers out of range.
		{"max_message_bytes too small", "max_message_bytes: 1\n", []string{
			`f.yaml:1: max_message_bytes: must be 0 (no limit) or between 2 and 16777216, got 1`}},
		{"max_message_bytes too big", "max_message_bytes: 16777217\n", []string{
			`f.yaml:1: max_message_bytes: must be 0 (no limit) or between 2 and 16777216, got 16777217`}},
		{"negative limits", "limits:\n  max_clients: -1\n  max_clients_per_ip: -2\n", []string{
			`f.yaml:2: limits.max_clients: must be 0 (no limit) or more, got -1`,
			`f.yaml:3: limits.max_clients_per_ip: must be 0 (no limit) or more, got -2`}},

		// Enumerations.
		{"framing", "framing: lines\n", []string{
			`f.yaml:1: framing: must be raw or line, got "lines"`}},
		{"log", "log:\n  level: verbose\n  format: xml\n", []string{
			`f.yaml:2: log.level: must be debug, info, warn or error, got "verbose"`,
			`f.yaml:3: log.format: must be text or json, got "xml"`}},
		{"gpio driver", "gpio:\n  driver: gpiod\n", []string{
			`f.yaml:2: gpio.driver: must be auto, periph, sim or none, got "gpiod"`}},

		// LEDs.
		{"LED on", "gpio:\n  leds:\n    - name: a\n      pin: GPIO5\n      on: click\n      action: blink\n", []string{
			`f.yaml:5: gpio.leds[0].on: must be connect, disconnect, message, clients or heartbeat, got "click"`}},
		{"LED action", "gpio:\n  leds:\n    - name: a\n      pin: GPIO5\n      on: message\n      action: flash\n", []string{
			`f.yaml:6: gpio.leds[0].action: must be blink, toggle or level, got "flash"`}},
		{"LED without action", "gpio:\n  leds:\n    - name: a\n      pin: GPIO5\n      on: message\n", []string{
			`f.yaml:3: gpio.leds[0].action: must be blink, toggle or level, got ""`}},
		{"LED without name", "gpio:\n  leds:\n    - pin: GPIO5\n      on: message\n      action: blink\n", []string{
			`f.yaml:3: gpio.leds[0].name: must not be empty`}},
		{"LED without pin", "gpio:\n  leds:\n    - name: a\n      on: message\n      action: blink\n", []string{
			`f.yaml:3: gpio.leds[0].pin: must name a GPIO line, such as GPIO17`}},
		{"clients without level", "gpio:\n  leds:\n    - name: a\n      pin: GPIO5\n      on: clients\n      action: blink\n", []string{
			`f.yaml:6: gpio.leds[0].action: on: clients takes action: level, got blink`}},
		{"level without clients", "gpio:\n  leds:\n    - name: a\n      pin: GPIO5\n      on: connect\n      action: level\n", []string{
			`f.yaml:6: gpio.leds[0].action: action: level goes only with on: clients, not on: connect`}},
		{"heartbeat toggle", "gpio:\n  leds:\n    - name: a\n      pin: GPIO5\n      on: heartbeat\n      action: toggle\n", []string{
			`f.yaml:6: gpio.leds[0].action: on: heartbeat takes action: blink, got toggle`}},
		{"duplicate names and pins", "gpio:\n  leds:\n" +
			"    - {name: a, pin: GPIO5, on: message, action: blink}\n" +
			"    - {name: b, pin: GPIO5, on: connect, action: blink}\n" +
			"    - {name: a, pin: GPIO6, on: disconnect, action: blink}\n", []string{
			`f.yaml:4: gpio.leds[1].pin: GPIO5 is also driven by gpio.leds[0]`,
			`f.yaml:5: gpio.leds[2].name: "a" is also the name of gpio.leds[0]`}},
		{"LEDs not a list", "gpio:\n  leds:\n    name: a\n", []string{
			`f.yaml:3: gpio.leds: want a list, got a mapping`}},

		// YAML syntax, with the line yaml.v3 names.
		{"bad indentation", "listen: \"127.0.0.1:1\"\n framing: raw\n", []string{
			`f.yaml:2: invalid YAML: did not find expected key`}},
		{"tab indentation", "limits:\n\tmax_clients: 3\n", []string{
			`f.yaml:2: invalid YAML: found character that cannot start any token`}},
		{"unclosed list", "framing: raw\nallow: [10.0.0.0/8\n", []string{
			`f.yaml:2: invalid YAML: did not find expected ',' or ']'`}},
		{"dedented key", "framing: raw\nlimits:\n  max_clients: 3\n bad: 1\n", []string{
			`f.yaml:4: invalid YAML: did not find expected key`}},
		{"over-indented key", "framing: raw\nlimits:\n  max_clients: 3\n    bad: 1\n", []string{
			`f.yaml:4: invalid YAML: mapping values are not allowed in this context`}},
		{"unclosed quote", "framing: raw\nlog:\n  level: \"info\n", []string{
			`f.yaml:3: invalid YAML: found unexpected end of stream`}},
		{"undefined tag handle", "framing: raw\nlisten: !foo!bar x\n", []string{
			`f.yaml:2: invalid YAML: found undefined tag handle`}},
		{"unknown anchor", "framing: raw\nmetrics: *y\n", []string{
			`f.yaml: invalid YAML: unknown anchor 'y' referenced`}},
		{"second document", "framing: raw\n---\nframing: line\n", []string{
			`f.yaml:2: a second YAML document (after ---): the configuration is one document`}},

		// Several mistakes in one file, all reported in file order.
		{"several at once", `listen: "127.0.0.1:99999"
framing: raw
max_message_bytes: 1
limits:
  max_clients: many
  idle_timeout: 5x
  sizes: 3
allow:
  - 10.0.0.1/8
log:
  level: loud
gpio:
  driver: real
  leds:
    - name: a
      pin: GPIO5
      on: clients
      action: blink
    - name: a
      pin: GPIO5
      on: message
      action: blink
`, []string{
			`f.yaml:1: listen: "127.0.0.1:99999": port must be a number`,
			`f.yaml:3: max_message_bytes: must be 0 (no limit) or between 2 and 16777216, got 1`,
			`f.yaml:5: limits.max_clients: want a whole number, got "many"`,
			`f.yaml:6: limits.idle_timeout: "5x" is not a duration`,
			`f.yaml:7: limits.sizes: unknown key`,
			`f.yaml:9: allow[0]: "10.0.0.1/8" has host bits set`,
			`f.yaml:11: log.level: must be debug, info, warn or error, got "loud"`,
			`f.yaml:13: gpio.driver: must be auto, periph, sim or none, got "real"`,
			`f.yaml:18: gpio.leds[0].action: on: clients takes action: level, got blink`,
			`f.yaml:19: gpio.leds[1].name: "a" is also the name of gpio.leds[0]`,
			`f.yaml:20: gpio.leds[1].pin: GPIO5 is also driven by gpio.leds[0]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\ngot %+v", tt.yaml, c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with its error")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T, want Problems", err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) || len(ps) != len(tt.want) {
				t.Fatalf("got %d problems:\n%s\nwant %d:\n%s", len(ps), err, len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, got[i], want)
				}
				if ps[i].File != "f.yaml" || ps[i].String() != got[i] {
					t.Errorf("problem %d: %+v does not match its line %q", i, ps[i], got[i])
				}
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f.yaml", Line: 3, Key: "limits.max_clients", Msg: "bad"}, "f.yaml:3: limits.max_clients: bad"},
		{Problem{File: "f.yaml", Key: "listen", Msg: "bad"}, "f.yaml: listen: bad"},
		{Problem{File: "f.yaml", Line: 2, Msg: "invalid YAML: x"}, "f.yaml:2: invalid YAML: x"},
		{Problem{File: "f.yaml", Msg: "invalid YAML: x"}, "f.yaml: invalid YAML: x"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}
