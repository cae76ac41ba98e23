package gatewaytest

import (
	"testing"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// TestMosquittoPersistKeepsSessions: with persist, a subscriber's session
// outlives a restart, so a message published while the subscriber is
// away, after the restart, is queued for it and handed to it when it
// resumes. The end-to-end tests of the bridge rely on this to see every
// line the broker accepted. The subscriber is mqtttest's, as in those
// tests: MQTT 3.1.1 with clean_session false from its first connection
// (mosquitto 2.0 saves no session that began clean).
func TestMosquittoPersistKeepsSessions(t *testing.T) {
	m := StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "t/#")
	sub.Close()
	m.Stop()
	m.Start()

	// A publisher of its own on the same test client: a subscriber to a
	// filter no publish matches, which only publishes.
	pub := mqtttest.Subscribe(t, m.URL(), "none/#")
	pub.Publish(t, "t/x", "while away")

	back := sub.Resume(t)
	if !back.SessionPresent() {
		t.Errorf("CONNACK session present = false after a restart, want true: the subscriber's session was not kept")
	}
	Eventually(t, "the resumed subscriber to get the message published while it was away", func() bool {
		return back.Has("t/x", "while away")
	})
}
