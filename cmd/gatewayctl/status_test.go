package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
)

// fixedStatus is a daemon's snapshot as GET /v1/status serves it.
var fixedStatus = control.Status{
	Version: "1.2.3", Commit: "abc1234", GoVersion: "go1.26.8", Healthy: true, Health: "ok", Alive: true,
	Clients: 3, Accepted: 120, Rejected: map[string]uint64{"max_clients": 4, "max_clients_per_ip": 0, "not_allowed": 1},
	MessagesIn: 1000, MessagesOut: 999, BytesIn: 64000, BytesOut: 63936,
	LEDChanges: 200, LEDCoalesced: 800, GPIOErrors: 2,
}

// fakeEndpoint serves body as GET /v1/status.
func fakeEndpoint(t *testing.T, body string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func statusJSON(t *testing.T, st control.Status) string {
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatusSummary(t *testing.T) {
	unhealthy := fixedStatus
	unhealthy.Healthy, unhealthy.Health = false, "bridge: broker unreachable: broker.lan:1883"
	unhealthy.MQTT = &control.MQTT{Broker: "broker.lan:1883", QueueMessages: 5, QueueBytes: 80}
	tests := []struct {
		name string
		st   control.Status
		exit int
		want []string
	}{
		{"healthy", fixedStatus, 0, []string{
			"gatewayd 1.2.3 (commit abc1234, go1.26.8) at ",
			"health       ok\n",
			"clients      3 connected\n",
			"connections  120 accepted, 5 rejected (max_clients 4, not_allowed 1)\n",
			"messages     1000 in, 999 out\n",
			"bytes        64000 in, 63936 out\n",
			"LEDs         200 changes, 800 events coalesced\n",
			"GPIO errors  2\n",
		}},
		{"unhealthy", unhealthy, 1, []string{
			"health       UNHEALTHY: bridge: broker unreachable: broker.lan:1883\n",
			"clients      3 connected\n",
			"broker       broker.lan:1883 UNREACHABLE, 5 queued (80 bytes)\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeEndpoint(t, statusJSON(t, tt.st))
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
		{"garbage status", fakeEndpoint(t, "{ nonsense"), []string{"/v1/status: not gatewayd's status"}},
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
