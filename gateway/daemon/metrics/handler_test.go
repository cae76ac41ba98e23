package metrics

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

func scrape(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

func TestHandler(t *testing.T) {
	st := control.Status{
		Version: "1.2.3", Commit: "abc", GoVersion: "go1.99",
		Healthy: true, Health: "ok", Alive: true,
		Clients: 2, Accepted: 5, MessagesIn: 9, MessagesOut: 8, BytesIn: 17, BytesOut: 16,
		Rejected:   map[string]uint64{gateway.RejectMaxClients.String(): 1},
		LEDChanges: 3, LEDCoalesced: 6, GPIOErrors: 1,
	}
	h := Handler(Source{Status: func() control.Status { return st }}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	code, body := scrape(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for metric, want := range map[string]float64{
		`gatewayd_clients`:                                          2,
		`gatewayd_connections_accepted_total`:                       5,
		`gatewayd_connections_rejected_total{reason="max_clients"}`: 1,
		`gatewayd_connections_rejected_total{reason="not_allowed"}`: 0,
		`gatewayd_messages_total{direction="in"}`:                   9,
		`gatewayd_messages_total{direction="out"}`:                  8,
		`gatewayd_bytes_total{direction="in"}`:                      17,
		`gatewayd_bytes_total{direction="out"}`:                     16,
		`gatewayd_led_changes_total`:                                3,
		`gatewayd_led_events_coalesced_total`:                       6,
		`gatewayd_gpio_errors_total`:                                1,
		`gatewayd_up`:                                               1,
	} {
		if got := gatewaytest.MetricValue(t, body, metric); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
	if !regexp.MustCompile(`(?m)^gatewayd_build_info\{commit="abc",goversion="go[^"]+",version="1\.2\.3"\} 1$`).MatchString(body) {
		t.Errorf("no build_info in:\n%s", body)
	}
	if code, body := scrape(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}

	st.Healthy, st.Alive, st.Health = false, false, "gpio: LED worker stopped"
	if _, body := scrape(t, h, "/metrics"); gatewaytest.MetricValue(t, body, "gatewayd_up") != 0 {
		t.Errorf("gatewayd_up = 1 while unhealthy")
	}
	if code, body := scrape(t, h, "/healthz"); code != http.StatusServiceUnavailable || body != "gpio: LED worker stopped\n" {
		t.Errorf("/healthz = %d %q, want 503 naming the problem", code, body)
	}
}

func TestHandlerBridge(t *testing.T) {
	b := &control.MQTT{Broker: "broker.lan:1883", Connected: true, QueueMessages: 4, QueueBytes: 80,
		Published: 10, Acknowledged: 9, DeadLetters: 6, Spooled: 5, Redelivered: 1, DownlinkDelivered: 3, DownlinkDropped: 2,
		QueueCorruptRecords: 7, QueueFsyncErrors: 8, QueueNoSpaceErrors: 11}
	st := control.Status{Healthy: true, Health: "ok", Alive: true}
	src := Source{Status: func() control.Status { return st }}
	if _, body := scrape(t, Handler(src, slog.New(slog.NewTextHandler(io.Discard, nil))), "/metrics"); strings.Contains(body, "gatewayd_mqtt_") {
		t.Errorf("gatewayd_mqtt_ series without a bridge:\n%s", body)
	}
	st.MQTT = b
	h := Handler(src, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, body := scrape(t, h, "/metrics")
	for metric, want := range map[string]float64{
		`gatewayd_mqtt_connected{broker="broker.lan:1883"}`:  1,
		`gatewayd_mqtt_queue_messages`:                       4,
		`gatewayd_mqtt_queue_bytes`:                          80,
		`gatewayd_mqtt_published_total`:                      10,
		`gatewayd_mqtt_acknowledged_total`:                   9,
		`gatewayd_mqtt_dead_letters_total`:                   6,
		`gatewayd_mqtt_queued_total`:                         5,
		`gatewayd_mqtt_redelivered_total`:                    1,
		`gatewayd_mqtt_downlinks_total{result="delivered"}`:  3,
		`gatewayd_mqtt_downlinks_total{result="dropped"}`:    2,
		`gatewayd_mqtt_queue_corrupt_records_total`:          7,
		`gatewayd_mqtt_queue_errors_total{error="fsync"}`:    8,
		`gatewayd_mqtt_queue_errors_total{error="no-space"}`: 11,
	} {
		if got := gatewaytest.MetricValue(t, body, metric); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
	if code, body := scrape(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	// The daemon's snapshot says the broker is the unhealthy part.
	b.Connected = false
	st.Healthy, st.Health = false, "bridge: broker unreachable: broker.lan:1883; queue: no space left on device"
	if code, body := scrape(t, h, "/healthz"); code != http.StatusServiceUnavailable || body != "bridge: broker unreachable: broker.lan:1883; queue: no space left on device\n" {
		t.Errorf("/healthz = %d %q, want 503 naming the broker and the queue", code, body)
	}
	st.Healthy, st.Health = false, "bridge: broker unreachable: broker.lan:1883"
	if code, body := scrape(t, h, "/healthz"); code != http.StatusServiceUnavailable || body != "bridge: broker unreachable: broker.lan:1883\n" {
		t.Errorf("/healthz = %d %q, want 503 naming the broker", code, body)
	}
	if _, body := scrape(t, h, "/metrics"); gatewaytest.MetricValue(t, body, "gatewayd_up") != 1 {
		t.Errorf("gatewayd_up = 0 while only the broker is down")
	}
}

// Per-board series appear only with metrics.per_board, one set a
// connected board.
func TestPerBoardSeries(t *testing.T) {
	boards := []gateway.BoardInfo{
		{ID: "kitchen-1", TLS: true, MessagesIn: 7, MessagesOut: 9, BytesIn: 70, BytesOut: 90, LastSeen: time.Unix(1700000000, 0)},
		{ID: "attic", MessagesIn: 1},
	}
	src := Source{Status: func() control.Status { return control.Status{Healthy: true, Health: "ok", Alive: true} }}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	if _, body := scrape(t, Handler(src, quiet), "/metrics"); strings.Contains(body, "gatewayd_board_") {
		t.Errorf("per-board series without per_board:\n%s", body)
	}
	src.Boards = func() []gateway.BoardInfo { return boards }
	_, body := scrape(t, Handler(src, quiet), "/metrics")
	for metric, want := range map[string]float64{
		`gatewayd_board_messages_total{board="kitchen-1",direction="in"}`:  7,
		`gatewayd_board_messages_total{board="kitchen-1",direction="out"}`: 9,
		`gatewayd_board_bytes_total{board="kitchen-1",direction="out"}`:    90,
		`gatewayd_board_last_seen_timestamp_seconds{board="kitchen-1"}`:    1700000000,
		`gatewayd_board_tls{board="kitchen-1"}`:                            1,
		`gatewayd_board_messages_total{board="attic",direction="in"}`:      1,
		`gatewayd_board_tls{board="attic"}`:                                0,
	} {
		if got := gatewaytest.MetricValue(t, body, metric); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
	if strings.Contains(body, `gatewayd_board_last_seen_timestamp_seconds{board="attic"}`) {
		t.Errorf("a board that sent nothing has a last-seen time:\n%s", body)
	}
}

// GET /v1/status is the snapshot itself, as the control socket serves it.
func TestStatusJSON(t *testing.T) {
	st := control.Status{Version: "1.2.3", Healthy: false, Health: "bridge: broker unreachable: b:1883", Alive: true, Clients: 3,
		MQTT: &control.MQTT{Broker: "b:1883", QueueMessages: 7}}
	h := Handler(Source{Status: func() control.Status { return st }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	code, body := scrape(t, h, "/v1/status")
	if code != http.StatusOK {
		t.Fatalf("/v1/status: %d", code)
	}
	var got control.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Health != st.Health || got.Healthy || got.Clients != 3 || got.MQTT == nil || got.MQTT.QueueMessages != 7 {
		t.Errorf("/v1/status = %+v, want %+v", got, st)
	}
}
