package main

import (
	"errors"
	"runtime"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
)

// controlPath is where the control socket goes, or "" for none: the
// rule of control.Env.ServerPath (the default follows /run/gatewayd, then
// $XDG_RUNTIME_DIR, then the working directory), its directory made if
// missing. A path that cannot be used fails the start rather than leaving
// the daemon without its socket in silence.
func (d *daemon) controlPath() (string, error) {
	path := control.Env{}.ServerPath(d.cfg.Settings().Control)
	if path == "" {
		return "", nil
	}
	if err := control.MakeDir(path); err != nil {
		return "", err
	}
	return path, nil
}

// startControl opens the control socket ("" = none) and serves the
// daemon's status, its boards and deliveries on it. Its stop lets requests
// in progress finish, briefly, and removes the socket file.
func (d *daemon) startControl() (func(), error) {
	path, err := d.controlPath()
	if err != nil || path == "" {
		return func() {}, err
	}
	l, err := control.Listen(path)
	if err != nil {
		return nil, err
	}
	srv := &control.Server{Status: d.controlStatus, Boards: d.srv.Boards, Deliver: d.srv.Deliver, Reload: d.reloadNow, Logger: d.log}
	d.log.Info("control socket listening", "path", path)
	return d.serveHTTP("control socket", func() error { return srv.Serve(l) }, srv.Shutdown), nil
}

// controlStatus is GET /v1/status: the figures `gatewayctl status` shows.
func (d *daemon) controlStatus() control.Status {
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
		s.MQTT = &control.MQTT{Broker: b.Broker, Connected: b.Connected, QueueMessages: b.QueueMessages, QueueBytes: b.QueueBytes, Published: b.Published, Acknowledged: b.Acked}
	}
	if err := d.healthy(); err != nil && !errors.Is(err, gateway.ErrServerClosed) {
		s.Healthy, s.Health = false, err.Error()
	} else if err != nil {
		s.Healthy, s.Health = false, "shutting down"
	}
	return s
}
