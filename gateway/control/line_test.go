package control

import "testing"

func TestLine(t *testing.T) {
	tests := []struct {
		st   Status
		want string
	}{
		{Status{Healthy: true, Health: "ok"}, "0 clients, 0 messages"},
		{Status{Healthy: true, Health: "ok", Clients: 1, MessagesOut: 1}, "1 client, 1 messages"},
		{Status{Healthy: true, Health: "ok", Clients: 3, MessagesOut: 1200, MQTT: &MQTT{Connected: true}}, "3 clients, 1200 messages, broker connected"},
		{Status{Health: "bridge: broker unreachable: 127.0.0.1:1883", MQTT: &MQTT{QueueMessages: 4}},
			"UNHEALTHY: bridge: broker unreachable: 127.0.0.1:1883; 0 clients, 0 messages, broker unreachable, 4 queued"},
		{Status{Health: "gpio: LED worker stuck"}, "UNHEALTHY: gpio: LED worker stuck; 0 clients, 0 messages"},
	}
	for _, tt := range tests {
		if got := tt.st.Line(); got != tt.want {
			t.Errorf("Line() = %q, want %q", got, tt.want)
		}
	}
}
