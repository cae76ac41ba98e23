package configs

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is gatewayd.yaml as written, with the runtime values it means.
// Load it with Load or Parse, which build both in one pass and report
// every problem; read the runtime values with Settings. The exported
// fields are the file as written, for messages that quote it.
type Config struct {
	Listen          string   `yaml:"listen"`
	Framing         string   `yaml:"framing"`
	MaxMessageBytes int      `yaml:"max_message_bytes"`
	Limits          Limits   `yaml:"limits"`
	Allow           []string `yaml:"allow"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	Log             Log      `yaml:"log"`
	GPIO            GPIO     `yaml:"gpio"`
	Metrics         Metrics  `yaml:"metrics"`
	Control         string   `yaml:"control"`
	Boards          Boards   `yaml:"boards"`
	MQTT            MQTT     `yaml:"mqtt"`
	TLS             TLS      `yaml:"tls"`

	// File is the path the configuration was read from.
	File string `yaml:"-"`

	settings Settings
}

type Limits struct {
	MaxClients      int      `yaml:"max_clients"`
	MaxClientsPerIP int      `yaml:"max_clients_per_ip"`
	IdleTimeout     Duration `yaml:"idle_timeout"`
	WriteTimeout    Duration `yaml:"write_timeout"`
}

type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type GPIO struct {
	Driver string `yaml:"driver"`
	LEDs   []LED  `yaml:"leds"`
}

type LED struct {
	Name      string   `yaml:"name"`
	Pin       string   `yaml:"pin"`
	On        string   `yaml:"on"`
	Action    string   `yaml:"action"`
	Duration  Duration `yaml:"duration"`
	ActiveLow bool     `yaml:"active_low"`
}

type Metrics struct {
	Listen   string `yaml:"listen"`
	PerBoard bool   `yaml:"per_board"`
}

type Boards struct {
	RequireHello bool     `yaml:"require_hello"`
	HelloTimeout Duration `yaml:"hello_timeout"`
	TokensFile   string   `yaml:"tokens_file"`
	RequireToken bool     `yaml:"require_token"`
}

type MQTT struct {
	Broker        Brokers `yaml:"broker"`
	MaxLineBytes  int     `yaml:"max_line_bytes"`
	GatewayID     string  `yaml:"gateway_id"`
	TopicPrefix   string  `yaml:"topic_prefix"`
	Username      string  `yaml:"username"`
	PasswordFile  string  `yaml:"password_file"`
	CAFile        string  `yaml:"ca_file"`
	QueueDir      string  `yaml:"queue_dir"`
	QueueMaxBytes int     `yaml:"queue_max_bytes"`
	QueueSync     string  `yaml:"queue_sync"`

	HomeAssistant   bool   `yaml:"homeassistant"`
	DiscoveryPrefix string `yaml:"discovery_prefix"`
}

type TLS struct {
	CertFile         string   `yaml:"cert_file"`
	KeyFile          string   `yaml:"key_file"`
	ClientCAFile     string   `yaml:"client_ca_file"`
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
}

// Duration is a time.Duration written as a string such as "250ms" or
// "5m"; a bare 0 is accepted too, for "never".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as \"30s\"")
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		if n.Value == "0" {
			*d = 0
			return nil
		}
		return fmt.Errorf("%s has no unit: write a duration such as \"%ss\" or \"%sms\"", n.Value, n.Value, n.Value)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"250ms\", \"30s\" or \"5m\"", n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }
