package control

import (
	"time"

	"github.com/gatewayd/gatewayd/gateway"
)

// Status is one snapshot of the daemon: its health verdict and its
// figures. The daemon makes it in one place, and everything that reports
// on the daemon reads the same snapshot: GET /v1/status on the control
// socket and on the metrics listener, /healthz, /metrics and systemd's
// STATUS= line, so they cannot disagree.
type Status struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	// Healthy is the one health verdict: false while a part of the
	// daemon is hung or the MQTT bridge cannot reach its broker. Health
	// names the unhealthy part and why ("bridge: broker unreachable:
	// HOST:PORT"), or says "ok".
	Healthy bool   `json:"healthy"`
	Health  string `json:"health"`
	// Alive is narrower: the accept loop and the LED worker are alive
	// (systemd's watchdog is fed on it; a broker that is down does not
	// make a restart worth it).
	Alive bool `json:"alive"`

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
	// Spooled counts the lines written to the queue, Redelivered those
	// published from it, DeadLetters the lines the broker refused.
	Spooled           uint64 `json:"queued_total"`
	Redelivered       uint64 `json:"redelivered"`
	DeadLetters       uint64 `json:"dead_letters"`
	DownlinkDelivered uint64 `json:"downlinks_delivered"`
	DownlinkDropped   uint64 `json:"downlinks_dropped"`
	// The queue's troubles since start: damaged records skipped, fsyncs
	// that failed, writes that found the disk full.
	QueueCorruptRecords uint64 `json:"queue_corrupt_records"`
	QueueFsyncErrors    uint64 `json:"queue_fsync_errors"`
	QueueNoSpaceErrors  uint64 `json:"queue_no_space_errors"`
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
