package bridge

import (
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"
)

// brokers parses the test's broker URLs, which always carry a port, as
// configs would have.
func brokers(s ...string) []*url.URL {
	var out []*url.URL
	for _, x := range s {
		u, err := url.Parse(x)
		if err != nil {
			panic(err)
		}
		out = append(out, u)
	}
	return out
}

// The bridge takes configs' parsed brokers as they are: the address is
// the URL's host and port, mqtts gets TLS with the roots given, and a
// Config that could never work is refused with every reason at once.
func TestConfigChecks(t *testing.T) {
	roots := x509.NewCertPool()
	base := Config{Brokers: brokers("mqtt://broker.lan:1883"), GatewayID: "gw1", QueueDir: t.TempDir()}
	tests := []struct {
		name     string
		edit     func(*Config)
		wantErr  string // substring; empty = valid
		wantAddr string
		wantTLS  bool
	}{
		{"mqtt", func(*Config) {}, "", "broker.lan:1883", false},
		{"mqtts", func(c *Config) { c.Brokers = brokers("mqtts://broker.lan:8883"); c.RootCAs = roots }, "", "broker.lan:8883", true},
		{"IPv6", func(c *Config) { c.Brokers = brokers("mqtt://[::1]:1883") }, "", "[::1]:1883", false},
		{"no broker", func(c *Config) { c.Brokers = nil }, "bridge: no broker", "", false},
		{"not parsed by configs", func(c *Config) { c.Brokers = brokers("mqtt://broker.lan") }, "want a parsed mqtt://HOST:PORT", "", false},
		{"http scheme", func(c *Config) { c.Brokers = brokers("http://broker.lan:80") }, "want a parsed", "", false},
		{"no gateway ID", func(c *Config) { c.GatewayID = "" }, "bridge: no gateway ID", "", false},
		{"no queue dir", func(c *Config) { c.QueueDir = "" }, "queue directory not set", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			got, br, err := cfg.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v, want none", err)
			}
			if br[0].addr != tt.wantAddr {
				t.Errorf("addr = %q, want %q", br[0].addr, tt.wantAddr)
			}
			if (br[0].tls != nil) != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", br[0].tls != nil, tt.wantTLS)
			} else if tt.wantTLS && (br[0].tls.RootCAs != roots || br[0].tls.ServerName != "broker.lan") {
				t.Errorf("TLS roots or server name %q not those configured", br[0].tls.ServerName)
			}
			if got.TopicPrefix != DefaultTopicPrefix || got.MaxBackoff != 30*time.Second {
				t.Errorf("defaults: prefix %q, max backoff %v; want %q, 30s", got.TopicPrefix, got.MaxBackoff, DefaultTopicPrefix)
			}
		})
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, _, err := Config{Brokers: brokers("ftp://x:21")}.withDefaults()
	for _, want := range []string{"mqtts://HOST:PORT", "gateway ID", "queue directory"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
func TestBackoffCappedWithJitter(t *testing.T) {
	f := backoff(time.Second, 30*time.Second)
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 0, 0},
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{5, 8 * time.Second, 16 * time.Second},
		{6, 15 * time.Second, 30 * time.Second},
		{50, 15 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := f(tt.attempt)
			seen[d] = true
			if d < tt.min || d > tt.max {
				t.Fatalf("attempt %d: delay %v, want within [%v, %v]", tt.attempt, d, tt.min, tt.max)
			}
		}
		if tt.attempt > 0 && len(seen) < 2 {
			t.Errorf("attempt %d: always %v; want jitter", tt.attempt, f(tt.attempt))
		}
	}
}
