package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
)

// Source is where a scrape reads from. Both funcs are called at scrape
// time, from the scraping goroutine.
type Source struct {
	// Status is the daemon's snapshot (must be set): the figures and
	// the health verdict that /metrics, /healthz and GET /v1/status
	// serve, the same the control socket and STATUS= give.
	Status func() control.Status

	// Boards, if set, lists the connected boards for per-board series
	// (metrics.per_board); nil: none.
	Boards func() []gateway.BoardInfo
}

var (
	descClients   = prometheus.NewDesc("gatewayd_clients", "Clients connected now.", nil, nil)
	descAccepted  = prometheus.NewDesc("gatewayd_connections_accepted_total", "Connections admitted.", nil, nil)
	descRejected  = prometheus.NewDesc("gatewayd_connections_rejected_total", "Connections closed as soon as accepted, by reason.", []string{"reason"}, nil)
	descMessages  = prometheus.NewDesc("gatewayd_messages_total", "Messages received (in) and echoed (out).", []string{"direction"}, nil)
	descBytes     = prometheus.NewDesc("gatewayd_bytes_total", "Bytes received (in) and echoed (out).", []string{"direction"}, nil)
	descLEDChange = prometheus.NewDesc("gatewayd_led_changes_total", "LED changes written to GPIO.", nil, nil)
	descCoalesced = prometheus.NewDesc("gatewayd_led_events_coalesced_total", "LED events folded into one already pending instead of shown on their own.", nil, nil)
	descGPIOErr   = prometheus.NewDesc("gatewayd_gpio_errors_total", "GPIO writes that failed.", nil, nil)
	descUp        = prometheus.NewDesc("gatewayd_up", "1 while the accept loop and the LED worker are alive.", nil, nil)
	descMQTTUp    = prometheus.NewDesc("gatewayd_mqtt_connected", "1 while the MQTT bridge is connected to its broker.", []string{"broker"}, nil)
	descQueueMsgs = prometheus.NewDesc("gatewayd_mqtt_queue_messages", "Receipted lines in the on-disk queue, not yet acknowledged by the broker.", nil, nil)
	descQueueB    = prometheus.NewDesc("gatewayd_mqtt_queue_bytes", "Bytes in the on-disk queue.", nil, nil)
	descPublished = prometheus.NewDesc("gatewayd_mqtt_published_total", "PUBLISH packets sent for board lines, first tries and from the queue.", nil, nil)
	descAcked     = prometheus.NewDesc("gatewayd_mqtt_acknowledged_total", "PUBACKs received for board lines.", nil, nil)
	descDead      = prometheus.NewDesc("gatewayd_mqtt_dead_letters_total", "Queued lines the broker refused (it closed the connection each time), moved to QUEUE_DIR/dead-letter.", nil, nil)
	descSpooled   = prometheus.NewDesc("gatewayd_mqtt_queued_total", "Lines written to the on-disk queue because the broker was unreachable or behind.", nil, nil)
	descRedeliv   = prometheus.NewDesc("gatewayd_mqtt_redelivered_total", "Lines published from the on-disk queue.", nil, nil)
	descCorrupt   = prometheus.NewDesc("gatewayd_mqtt_queue_corrupt_records_total", "Damaged records the on-disk queue skipped (a run of damage counts once); only a torn tail of the last segment is cut without counting.", nil, nil)
	descQueueErrs = prometheus.NewDesc("gatewayd_mqtt_queue_errors_total", "On-disk queue errors, by kind: fsync (a failed fsync; the lines it covered are written again) and no-space (a write found the disk full; boards wait).", []string{"error"}, nil)
	descDownlinks = prometheus.NewDesc("gatewayd_mqtt_downlinks_total", "Downlink messages from the broker, by result: delivered to the board, or dropped (board not connected, or its queue full).", []string{"result"}, nil)
	descBuild     = prometheus.NewDesc("gatewayd_build_info", "Build information.", []string{"version", "commit", "goversion"}, nil)
)

// collector turns a Source into Prometheus samples.
type collector struct{ src Source }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descAccepted, descRejected, descMessages, descBytes, descLEDChange, descCoalesced, descGPIOErr, descUp, descBuild, descMQTTUp, descQueueMsgs, descQueueB, descPublished, descAcked, descDead, descSpooled, descRedeliv, descDownlinks, descCorrupt, descQueueErrs} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descClients, float64(st.Clients))
	counter(descAccepted, st.Accepted)
	for _, r := range gateway.RejectReasons() {
		counter(descRejected, st.Rejected[r.String()], r.String())
	}
	// Raw framing counts a read as a message, line framing a line; "in"
	// also counts lines dropped as too long, which are never echoed.
	counter(descMessages, st.MessagesIn, "in")
	counter(descMessages, st.MessagesOut, "out")
	counter(descBytes, st.BytesIn, "in")
	counter(descBytes, st.BytesOut, "out")
	counter(descLEDChange, st.LEDChanges)
	counter(descCoalesced, st.LEDCoalesced)
	counter(descGPIOErr, st.GPIOErrors)
	gauge(descUp, boolValue(st.Alive))
	gauge(descBuild, 1, st.Version, st.Commit, st.GoVersion)
	b := st.MQTT
	if b == nil {
		return
	}
	gauge(descMQTTUp, boolValue(b.Connected), b.Broker)
	gauge(descQueueMsgs, float64(b.QueueMessages))
	gauge(descQueueB, float64(b.QueueBytes))
	counter(descPublished, b.Published)
	counter(descAcked, b.Acknowledged)
	counter(descDead, b.DeadLetters)
	counter(descSpooled, b.Spooled)
	counter(descRedeliv, b.Redelivered)
	counter(descDownlinks, b.DownlinkDelivered, "delivered")
	counter(descDownlinks, b.DownlinkDropped, "dropped")
	counter(descCorrupt, b.QueueCorruptRecords)
	counter(descQueueErrs, b.QueueFsyncErrors, "fsync")
	counter(descQueueErrs, b.QueueNoSpaceErrors, "no-space")
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
