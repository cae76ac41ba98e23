package bridge

import (
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// mosquitto is a real broker the test runs on a loopback port of its own.
type mosquitto struct{ *gatewaytest.Mosquitto }

// startMosquitto starts mosquitto on a free port; see
// gatewaytest.StartMosquitto for persist.
func startMosquitto(t testing.TB, persist bool) *mosquitto {
	t.Helper()
	return &mosquitto{gatewaytest.StartMosquitto(t, persist)}
}

func (m *mosquitto) url() string { return m.URL() }
func (m *mosquitto) start()      { m.Start() }
func (m *mosquitto) stop()       { m.Stop() }

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

func waitWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startMosquittoB(b *testing.B) *mosquitto { return startMosquitto(b, false) }

func waitBriefly() { time.Sleep(10 * time.Millisecond) }
