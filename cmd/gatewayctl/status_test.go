package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

const fixedMetrics = `# HELP gatewayd_clients Clients connected now.
# TYPE gatewayd_clients gauge
gatewayd_clients 3
# TYPE gatewayd_connections_accepted_total counter
gatewayd_connections_accepted_total 120
# TYPE gatewayd_connections_rejected_total counter
gatewayd_connections_rejected_total{reason="max_clients"} 4
gatewayd_connections_rejected_total{reason="max_clients_per_ip"} 0
gatewayd_connections_rejected_total{reason="not_allowed"} 1
gatewayd_connections_rejected_total{reason="shutting_down"} 0
# TYPE gatewayd_messages_total counter
gatewayd_messages_total{direction="in"} 1000
gatewayd_messages_total{direction="out"} 999
# TYPE gatewayd_bytes_total counter
gatewayd_bytes_total{direction="in"} 64000
gatewayd_bytes_total{direction="out"} 63936
# TYPE gatewayd_led_changes_total counter
gatewayd_led_changes_total 200
# TYPE gatewayd_led_events_coalesced_total counter
gatewayd_led_events_coalesced_total 800
# TYPE gatewayd_gpio_errors_total counter
gatewayd_gpio_errors_total 2
# TYPE gatewayd_build_info gauge
gatewayd_build_info{commit="abc1234",goversion="go1.26.8",version="1.2.3"} 1
# TYPE gatewayd_up gauge
gatewayd_up 1
`

// fakeEndpoint serves /healthz with code and body, and /metrics with metrics.
func fakeEndpoint(t *testing.T, code int, body, metrics string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, metrics)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestStatusSummary(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		body    string
		metrics string
		exit    int
		want    []string
	}{
		{"healthy", 200, "ok\n", fixedMetrics, 0, []string{
			"gatewayd 1.2.3 (commit abc1234, go1.26.8) at ",
			"health       ok\n",
			"clients      3 connected\n",
			"connections  120 accepted, 5 rejected (max_clients 4, not_allowed 1)\n",
			"messages     1000 in, 999 out\n",
			"bytes        64000 in, 63936 out\n",
			"LEDs         200 changes, 800 events coalesced\n",
			"GPIO errors  2\n",
		}},
		{"unhealthy", 503, "accept loop stalled for 12s\n", strings.Replace(fixedMetrics, "gatewayd_up 1", "gatewayd_up 0", 1), 1, []string{
			"health       UNHEALTHY: accept loop stalled for 12s\n",
			"clients      3 connected\n",
		}},
		{"older daemon without some metrics", 200, "ok", "gatewayd_clients 7\n", 0, []string{
			"gatewayd at ",
			"clients      7 connected\n",
			"connections  n/a accepted, n/a rejected\n",
			"GPIO errors  n/a\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeEndpoint(t, tt.code, tt.body, tt.metrics)
			r := ctl(t, nil, "status", "-addr", addr)
			if r.code != tt.exit {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.exit, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout %q lacks %q", r.stdout, w)
				}
			}
		})
	}
}

func TestStatusFailures(t *testing.T) {
	notGatewayd := httptest.NewServer(http.NotFoundHandler())
	defer notGatewayd.Close()
	tests := []struct {
		name string
		addr string
		want []string
	}{
		{"nothing listening", closedAddr(t), []string{"cannot reach the status endpoint at 127.0.0.1:", "connection refused", "is metrics.listen set in the config?"}},
		{"another HTTP server", strings.TrimPrefix(notGatewayd.URL, "http://"), []string{"answered 404 Not Found", "is this gatewayd's metrics endpoint?"}},
		{"garbage metrics", fakeEndpoint(t, 200, "ok", "gatewayd_clients{ nonsense\n"), []string{"/metrics:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ctl(t, nil, "status", "-addr", tt.addr)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			oneLine(t, "stderr", r.stderr, tt.want...)
		})
	}
}

// The real daemon's endpoint, after known traffic.
func TestStatusAgainstGatewayd(t *testing.T) {
	p, echoAddr := startGatewayd(t, "metrics: {listen: \"127.0.0.1:0\"}\n")
	m := metricsRe.FindStringSubmatch(p.logText())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", p.logText())
	}
	if r := ctl(t, nil, "send", "-addr", echoAddr, "Hello", "How are you?", "Goodbye"); r.code != 0 {
		t.Fatalf("send: exit %d, stderr %q", r.code, r.stderr)
	}
	// The daemon counts an echo as out just after writing it: poll briefly.
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^health +ok$`),
		regexp.MustCompile(`(?m)^clients +0 connected$`),
		regexp.MustCompile(`(?m)^connections +1 accepted, 0 rejected$`),
		regexp.MustCompile(`(?m)^messages +3 in, 3 out$`),
		regexp.MustCompile(`(?m)^bytes +24 in, 24 out$`),
	}
	var r result
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r = ctl(t, nil, "status", "-addr", m[1])
		missing := 0
		for _, re := range want {
			if !re.MatchString(r.stdout) {
				missing++
			}
		}
		if missing == 0 && r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status: exit %d, stdout %q, stderr %q; want it to match %v", r.code, r.stdout, r.stderr, want)
		}
	}
	if !strings.HasPrefix(r.stdout, "gatewayd dev (commit unknown, go") {
		t.Errorf("status header %q, want the daemon's version", strings.SplitN(r.stdout, "\n", 2)[0])
	}
}
