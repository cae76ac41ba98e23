package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigChecks(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o644)
	base := Config{Broker: "mqtt://broker.lan", GatewayID: "gw1", QueueDir: dir}
	tests := []struct {
		name     string
		edit     func(*Config)
		wantErr  string // substring; empty = valid
		wantAddr string
	}{
		{"default port", func(*Config) {}, "", "broker.lan:1883"},
		{"mqtts default port", func(c *Config) { c.Broker = "mqtts://broker.lan" }, "", "broker.lan:8883"},
		{"explicit port", func(c *Config) { c.Broker = "mqtt://10.0.0.5:11883" }, "", "10.0.0.5:11883"},
		{"IPv6", func(c *Config) { c.Broker = "mqtt://[::1]:1883" }, "", "[::1]:1883"},
		{"empty broker", func(c *Config) { c.Broker = "" }, `broker "": want mqtt://HOST:PORT`, ""},
		{"no scheme", func(c *Config) { c.Broker = "broker.lan:1883" }, `broker "broker.lan:1883"`, ""},
		{"http scheme", func(c *Config) { c.Broker = "http://broker.lan" }, `scheme "http": want mqtt or mqtts`, ""},
		{"path", func(c *Config) { c.Broker = "mqtt://broker.lan/x" }, "a path is not allowed", ""},
		{"missing CA file", func(c *Config) { c.Broker = "mqtts://b"; c.CAFile = filepath.Join(dir, "nope.pem") }, "bridge: CA file: open", ""},
		{"CA file not PEM", func(c *Config) { c.Broker = "mqtts://b"; c.CAFile = notPEM }, "no PEM certificate", ""},
		{"wildcard in prefix", func(c *Config) { c.TopicPrefix = "a/#" }, `topic prefix "a/#"`, ""},
		{"slash in gateway", func(c *Config) { c.GatewayID = "a/b" }, `gateway ID "a/b"`, ""},
		{"no queue dir", func(c *Config) { c.QueueDir = "" }, "queue directory not set", ""},
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
			if got.TopicPrefix != DefaultTopicPrefix || got.MaxBackoff != 30*time.Second {
				t.Errorf("defaults: prefix %q, max backoff %v; want %q, 30s", got.TopicPrefix, got.MaxBackoff, DefaultTopicPrefix)
			}
		})
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, _, err := Config{Broker: "ftp://x", GatewayID: "a+b"}.withDefaults()
	for _, want := range []string{"scheme", "gateway ID", "queue directory"} {
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
