package configs

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gpio"
)

// maxMessageBytesLimit bounds a set max_message_bytes: a line is held in
// memory until its LF arrives. 0 lifts the bound, for trusted clients only.
const maxMessageBytesLimit = 16 << 20

// validate checks every value and combination, returning every problem.
func (c *Config) validate(file string, lines map[string]int) Problems {
	v := &validator{file: file, lines: lines}

	if c.Listen == "" {
		v.add("listen", "must be HOST:PORT, such as \"127.0.0.1:65432\" or \":65432\"")
	} else if err := checkHostPort(c.Listen); err != nil {
		v.add("listen", "%v", err)
	}
	if _, err := parseFraming(c.Framing); err != nil {
		v.add("framing", "%v", err)
	}
	if c.MaxMessageBytes != 0 && (c.MaxMessageBytes < 2 || c.MaxMessageBytes > maxMessageBytesLimit) {
		v.add("max_message_bytes", "must be 0 (no limit) or between 2 and %d, got %d", maxMessageBytesLimit, c.MaxMessageBytes)
	}
	v.nonNegative("limits.max_clients", c.Limits.MaxClients)
	v.nonNegative("limits.max_clients_per_ip", c.Limits.MaxClientsPerIP)
	v.duration("limits.idle_timeout", c.Limits.IdleTimeout)
	v.duration("limits.write_timeout", c.Limits.WriteTimeout)
	v.duration("shutdown_timeout", c.ShutdownTimeout)
	for i, s := range c.Allow {
		if _, err := parsePrefix(s); err != nil {
			v.add(fmt.Sprintf("allow[%d]", i), "%v", err)
		}
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		v.add("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		v.add("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if _, err := gpio.ParseDriver(c.GPIO.Driver); err != nil {
		v.add("gpio.driver", "%v", err)
	}
	names, pins := map[string]int{}, map[string]int{}
	for i, l := range c.GPIO.LEDs {
		key := fmt.Sprintf("gpio.leds[%d]", i)
		if _, err := l.runtime(); err != nil {
			v.add(key+"."+fieldOf(err), "%v", err)
		}
		if j, dup := names[l.Name]; dup && l.Name != "" {
			v.add(key+".name", "%q is also the name of gpio.leds[%d]", l.Name, j)
		}
		names[l.Name] = i
		if j, dup := pins[l.Pin]; dup && l.Pin != "" {
			v.add(key+".pin", "%s is also driven by gpio.leds[%d]", l.Pin, j)
		}
		pins[l.Pin] = i
	}
	if c.Metrics.Listen != "" {
		if err := checkHostPort(c.Metrics.Listen); err != nil {
			v.add("metrics.listen", "%v", err)
		}
	}
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
	return v.problems
}

type validator struct {
	file     string
	lines    map[string]int
	problems Problems
}

func (v *validator) add(key, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.lineOf(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// lineOf finds the line of key, or of the nearest enclosing key written.
func (v *validator) lineOf(key string) int {
	for k := key; k != ""; {
		if line, ok := v.lines[k]; ok {
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

func (v *validator) nonNegative(key string, n int) {
	if n < 0 {
		v.add(key, "must be 0 (no limit) or more, got %d", n)
	}
}

func (v *validator) duration(key string, d Duration) {
	if d < 0 {
		v.add(key, "must not be negative, got %s", d)
	}
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

// Policy is the gateway policy the configuration describes.
func (c *Config) Policy() gateway.Policy {
	framing, _ := parseFraming(c.Framing)
	p := gateway.Policy{
		Framing:         framing,
		MaxMessageBytes: c.maxMessageBytes(),
		MaxClients:      c.Limits.MaxClients,
		MaxClientsPerIP: c.Limits.MaxClientsPerIP,
		IdleTimeout:     time.Duration(c.Limits.IdleTimeout),
		WriteTimeout:    time.Duration(c.Limits.WriteTimeout),
	}
	for _, s := range c.Allow {
		prefix, _ := parsePrefix(s)
		p.Allow = append(p.Allow, prefix)
	}
	return p
}

// maxMessageBytes maps the file's 0, "no limit", onto the gateway's.
func (c *Config) maxMessageBytes() int {
	if c.MaxMessageBytes == 0 {
		return gateway.NoLimit
	}
	return c.MaxMessageBytes
}

// LogLevel is the configured log level.
func (c *Config) LogLevel() slog.Level {
	l, _ := parseLevel(c.Log.Level)
	return l
}

// Driver is the configured GPIO driver.
func (c *Config) Driver() gpio.Driver {
	d, _ := gpio.ParseDriver(c.GPIO.Driver)
	return d
}

// LEDs is the configured LEDs as the gpio package takes them.
func (c *Config) LEDs() []gpio.LED {
	leds := make([]gpio.LED, 0, len(c.GPIO.LEDs))
	for _, l := range c.GPIO.LEDs {
		led, _ := l.runtime()
		leds = append(leds, led)
	}
	return leds
}

func (l LED) runtime() (gpio.LED, error) {
	led := gpio.LED{Name: l.Name, Pin: l.Pin, Duration: time.Duration(l.Duration), ActiveLow: l.ActiveLow}
	var err error
	if led.On, err = gpio.ParseEvent(l.On); err != nil {
		return led, err
	}
	if led.Action, err = gpio.ParseAction(l.Action); err != nil {
		return led, err
	}
	return led.WithDefaults(), led.Validate()
}

// fieldOf names the LED key a gpio error is about.
func fieldOf(err error) string {
	if fe, ok := err.(*gpio.FieldError); ok {
		return fe.Field
	}
	return "on"
}
