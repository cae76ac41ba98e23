package control

import "fmt"

// Line is the snapshot in one line, for systemd's STATUS= (what
// `systemctl status gatewayd` shows): "3 clients, 1200 messages, broker
// connected", or, while unhealthy, the verdict first:
// "UNHEALTHY: bridge: broker unreachable: HOST:PORT; 0 clients, ...".
func (s Status) Line() string {
	noun := "clients"
	if s.Clients == 1 {
		noun = "client"
	}
	line := fmt.Sprintf("%d %s, %d messages", s.Clients, noun, s.MessagesOut)
	if m := s.MQTT; m != nil {
		if m.Connected {
			line += ", broker connected"
		} else {
			line += ", broker unreachable"
		}
		if m.QueueMessages > 0 {
			line += fmt.Sprintf(", %d queued", m.QueueMessages)
		}
	}
	if !s.Healthy {
		line = "UNHEALTHY: " + s.Health + "; " + line
	}
	return line
}
