package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// TestBridgeTwoGatewaysOneID: two gatewayd configured with one
// gateway_id, so one MQTT client ID, on one mosquitto for 10 s. Each is
// thrown off whenever the other connects; each backs off as from a broker
// that is down (at most 20 connections between them, where the bridge on
// paho.golang made thousands) and logs once what is going on, naming the
// client ID and the key to set.
func TestBridgeTwoGatewaysOneID(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 10 s")
	}
	m := gatewaytest.StartMosquitto(t, false)
	var ps []*proc
	for range 2 {
		ps = append(ps, start2(t, bridgeYAML(t, m.URL(), "raspberrypi", filepath.Join(t.TempDir(), "q"), "")))
	}
	time.Sleep(10 * time.Second)
	conns := strings.Count(m.Log(), "as gatewayd-raspberrypi")
	if conns > 20 {
		t.Errorf("%d connections in 10 s; want at most 20", conns)
	}
	for i, p := range ps {
		if n := p.countLog(`another client took over the MQTT session`); n != 1 {
			t.Errorf("gatewayd %d logged the takeover %d times, want once:\n%s", i, n, p.logs())
		}
		if !strings.Contains(p.logs(), "client_id=gatewayd-raspberrypi") {
			t.Errorf("gatewayd %d: the warning does not name the client ID:\n%s", i, p.logs())
		}
	}
	t.Logf("%d connections in 10 s", conns)
}
