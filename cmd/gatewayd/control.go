package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
)

// controlPath is where the control socket goes, or "" for none. The
// default, /run/gatewayd/gatewayd.sock, lives in the directory systemd
// makes for the unit (RuntimeDirectory=gatewayd). Run by hand, that
// directory is usually missing: the daemon then runs without a control
// socket and says so, rather than refusing to start.
func (d *daemon) controlPath() string {
	path := d.cfg.Settings().Control
	if path == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Dir(path)); errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("control socket off: its directory does not exist (systemd makes it with RuntimeDirectory=gatewayd); set control: to a path in a directory you can write, or \"\" to turn it off",
			"path", path)
		return ""
	}
	return path
}

// startControl opens the control socket ("" = none) and serves the
// daemon's status, its boards and deliveries on it. Its stop lets requests
// in progress finish, briefly, and removes the socket file.
func (d *daemon) startControl() (func(), error) {
	path := d.controlPath()
	if path == "" {
		return func() {}, nil
	}
	l, err := control.Listen(path)
	if err != nil {
		return nil, err
	}
	srv := &control.Server{Status: d.controlStatus, Boards: d.srv.Boards, Deliver: d.srv.Deliver, Reload: d.reloadNow, Forget: d.forgetFunc(), Logger: d.log}
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
