package main

import (
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
	srv := &control.Server{Status: d.snapshot, Boards: d.srv.Boards, Deliver: d.srv.Deliver, Reload: d.reloadNow, Forget: d.forgetFunc(), Logger: d.log}
	if d.bridge != nil {
		srv.DeadLetters = deadLetters(d.mqtt.QueueDir)
	}
	d.log.Info("control socket listening", "path", path)
	return d.serveHTTP("control socket", func() error { return srv.Serve(l) }, srv.Shutdown), nil
}
