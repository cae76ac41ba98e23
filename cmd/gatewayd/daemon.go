package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gpio"
)

// stallLimit is how long the accept loop or the LED worker may be busy
// with one thing before the daemon counts as hung: the heartbeat LED goes
// dark and systemd's watchdog is no longer fed.
const stallLimit = 5 * time.Second

// daemon is one running gatewayd: the server, its LEDs and its glue.
type daemon struct {
	path   string // config file; "" for the built-in default
	cfg    *configs.Config
	log    *slog.Logger
	level  *slog.LevelVar
	srv    *gateway.Server
	leds   *gpio.Rig
	notify notifier
}

// serve runs the daemon until ctx is done, then shuts down cleanly.
func serve(ctx context.Context, cfg *configs.Config, path string, hup <-chan os.Signal, stderr io.Writer) error {
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel())
	log := newLogger(cfg, level, stderr)
	d := &daemon{path: path, cfg: cfg, log: log, level: level, notify: notifier{log: log}}
	if path == "" {
		log.Info("using the built-in default configuration", "version", version)
	} else {
		log.Info("configuration loaded", "file", path, "version", version)
	}

	ls, activated, err := listeners(cfg.Listen)
	if err != nil {
		log.Error(err.Error())
		return errReported
	}
	if activated {
		log.Info("serving sockets passed by systemd; listen is ignored", "sockets", len(ls))
	}

	d.srv = &gateway.Server{Policy: cfg.Policy(), Logger: log}
	d.leds, err = newLEDRig(cfg, log, func() error { return d.srv.Healthy(stallLimit) })
	if err != nil {
		closeAll(ls)
		log.Error(err.Error())
		return errReported
	}
	d.srv.Hooks = ledHooks(d.leds)

	m, err := startMetrics(cfg.Metrics.Listen, d, log)
	if err != nil {
		closeAll(ls)
		d.leds.Close()
		log.Error(err.Error())
		return errReported
	}
	ctl, err := startControl(controlPath(), d, log)
	if err != nil {
		closeAll(ls)
		m.shutdown()
		d.leds.Close()
		log.Error(err.Error())
		return errReported
	}

	var wg sync.WaitGroup
	serveErr := make(chan error, len(ls))
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.srv.Serve(l); !errors.Is(err, gateway.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}

	// Bound and claimed: only now may systemd count us as started.
	d.notify.ready()
	d.notify.status(statusLine(0, 0))

	bgCtx, stopBackground := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); d.reportStatus(bgCtx) }()
	go func() { defer bg.Done(); d.feedWatchdog(bgCtx) }()

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			d.reload()
		case err := <-serveErr:
			log.Error("accept loop failed", "err", err)
			runErr = errReported
			break loop
		}
	}

	d.notify.stopping()
	log.Info("shutting down", "clients", d.srv.Stats().Clients, "timeout", time.Duration(d.cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Duration(d.cfg.ShutdownTimeout))
	defer cancel()
	if err := d.srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("clients still connected at the shutdown timeout were cut off", "timeout", time.Duration(d.cfg.ShutdownTimeout))
	}
	wg.Wait()
	stopBackground()
	bg.Wait()
	m.shutdown()
	ctl.shutdown()
	d.leds.Close()
	st := d.srv.Stats()
	log.Info("stopped", "accepted", st.Accepted, "messages", st.Messages)
	return runErr
}

// reportStatus keeps systemd's STATUS= line current.
func (d *daemon) reportStatus(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	last := statusLine(0, 0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st := d.srv.Stats()
			if line := statusLine(st.Clients, st.Messages); line != last {
				d.notify.status(line)
				last = line
			}
		}
	}
}

// feedWatchdog pings systemd's watchdog only while the accept loop and
// the LED worker are alive, so a hung daemon gets restarted.
func (d *daemon) feedWatchdog(ctx context.Context) {
	every := watchdogInterval()
	if every == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := d.healthy(); errors.Is(err, gateway.ErrServerClosed) {
			// Shutting down: STOPPING=1 was sent, and systemd's stop
			// timeout, not the watchdog, bounds what is left.
		} else if err != nil {
			d.log.Error("not feeding the systemd watchdog", "err", err)
		} else {
			d.notify.watchdog()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthy is nil while the accept loop and the LED worker are alive.
func (d *daemon) healthy() error {
	return errors.Join(d.srv.Healthy(stallLimit), d.leds.Healthy(stallLimit))
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}
