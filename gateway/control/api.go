package control

import (
	"time"

	"github.com/gatewayd/gatewayd/gateway"
)

// Status is the daemon's health and counters, as GET /v1/status returns
// them.
type Status struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	// Healthy is false while the daemon counts as hung; Health says why,
	// or "ok".
	Healthy bool   `json:"healthy"`
	Health  string `json:"health"`

	Clients     int               `json:"clients"`
	Boards      int               `json:"boards"`
	Accepted    uint64            `json:"accepted"`
	Rejected    map[string]uint64 `json:"rejected"` // by reason
	MessagesIn  uint64            `json:"messages_in"`
	MessagesOut uint64            `json:"messages_out"`
	BytesIn     uint64            `json:"bytes_in"`
	BytesOut    uint64            `json:"bytes_out"`

	LEDChanges   uint64 `json:"led_changes"`
	LEDCoalesced uint64 `json:"led_events_coalesced"`
	GPIOErrors   uint64 `json:"gpio_errors"`

	// MQTT is the bridge's state; nil without mqtt.broker.
	MQTT *MQTT `json:"mqtt,omitempty"`
}

// MQTT is the MQTT bridge's state in Status.
type MQTT struct {
	Broker        string `json:"broker"` // HOST:PORT
	Connected     bool   `json:"connected"`
	QueueMessages int64  `json:"queue_messages"` // receipted, not yet acknowledged
	QueueBytes    int64  `json:"queue_bytes"`
	Published     uint64 `json:"published"`
	Acknowledged  uint64 `json:"acknowledged"`
	DeadLetters   uint64 `json:"dead_letters"` // lines the broker refused
}

// DeadLetter is a line the broker refused, as GET /v1/mqtt/dead-letters
// lists them; Line is the bytes the board sent (base64 in JSON).
type DeadLetter struct {
	Board string `json:"board"`
	Line  []byte `json:"line"`
}

// Board is one connected board, as GET /v1/boards lists them.
type Board struct {
	ID          string    `json:"id"`
	Remote      string    `json:"remote"`
	TLS         bool      `json:"tls"`
	FW          string    `json:"fw,omitempty"`
	Since       time.Time `json:"connected_since"`
	MessagesIn  uint64    `json:"messages_in"`
	MessagesOut uint64    `json:"messages_out"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	LastSeen    time.Time `json:"last_seen"`
}

// BoardFrom converts the gateway's view of a board.
func BoardFrom(b gateway.BoardInfo) Board {
	return Board{
		ID: b.ID, Remote: b.Remote.String(), TLS: b.TLS, FW: b.FW,
		Since: b.Since.UTC(), LastSeen: b.LastSeen.UTC(),
		MessagesIn: b.MessagesIn, MessagesOut: b.MessagesOut,
		BytesIn: b.BytesIn, BytesOut: b.BytesOut,
	}
}

// apiError is the body of every answer that is not a success.
type apiError struct {
	Error string `json:"error"`
}
