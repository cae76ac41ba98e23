package configs

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gpio"
)

// Settings is what a configuration means at run time: plain values that
// the gateway, gpio and the Part 2 subsystems take, built once from the
// file and checked while they were built. A zero field means what the
// comment beside it in gatewayd.yaml says (off, never, or no limit).
type Settings struct {
	File            string // the path the configuration was read from
	Listen          string
	Policy          gateway.Policy
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	LogFormat       string // "text" or "json"
	Driver          gpio.Driver
	LEDs            []gpio.LED // never nil; WithDefaults applied
	MetricsListen   string     // empty: no metrics endpoint
	MetricsPerBoard bool
	Control         string // the control socket's path; empty: off
	Boards          BoardSettings
	MQTT            MQTTSettings
	TLS             TLSSettings
}

// BoardSettings is the boards: section, with the tokens file read.
type BoardSettings struct {
	RequireHello bool
	HelloTimeout time.Duration // 0: never
	TokensFile   string
	// Tokens maps a board ID to the token it must present; nil without a
	// tokens file. Never log its values.
	Tokens       map[string]string
	RequireToken bool
}

// MQTTSettings is the mqtt: section. With Broker nil there is no bridge,
// and the other fields are not used.
type MQTTSettings struct {
	// Broker is mqtt://HOST:PORT or mqtts://HOST:PORT, the port always
	// written (1883 or 8883 when the file left it out).
	Broker *url.URL
	// Brokers is every broker of the list, Broker first: the bridge uses
	// the first that answers and fails over to the next.
	Brokers      []*url.URL
	MaxLineBytes int    // a longer line is answered !err too-large
	GatewayID    string // the host name when the file leaves it empty
	TopicPrefix  string
	Username     string
	Password     string // read from password_file, its trailing newline cut
	CAFile       string
	// RootCAs holds ca_file's certificates; nil means the system roots.
	RootCAs       *x509.CertPool
	QueueDir      string
	QueueMaxBytes int64
	// QueueSync is "interval" (fsync the queue once a second) or
	// "commit" (a receipt from the queue waits for the fsync covering
	// its line).
	QueueSync string

	// HomeAssistant publishes Home Assistant's MQTT discovery configs
	// under DiscoveryPrefix (homeassistant.go).
	HomeAssistant   bool
	DiscoveryPrefix string
}

// TLSSettings is the tls: section. With Certificate nil the listener
// speaks plaintext.
type TLSSettings struct {
	CertFile     string
	KeyFile      string
	Certificate  *tls.Certificate // the pair loaded from CertFile and KeyFile
	ClientCAFile string
	// ClientCAs holds client_ca_file's certificates; nil: boards need no
	// certificate.
	ClientCAs        *x509.CertPool
	HandshakeTimeout time.Duration
}

// Settings is the runtime configuration. It is a copy: changing it
// changes neither c nor another caller's copy, but its slices, map and
// pointers are shared, so treat them as read-only.
func (c *Config) Settings() Settings { return c.settings }

// Policy is the gateway policy the configuration describes.
func (c *Config) Policy() gateway.Policy {
	p := c.settings.Policy
	p.Allow = slices.Clone(p.Allow)
	return p
}

// LogLevel is the configured log level.
func (c *Config) LogLevel() slog.Level { return c.settings.LogLevel }

// Driver is the configured GPIO driver.
func (c *Config) Driver() gpio.Driver { return c.settings.Driver }

// LEDs is the configured LEDs as the gpio package takes them.
func (c *Config) LEDs() []gpio.LED { return slices.Clone(c.settings.LEDs) }

// KeepGPIO gives c the gpio: section of old, both as written and as
// built: a reload whose new LEDs could not be applied keeps running the
// old ones, and c must say so.
func (c *Config) KeepGPIO(old *Config) {
	c.GPIO = old.GPIO
	c.settings.Driver, c.settings.LEDs = old.settings.Driver, old.settings.LEDs
}
