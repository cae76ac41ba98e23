package main

import (
	"errors"
	"runtime"
	"strings"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
)

// snapshot is the daemon's one view of itself: the figures of the
// server, the LED rig and the bridge, and the health verdict. The control
// socket, /healthz, /metrics, GET /v1/status and systemd's STATUS= all
// read it, so none can say "ok" while another says why not.
func (d *daemon) snapshot() control.Status {
	st := d.srv.Stats()
	leds := d.leds.Totals()
	s := control.Status{
		Version: version, Commit: commit, GoVersion: runtime.Version(),
		Healthy: true, Health: "ok",
		Clients: st.Clients, Boards: len(d.srv.Boards()), Accepted: st.Accepted,
		Rejected:   map[string]uint64{},
		MessagesIn: st.MessagesIn, MessagesOut: st.Messages, BytesIn: st.BytesIn, BytesOut: st.BytesOut,
		LEDChanges: leds.Changes, LEDCoalesced: leds.Coalesced, GPIOErrors: leds.Errors,
	}
	for _, r := range gateway.RejectReasons() {
		s.Rejected[r.String()] = st.Rejected[r]
	}
	if d.bridge != nil {
		b := d.bridge.Stats()
		s.MQTT = &control.MQTT{
			Broker: b.Broker, Connected: b.Connected,
			QueueMessages: b.QueueMessages, QueueBytes: b.QueueBytes,
			Published: b.Published, Acknowledged: b.Acked,
			Spooled: b.Spooled, Redelivered: b.Redelivered, DeadLetters: b.DeadLetters,
			DownlinkDelivered: b.DownlinkDelivered, DownlinkDropped: b.DownlinkDropped,
			QueueCorruptRecords: b.QueueCorruptRecords, QueueFsyncErrors: b.QueueFsyncErrors, QueueNoSpaceErrors: b.QueueNoSpaceErrors,
		}
	}
	s.Alive = d.healthy() == nil
	switch err := d.verdict(); {
	case errors.Is(err, gateway.ErrServerClosed):
		s.Healthy, s.Health = false, "shutting down"
	case err != nil:
		// One line, whatever the number of troubles (errors.Join puts
		// each on its own), so STATUS=, /healthz and gatewayctl status
		// print the same verdict.
		s.Healthy, s.Health = false, strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return s
}

// verdict is nil while the daemon is healthy, else an error naming each
// unhealthy part: a hung accept loop or LED worker (healthy's), or a
// broker the bridge cannot reach. Unlike healthy, which gates systemd's
// watchdog, it counts the broker: a restart would not bring a broker back,
// but whoever asks /healthz must hear that lines are only being queued.
func (d *daemon) verdict() error {
	err := d.healthy()
	if d.bridge != nil {
		err = errors.Join(err, d.bridge.Health())
	}
	return err
}
