package configs

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gpio"
)

// maxMessageBytesLimit bounds a set max_message_bytes: a line is held in
// memory until its LF arrives. 0 lifts the bound, for trusted clients only.
const maxMessageBytesLimit = 16 << 20

// maxSocketPath is the longest path a Unix socket address holds on Linux
// (sun_path is 108 bytes, NUL included).
const maxSocketPath = 107

// builder turns the decoded file into Settings, converting each value
// once and recording a problem, at the key's line, for each that fails.
type builder struct {
	file  string
	lines map[string]int
	ps    *problemList
}

func (b *builder) add(key, format string, args ...any) {
	b.ps.add(Problem{File: b.file, Line: b.lineOf(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// lineOf finds the line of key, or of the nearest enclosing key written.
func (b *builder) lineOf(key string) int {
	for k := key; k != ""; {
		if line, ok := b.lines[k]; ok {
			return line
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// build converts every value of c into Settings; what it returns is
// meaningful only when no problem was added.
func (c *Config) build(b *builder) Settings {
	s := Settings{
		File:            c.File,
		Listen:          c.Listen,
		ShutdownTimeout: b.duration("shutdown_timeout", c.ShutdownTimeout),
		LogFormat:       c.Log.Format,
		MetricsListen:   c.Metrics.Listen,
		MetricsPerBoard: c.Metrics.PerBoard,
		Control:         c.Control,
	}
	if c.Listen == "" {
		b.add("listen", "must be HOST:PORT, such as \"127.0.0.1:65432\" or \":65432\"")
	} else if err := checkHostPort(c.Listen); err != nil {
		b.add("listen", "%v", err)
	}
	s.Policy = c.policy(b)
	var err error
	if s.LogLevel, err = parseLevel(c.Log.Level); err != nil {
		b.add("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		b.add("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if s.Driver, err = gpio.ParseDriver(c.GPIO.Driver); err != nil {
		b.add("gpio.driver", "%v", err)
	}
	s.LEDs = c.leds(b)
	if c.Metrics.Listen != "" {
		if err := checkHostPort(c.Metrics.Listen); err != nil {
			b.add("metrics.listen", "%v", err)
		}
	}
	if len(c.Control) > maxSocketPath {
		b.add("control", "%q is %d bytes; a Unix socket's path holds at most %d", c.Control, len(c.Control), maxSocketPath)
	}
	s.Boards = c.boards(b)
	s.Policy.RequireHello = s.Boards.RequireHello
	s.Policy.HelloTimeout = s.Boards.HelloTimeout
	s.Policy.Tokens = s.Boards.Tokens
	s.Policy.RequireToken = s.Boards.RequireToken
	s.MQTT = c.mqtt(b, s.Policy.Framing)
	s.MQTT.HomeAssistant, s.MQTT.DiscoveryPrefix = c.homeAssistant(b)
	s.TLS = c.tls(b)
	s.Policy.HandshakeTimeout = s.TLS.HandshakeTimeout
	return s
}

func (c *Config) policy(b *builder) gateway.Policy {
	p := gateway.Policy{
		MaxMessageBytes: c.MaxMessageBytes, // 0 is "no limit" in both
		MaxClients:      b.nonNegative("limits.max_clients", c.Limits.MaxClients),
		MaxClientsPerIP: b.nonNegative("limits.max_clients_per_ip", c.Limits.MaxClientsPerIP),
		IdleTimeout:     b.duration("limits.idle_timeout", c.Limits.IdleTimeout),
		WriteTimeout:    b.duration("limits.write_timeout", c.Limits.WriteTimeout),
	}
	var err error
	if p.Framing, err = parseFraming(c.Framing); err != nil {
		b.add("framing", "%v", err)
	}
	if c.MaxMessageBytes != 0 && (c.MaxMessageBytes < 2 || c.MaxMessageBytes > maxMessageBytesLimit) {
		b.add("max_message_bytes", "must be 0 (no limit) or between 2 and %d, got %d", maxMessageBytesLimit, c.MaxMessageBytes)
	}
	for i, s := range c.Allow {
		prefix, err := parsePrefix(s)
		if err != nil {
			b.add(fmt.Sprintf("allow[%d]", i), "%v", err)
			continue
		}
		p.Allow = append(p.Allow, prefix)
	}
	return p
}

// leds converts gpio.leds, reporting every problem of every LED.
func (c *Config) leds(b *builder) []gpio.LED {
	leds := make([]gpio.LED, 0, len(c.GPIO.LEDs))
	names, pins := map[string]int{}, map[string]int{}
	for i, l := range c.GPIO.LEDs {
		key := fmt.Sprintf("gpio.leds[%d]", i)
		led := gpio.LED{Name: l.Name, Pin: l.Pin, Duration: time.Duration(l.Duration), ActiveLow: l.ActiveLow}
		if l.Name == "" {
			b.add(key+".name", "must not be empty")
		} else if j, dup := names[l.Name]; dup {
			b.add(key+".name", "%q is also the name of gpio.leds[%d]", l.Name, j)
		} else {
			names[l.Name] = i
		}
		if l.Pin == "" {
			b.add(key+".pin", "must name a GPIO line, such as GPIO17")
		} else if j, dup := pins[l.Pin]; dup {
			b.add(key+".pin", "%s is also driven by gpio.leds[%d]", l.Pin, j)
		} else {
			pins[l.Pin] = i
		}
		on, onErr := gpio.ParseEvent(l.On)
		if onErr != nil {
			b.add(key+".on", "%v", onErr)
		}
		action, actionErr := gpio.ParseAction(l.Action)
		if actionErr != nil {
			b.add(key+".action", "%v", actionErr)
		}
		if onErr == nil && actionErr == nil {
			if msg := actionMismatch(on, action); msg != "" {
				b.add(key+".action", "%s", msg)
			}
		}
		switch d := led.Duration; {
		case d < 0:
			b.add(key+".duration", "must not be negative")
		case d > 0 && d < gpio.MinDuration:
			b.add(key+".duration", "must be at least %v, got %v", gpio.MinDuration, d)
		}
		led.On, led.Action = on, action
		leds = append(leds, led.WithDefaults())
	}
	return leds
}

// actionMismatch says, in the file's words, why action cannot show on,
// or returns "" when it can.
func actionMismatch(on gpio.Event, action gpio.Action) string {
	takes := on.Actions()
	switch {
	case slices.Contains(takes, action):
		return ""
	case len(takes) == 1:
		return fmt.Sprintf("on: %s takes action: %s, got %s", on, takes[0], action)
	}
	var events []string
	for e := gpio.EventConnect; e <= gpio.EventHeartbeat; e++ {
		if slices.Contains(e.Actions(), action) {
			events = append(events, e.String())
		}
	}
	return fmt.Sprintf("action: %s goes only with on: %s, not on: %s", action, strings.Join(events, " or "), on)
}

func (b *builder) nonNegative(key string, n int) int {
	if n < 0 {
		b.add(key, "must be 0 (no limit) or more, got %d", n)
	}
	return n
}

func (b *builder) duration(key string, d Duration) time.Duration {
	if d < 0 {
		b.add(key, "must not be negative, got %s", d)
	}
	return time.Duration(d)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", s)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q: host must be an IP address, localhost or empty for every address", s)
		}
	}
	return nil
}

func parseFraming(s string) (gateway.Framing, error) {
	switch s {
	case "raw":
		return gateway.FramingRaw, nil
	case "line":
		return gateway.FramingLine, nil
	}
	return 0, fmt.Errorf("must be raw or line, got %q", s)
}

// parsePrefix accepts a CIDR or a bare address, which means that host.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", s, p.Masked())
		}
		return p, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as \"192.168.1.0/24\" or \"fd00::/8\"", s)
}

func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be debug, info, warn or error, got %q", s)
}
