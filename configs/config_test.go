package configs

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gpio"
)

func TestDefaultIsValidAndMatchesTheFile(t *testing.T) {
	def := Default()
	want := &Config{
		Listen:          "127.0.0.1:65432",
		Framing:         "raw",
		MaxMessageBytes: 65536,
		Limits: Limits{
			MaxClients:   1024,
			IdleTimeout:  Duration(5 * time.Minute),
			WriteTimeout: Duration(10 * time.Second),
		},
		Allow:           []string{},
		ShutdownTimeout: Duration(10 * time.Second),
		Log:             Log{Level: "info", Format: "text"},
		GPIO: GPIO{Driver: "auto", LEDs: []LED{
			{Name: "connect", Pin: "GPIO17", On: "clients", Action: "level"},
			{Name: "activity", Pin: "GPIO27", On: "message", Action: "blink", Duration: Duration(50 * time.Millisecond)},
		}},
		Control: "/run/gatewayd/gatewayd.sock",
		Boards:  Boards{HelloTimeout: Duration(10 * time.Second)},
		MQTT:    MQTT{TopicPrefix: "gatewayd", QueueMaxBytes: 64 << 20, MaxLineBytes: 65536, QueueSync: "interval", DiscoveryPrefix: "homeassistant"},
		TLS:     TLS{HandshakeTimeout: Duration(10 * time.Second)},
		File:    DefaultName,
	}
	if got := asWritten(def); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() = %+v\nwant        %+v", got, want)
	}

	// The file users copy, read from disk, is the same configuration, and
	// so is any file that sets nothing.
	loaded, err := Load("gatewayd.yaml")
	if err != nil {
		t.Fatalf("Load(gatewayd.yaml): %v", err)
	}
	empties := map[string][]byte{
		"empty":         nil,
		"blank lines":   []byte("\n\n   \n"),
		"comments only": []byte("# nothing here\n\n  # indented comment\n"),
		"bare document": []byte("---\n"),
		"ended":         []byte("---\n...\n"),
		"the default":   DefaultYAML,
	}
	configs := map[string]*Config{"gatewayd.yaml": loaded}
	for name, data := range empties {
		c, err := Parse(name+".yaml", data)
		if err != nil {
			t.Errorf("Parse(%s): %v", name, err)
			continue
		}
		configs[name] = c
	}
	for name, c := range configs {
		got := *c
		got.File, got.settings.File = DefaultName, DefaultName
		if !reflect.DeepEqual(&got, def) {
			t.Errorf("%s: %+v\nwant the default %+v", name, got, *def)
		}
	}
	if loaded.File != "gatewayd.yaml" {
		t.Errorf("Load: File = %q, want the path", loaded.File)
	}
}

