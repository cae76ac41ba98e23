package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// Lines that mosquitto takes with no subscriber to give them to (PUBACK
// 0x10) are receipted, as the broker has them, and counted, with one
// warning a connection; once something subscribes they are counted no
// more.
func TestNoSubscribersCounted(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	var logs gatewaytest.Buffer
	b := openBridgeLogging(t, testConfig(t, m.URL()), nil, &logs)
	waitConnected(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send := func(line string) {
		t.Helper()
		if err := b.Send(ctx, "b0", []byte(line)); err != nil {
			t.Fatalf("Send(%q): %v", line, err)
		}
	}
	for _, line := range []string{"one", "two", "three"} {
		send(line)
	}
	if st := b.Stats(); st.Acked != 3 || st.NoSubscribers != 3 || st.Spooled != 0 {
		t.Errorf("Acked, NoSubscribers, Spooled = %d, %d, %d; want 3, 3, 0", st.Acked, st.NoSubscribers, st.Spooled)
	}
	if n := strings.Count(logs.String(), "delivered a line to no subscriber"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}

	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	send("four")
	gatewaytest.Within(t, brokerWait, "the line at the subscriber", func() bool { return sub.Has("t/gw1/b0/up", "four") })
	if st := b.Stats(); st.Acked != 4 || st.NoSubscribers != 3 {
		t.Errorf("with a subscriber: Acked, NoSubscribers = %d, %d; want 4, 3", st.Acked, st.NoSubscribers)
	}
}
