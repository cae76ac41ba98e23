package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
)

// controlPath is where the control socket goes: in the runtime directory
// systemd makes for the unit (RuntimeDirectory=gatewayd), or nowhere when
// there is none. The configuration's control key will take its place.
func controlPath() string {
	dir, _, _ := strings.Cut(os.Getenv("RUNTIME_DIRECTORY"), ":")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "gatewayd.sock")
}

// controlSocket serves the control API while the daemon runs.
type controlSocket struct {
	srv  *control.Server
	done chan struct{}
}

// startControl opens the control socket at path ("" = none) and serves the
// daemon's status, its boards and deliveries on it.
func startControl(path string, d *daemon, log *slog.Logger) (*controlSocket, error) {
	cs := &controlSocket{done: make(chan struct{})}
	if path == "" {
		close(cs.done)
		return cs, nil
	}
	l, err := control.Listen(path)
	if err != nil {
		return nil, err
	}
	cs.srv = &control.Server{Status: d.controlStatus, Boards: d.srv.Boards, Deliver: d.srv.Deliver, Logger: log}
	log.Info("control socket listening", "path", path)
	go func() {
		defer close(cs.done)
		if err := cs.srv.Serve(l); err != nil {
			log.Error("control socket failed", "err", err)
		}
	}()
	return cs, nil
}

// shutdown lets requests in progress finish, briefly, and removes the
// socket file.
func (cs *controlSocket) shutdown() {
	if cs.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cs.srv.Shutdown(ctx)
	}
	<-cs.done
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
	if err := d.healthy(); err != nil && !errors.Is(err, gateway.ErrServerClosed) {
		s.Healthy, s.Health = false, err.Error()
	} else if err != nil {
		s.Healthy, s.Health = false, "shutting down"
	}
	return s
}
