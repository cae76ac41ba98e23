package main

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// TestMetrics scrapes /metrics after known traffic and checks the
// counters, and /healthz.
func TestMetrics(t *testing.T) {
	p := start(t, nil, "-config", writeConfig(t, `listen: "127.0.0.1:0"
limits:
  max_clients: 2
gpio:
  driver: sim
  leds:
    - {name: activity, pin: GPIO27, on: message, action: blink, duration: 1h}
metrics:
  listen: "127.0.0.1:0"
`))
	addr := p.addr()
	metricsAddr := p.waitLog(`msg="metrics listening" addr=(\S+)`)[1]

	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for i, msg := range []string{"one", "two", "three"} {
		if got := echo(t, addr, msg); got != msg {
			t.Fatalf("echo %q", got)
		}
		// Wait for the daemon to see it go, or the next is one too many.
		p.waitLog(`(?s)(msg="client disconnected".*){` + strconv.Itoa(i+1) + `}`)
	}
	// Two connected: a third is rejected under max_clients: 2.
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	p.waitLog(`clients=2`)
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	third.Close()
	p.waitLog(`reason=max_clients`)
	// A flood on one connection while the 1h blink is lit: all coalesced.
	for range 5 {
		io.WriteString(held, "x")
		held.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.ReadFull(held, make([]byte, 1))
	}

	body := get(t, "http://"+metricsAddr+"/metrics")
	for metric, want := range map[string]float64{
		`gatewayd_clients`:                                          2,
		`gatewayd_connections_accepted_total`:                       5,
		`gatewayd_connections_rejected_total{reason="max_clients"}`: 1,
		`gatewayd_connections_rejected_total{reason="not_allowed"}`: 0,
		`gatewayd_messages_total{direction="in"}`:                   8,
		`gatewayd_messages_total{direction="out"}`:                  8,
		`gatewayd_bytes_total{direction="in"}`:                      16,
		`gatewayd_bytes_total{direction="out"}`:                     16,
		`gatewayd_led_changes_total`:                                3, // off at claim, off as the worker starts, one blink on
		`gatewayd_led_events_coalesced_total`:                       6, // 8 messages: 1 shown, 1 waiting for the 1h blink to end, 6 folded
		`gatewayd_gpio_errors_total`:                                0,
		`gatewayd_up`:                                               1,
	} {
		if got := gatewaytest.MetricValue(t, body, metric); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
	if !regexp.MustCompile(`(?m)^gatewayd_build_info\{commit="[^"]+",goversion="go[^"]+",version="[^"]+"\} 1$`).MatchString(body) {
		t.Errorf("no build_info in:\n%s", body)
	}
	if got := get(t, "http://"+metricsAddr+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q, want ok", got)
	}
	held.Close()
	second.Close()
	p.stop()
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}
