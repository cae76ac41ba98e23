package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config is what the bridge needs, as plain values already parsed and
// checked: package configs is the one place that reads the mqtt: section
// (broker URLs, the default gateway ID, the CA file) and names the file,
// line and key of a mistake. The bridge only refuses a Config that could
// never work.
type Config struct {
	// Brokers are tried in turn (failover), the first first: each
	// mqtt://HOST:PORT or mqtts://HOST:PORT, the port written.
	Brokers     []*url.URL
	GatewayID   string // G in the topics; required (see DefaultGatewayID)
	TopicPrefix string // P in the topics; empty = "gatewayd"
	Username    string
	Password    string
	// RootCAs are the roots an mqtts broker's certificate must chain
	// to; nil = the system roots.
	RootCAs       *x509.CertPool
	QueueDir      string // where the spool lives; required
	QueueMaxBytes int64  // the spool's bound; 0 = 64 MiB
	MaxLineBytes  int    // longer lines are refused with too-large; 0 = 65536

	// Tuning; the zero value of each is the default named.
	AckTimeout   time.Duration // wait this long for a PUBACK before spooling (5s)
	SyncInterval time.Duration // spool fsync interval (1s)
	// SyncOnCommit makes a receipt from the spool wait for the fsync
	// that covers its line (group commit); false: fsync every SyncInterval.
	SyncOnCommit bool
	MinBackoff   time.Duration // first reconnect delay (1s)
	MaxBackoff   time.Duration // cap on the reconnect delay (30s)
	KeepAlive    uint16        // MQTT keepalive in seconds (30)
}

// Default topic prefix and tuning values.
const (
	DefaultTopicPrefix = "gatewayd"
	defaultAckTimeout  = 5 * time.Second
	defaultMinBackoff  = time.Second
	defaultMaxBackoff  = 30 * time.Second
	defaultKeepAlive   = 30
	// DefaultMaxLineBytes is mqtt.max_line_bytes' default.
	DefaultMaxLineBytes = 65536
)

// broker is a broker's address as the bridge dials it.
type broker struct {
	addr string // HOST:PORT, for logs and health
	tls  *tls.Config
}

// withDefaults fills in the defaults and refuses a Config that could
// never work, reporting every problem at once.
func (cfg Config) withDefaults() (Config, []broker, error) {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("bridge: no broker"))
	}
	if cfg.GatewayID == "" {
		errs = append(errs, errors.New("bridge: no gateway ID"))
	}
	if cfg.QueueDir == "" {
		errs = append(errs, errors.New("bridge: queue directory not set"))
	}
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = defaultAckTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = defaultKeepAlive
	}
	var brs []broker
	for _, u := range cfg.Brokers {
		b, err := brokerOf(u, cfg.RootCAs)
		if err != nil {
			errs = append(errs, err)
		}
		brs = append(brs, b)
	}
	return cfg, brs, errors.Join(errs...)
}

// brokerOf is how the bridge dials u: its address, and for mqtts the
// TLS settings.
func brokerOf(u *url.URL, roots *x509.CertPool) (broker, error) {
	if u == nil || u.Port() == "" || (u.Scheme != "mqtt" && u.Scheme != "mqtts") {
		return broker{}, fmt.Errorf("bridge: broker %v: want a parsed mqtt://HOST:PORT or mqtts://HOST:PORT", u)
	}
	b := broker{addr: u.Host}
	if u.Scheme == "mqtts" {
		b.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12, RootCAs: roots}
	}
	return b, nil
}
