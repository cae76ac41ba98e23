package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is what the bridge needs, as plain values.
type Config struct {
	Broker        string   // mqtt://HOST[:1883] or mqtts://HOST[:8883]
	Brokers       []string // more brokers after Broker, tried in turn (failover)
	GatewayID     string   // G in the topics; empty = DefaultGatewayID
	TopicPrefix   string   // P in the topics; empty = "gatewayd"
	Username      string
	Password      string
	CAFile        string // PEM roots for mqtts; empty = the system roots
	QueueDir      string // where the spool lives; required
	QueueMaxBytes int64  // the spool's bound; 0 = 64 MiB
	MaxLineBytes  int    // longer lines are refused with too-large; 0 = 65536
	MachineIDFile string // for the default gateway ID; empty = /etc/machine-id

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

// broker is a parsed broker address.
type broker struct {
	url  *url.URL
	addr string // HOST:PORT, for logs and health
	tls  *tls.Config
}

// withDefaults fills in the defaults and checks cfg, reporting every
// problem at once.
func (cfg Config) withDefaults() (Config, []broker, error) {
	var errs []error
	if cfg.GatewayID == "" {
		id, err := DefaultGatewayID(cfg.MachineIDFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("bridge: gateway ID empty: %w", err))
		}
		cfg.GatewayID = id
	}
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	for _, v := range []struct{ name, val string }{{"gateway ID", cfg.GatewayID}, {"topic prefix", cfg.TopicPrefix}} {
		if strings.ContainsAny(v.val, "+#\x00") {
			errs = append(errs, fmt.Errorf("bridge: %s %q: must not contain +, # or NUL", v.name, v.val))
		}
	}
	if strings.Contains(cfg.GatewayID, "/") {
		errs = append(errs, fmt.Errorf("bridge: gateway ID %q: must not contain /", cfg.GatewayID))
	}
	if cfg.QueueDir == "" {
		errs = append(errs, errors.New("bridge: queue directory not set"))
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
	for _, raw := range append([]string{cfg.Broker}, cfg.Brokers...) {
		b, err := parseBroker(raw, cfg.CAFile)
		if err != nil {
			errs = append(errs, err)
		}
		brs = append(brs, b)
	}
	return cfg, brs, errors.Join(errs...)
}

// parseBroker checks a broker URL and builds its TLS settings.
func parseBroker(raw, caFile string) (broker, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return broker{}, fmt.Errorf("bridge: broker %q: want mqtt://HOST:PORT or mqtts://HOST:PORT", raw)
	}
	port := u.Port()
	var tc *tls.Config
	switch u.Scheme {
	case "mqtt":
		if port == "" {
			port = "1883"
		}
	case "mqtts":
		if port == "" {
			port = "8883"
		}
		tc = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return broker{}, fmt.Errorf("bridge: CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return broker{}, fmt.Errorf("bridge: CA file %q: no PEM certificate in it", caFile)
			}
			tc.RootCAs = pool
		}
	default:
		return broker{}, fmt.Errorf("bridge: broker %q: scheme %q: want mqtt or mqtts", raw, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return broker{}, fmt.Errorf("bridge: broker %q: a path is not allowed", raw)
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	dial := &url.URL{Scheme: u.Scheme, Host: addr}
	return broker{url: dial, addr: addr, tls: tc}, nil
}