func TestOverridesKeepOtherDefaults(t *testing.T) {
	c, err := Parse("f.yaml", []byte("limits:\n  max_clients: 7\nlog:\n  level: debug\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxClients != 7 || c.Log.Level != "debug" {
		t.Errorf("overrides not applied: %+v", c)
	}
	if c.Limits.IdleTimeout != Duration(5*time.Minute) || c.Log.Format != "text" || len(c.GPIO.LEDs) != 2 {
		t.Errorf("defaults beside the overrides lost: %+v", c)
	}
	// A key with no value, or a section with nothing under it, keeps the
	// default; an empty list replaces it.
	c, err = Parse("f.yaml", []byte("listen:\nlimits:\ngpio:\n  leds: []\n  driver:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:65432" || c.Limits.MaxClients != 1024 || c.GPIO.Driver != "auto" {
		t.Errorf("empty values changed defaults: %+v", c)
	}
	if len(c.GPIO.LEDs) != 0 {
		t.Errorf("leds: [] kept %d LEDs, want none", len(c.GPIO.LEDs))
	}
	// A bare 0 is "never" for durations.
	c, err = Parse("f.yaml", []byte("limits:\n  idle_timeout: 0\n  write_timeout: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.IdleTimeout != 0 || c.Limits.WriteTimeout != 0 {
		t.Errorf("durations of 0 = %v, %v; want 0", c.Limits.IdleTimeout, c.Limits.WriteTimeout)
	}
}

func TestPolicy(t *testing.T) {
	yaml := `
framing: line
max_message_bytes: 1024
limits:
  max_clients: 10
  max_clients_per_ip: 2
  idle_timeout: 90s
  write_timeout: 250ms
allow:
  - 192.168.1.0/24
  - 10.1.2.3
  - "::1"
  - fd00::/8
  - 2001:db8::7
  - "::ffff:10.0.0.0/104"
`
	c, err := Parse("f.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := gateway.Policy{
		Framing:          gateway.FramingLine,
		MaxMessageBytes:  1024,
		MaxClients:       10,
		MaxClientsPerIP:  2,
		IdleTimeout:      90 * time.Second,
		WriteTimeout:     250 * time.Millisecond,
		HelloTimeout:     10 * time.Second, // boards.hello_timeout's default
		HandshakeTimeout: 10 * time.Second, // tls.handshake_timeout's default
		Allow: []netip.Prefix{
			netip.MustParsePrefix("192.168.1.0/24"),
			netip.MustParsePrefix("10.1.2.3/32"),
			netip.MustParsePrefix("::1/128"),
			netip.MustParsePrefix("fd00::/8"),
			netip.MustParsePrefix("2001:db8::7/128"),
			netip.MustParsePrefix("::ffff:10.0.0.0/104"),
		},
	}
	if got := c.Policy(); !reflect.DeepEqual(got, want) {
		t.Errorf("Policy() = %+v\nwant       %+v", got, want)
	}
	if got := Default().Policy(); got.Framing != gateway.FramingRaw || got.Allow != nil || got.MaxClients != 1024 {
		t.Errorf("default Policy() = %+v", got)
	}
}

func TestLogLevelAndDriver(t *testing.T) {
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	for name, want := range levels {
		c, err := Parse("f.yaml", []byte("log:\n  level: "+name+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.LogLevel(); got != want {
			t.Errorf("log.level %s: LogLevel() = %v, want %v", name, got, want)
		}
	}
	drivers := map[string]gpio.Driver{"auto": gpio.DriverAuto, "periph": gpio.DriverPeriph, "sim": gpio.DriverSim, "none": gpio.DriverNone}
	for name, want := range drivers {
		c, err := Parse("f.yaml", []byte("gpio:\n  driver: "+name+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Driver(); got != want {
			t.Errorf("gpio.driver %s: Driver() = %v, want %v", name, got, want)
		}
	}
}

func TestLEDs(t *testing.T) {
	yaml := `
gpio:
  leds:
    - {name: conn, pin: GPIO17, on: connect, action: toggle}
    - {name: gone, pin: GPIO18, on: disconnect, action: blink, duration: 20ms, active_low: true}
    - {name: act, pin: GPIO27, on: message, action: blink}
    - {name: up, pin: GPIO5, on: clients, action: level}
    - {name: hb, pin: GPIO22, on: heartbeat, action: blink}
    - {name: hb2, pin: GPIO23, on: heartbeat, action: blink, duration: 2s}
`
	c, err := Parse("f.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := []gpio.LED{
		{Name: "conn", Pin: "GPIO17", On: gpio.EventConnect, Action: gpio.ActionToggle, Duration: gpio.DefaultBlink},
		{Name: "gone", Pin: "GPIO18", On: gpio.EventDisconnect, Action: gpio.ActionBlink, Duration: 20 * time.Millisecond, ActiveLow: true},
		{Name: "act", Pin: "GPIO27", On: gpio.EventMessage, Action: gpio.ActionBlink, Duration: gpio.DefaultBlink},
		{Name: "up", Pin: "GPIO5", On: gpio.EventClients, Action: gpio.ActionLevel, Duration: gpio.DefaultBlink},
		{Name: "hb", Pin: "GPIO22", On: gpio.EventHeartbeat, Action: gpio.ActionBlink, Duration: gpio.DefaultHeartbeat},
		{Name: "hb2", Pin: "GPIO23", On: gpio.EventHeartbeat, Action: gpio.ActionBlink, Duration: 2 * time.Second},
	}
	if got := c.LEDs(); !slices.Equal(got, want) {
		t.Errorf("LEDs() =\n%+v\nwant\n%+v", got, want)
	}
	c, err = Parse("f.yaml", []byte("gpio:\n  leds:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LEDs(); got == nil || len(got) != 0 {
		t.Errorf("no LEDs: LEDs() = %#v, want empty", got)
	}
}

func TestLoadErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gatewayd.yaml")
	if err := os.WriteFile(path, []byte("listen: \"127.0.0.1:65432\"\nframing: lines\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + `:2: framing: must be raw or line, got "lines"`; err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %q", err, want)
	}
	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.HasPrefix(err.Error(), "config: open "+filepath.Join(dir, "missing.yaml")) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error naming the path", err)
	}
}

func TestMaxMessageBytesZeroMeansNoLimit(t *testing.T) {
	c, err := Parse("f.yaml", []byte("max_message_bytes: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Zero is "no limit" in the file and in gateway.Policy alike.
	if got := c.Policy().MaxMessageBytes; got != 0 {
		t.Errorf("Policy().MaxMessageBytes = %d, want 0 (no limit)", got)
	}
	if got := Default().Policy().MaxMessageBytes; got != 65536 {
		t.Errorf("default Policy().MaxMessageBytes = %d, want the file's 65536", got)
	}
}

// asWritten is c without what was built from it: the file as decoded.
func asWritten(c *Config) *Config {
	w := *c
	w.settings = Settings{}
	return &w
}
