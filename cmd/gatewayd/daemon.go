package main

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/bridge"
	"github.com/gatewayd/gatewayd/gateway/daemon/httpd"
	"github.com/gatewayd/gatewayd/gateway/daemon/listen"
	"github.com/gatewayd/gatewayd/gateway/daemon/logging"
	"github.com/gatewayd/gatewayd/gateway/daemon/metrics"
	"github.com/gatewayd/gatewayd/gateway/daemon/systemd"
	"github.com/gatewayd/gatewayd/gateway/homeassistant"
	"github.com/gatewayd/gatewayd/gateway/statuspage"
	"github.com/gatewayd/gatewayd/gateway/tlsconf"
	"github.com/gatewayd/gatewayd/gpio"
)

// stallLimit is how long the accept loop or the LED worker may be busy
// with one thing before the daemon counts as hung: the heartbeat LED goes
// dark and systemd's watchdog is no longer fed.
const stallLimit = 5 * time.Second

// daemon is one running gatewayd: its parts and the wiring between them.
// The parts start in the order parts lists and stop in the reverse order.
type daemon struct {
	path   string // config file; "" for the built-in default
	cfg    *configs.Config
	log    *slog.Logger
	level  *slog.LevelVar
	notify systemd.Notifier

	listeners []net.Listener
	srv       *gateway.Server
	tls       *tlsconf.Store // nil: plaintext listeners
	leds      *gpio.Rig
	bridge    *bridge.Bridge       // nil without mqtt.broker
	mqtt      configs.MQTTSettings // the bridge's settings in effect
	serveErr  chan error           // an accept loop that failed
	reloads   chan chan error      // reloads asked for over the control socket
	started   time.Time

	// In front of the bridge (page.go): nil without it.
	ha  *homeassistant.Publisher
	tap *statuspage.Tap

	stops []func() // of the parts started so far, in start order
}

// part is one piece of the daemon. start brings it up and returns how to
// take it down again.
type part struct {
	name  string
	start func() (stop func(), err error)
}

// parts is the start order. Each part may use those above it: the LED rig
// reads the server's counters and owns its Hooks, the bridge adds its
// board listeners and the Uplink, metrics read all three, the server needs the listeners, the hooks and
// the bridge as its Uplink (and drains before the bridge closes), and systemd hears READY=1 only when all are
// up, the sockets bound and the pins claimed.
func (d *daemon) parts() []part {
	return []part{
		{"TLS", d.startTLS},
		{"listeners", d.startListeners},
		{"LED rig", d.startLEDs},
		{"MQTT bridge", d.startBridge},
		{"metrics", d.startMetrics},
		{"control socket", d.startControl},
		{"echo server", d.startServing},
		{"systemd", d.startSystemd},
	}
}

// newDaemon sets up logging for cfg and logs which configuration it runs.
func newDaemon(cfg *configs.Config, path string, stderr io.Writer) *daemon {
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel())
	logger := logging.New(stderr, logging.Options{JSON: cfg.Log.Format == "json", Level: level, Journal: logging.UnderJournal()})
	// periph reports through the standard log package; keep one stream.
	slog.SetDefault(logger)
	log.SetFlags(0)
	d := &daemon{path: path, cfg: cfg, log: logger, level: level, notify: systemd.Notifier{Log: logger},
		reloads: make(chan chan error), started: started}
	d.srv = &gateway.Server{Policy: cfg.Policy(), Logger: logger}
	if path == "" {
		logger.Info("using the built-in default configuration", "version", version)
	} else {
		logger.Info("configuration loaded", "file", path, "version", version)
	}
	return d
}

// run starts every part, serves until ctx is done (reloading on hup), then
// stops every part.
func (d *daemon) run(ctx context.Context, hup <-chan os.Signal) error {
	if err := d.start(); err != nil {
		d.log.Error(err.Error())
		return errReported
	}
	err := d.wait(ctx, hup)
	d.stop()
	st := d.srv.Stats()
	d.log.Info("stopped", "accepted", st.Accepted, "messages", st.Messages)
	return err
}

// start starts the parts in order. If one fails, those already started
// are stopped and its error returned.
func (d *daemon) start() error {
	for _, p := range d.parts() {
		stop, err := p.start()
		if err != nil {
			d.stop()
			return err
		}
		d.stops = append(d.stops, stop)
	}
	return nil
}

// stop stops the started parts, last started first.
func (d *daemon) stop() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	d.stops = nil
}

// wait serves until ctx is done or an accept loop fails, reloading the
// configuration on each hup.
func (d *daemon) wait(ctx context.Context, hup <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			d.reload()
		case reply := <-d.reloads:
			reply <- d.reload()
		case err := <-d.serveErr:
			d.log.Error("accept loop failed", "err", err)
			return errReported
		}
	}
}

func (d *daemon) startListeners() (func(), error) {
	ls, activated, err := listen.Sockets(d.cfg.Listen)
	if err != nil {
		return nil, err
	}
	if activated {
		d.log.Info("serving sockets passed by systemd; listen is ignored", "sockets", len(ls))
	}
	d.listeners = ls
	return func() {
		// Serve closed them already unless a later part failed to start.
		for _, l := range ls {
			l.Close()
		}
	}, nil
}

func (d *daemon) startLEDs() (func(), error) {
	rig, err := newLEDRig(d.cfg, d.log, func() error { return d.srv.Healthy(stallLimit) })
	if err != nil {
		return nil, err
	}
	d.leds = rig
	d.srv.Hooks = ledHooks(rig)
	return func() { rig.Close() }, nil
}

func (d *daemon) startMetrics() (func(), error) {
	addr := d.cfg.Metrics.Listen
	if addr == "" {
		return func() {}, nil
	}
	l, err := listen.TCP(addr)
	if err != nil {
		return nil, err
	}
	src := metrics.Source{Status: d.snapshot}
	if d.cfg.Settings().MetricsPerBoard {
		src.Boards = d.srv.Boards
	}
	h, closePage := d.withPage(metrics.Handler(src, d.log))
	s := &httpd.Server{Handler: h, Logger: d.log}
	d.log.Info("metrics listening", "addr", l.Addr().String())
	stop := d.serveHTTP("metrics server", func() error { return s.Serve(l) }, s.Shutdown)
	return func() { closePage(); stop() }, nil
}

// httpShutdown bounds the wait for requests in flight at shutdown, on the
// metrics endpoint and the control socket alike.
const httpShutdown = 2 * time.Second

// serveHTTP runs serve on a goroutine of its own until the returned stop,
// which lets requests in flight finish for at most httpShutdown.
func (d *daemon) serveHTTP(what string, serve func() error, shutdown func(context.Context) error) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error(what+" failed", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdown)
		defer cancel()
		shutdown(ctx)
		<-done
	}
}

func (d *daemon) startServing() (func(), error) {
	var wg sync.WaitGroup
	d.serveErr = make(chan error, len(d.listeners))
	for _, l := range d.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.srv.Serve(l); !errors.Is(err, gateway.ErrServerClosed) {
				d.serveErr <- err
			}
		}()
	}
	return func() {
		timeout := time.Duration(d.cfg.ShutdownTimeout)
		d.log.Info("shutting down", "clients", d.srv.Stats().Clients, "timeout", timeout)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := d.srv.Shutdown(ctx); err != nil {
			d.log.Warn("clients still connected at the shutdown timeout were cut off", "timeout", timeout)
		}
		wg.Wait()
	}, nil
}

// startSystemd says READY=1 and keeps STATUS= and the watchdog fed; its
// stop says STOPPING=1 first of all, as shutdown begins.
func (d *daemon) startSystemd() (func(), error) {
	d.notify.Ready()
	d.notify.Status(d.snapshot().Line())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.reportStatus(ctx) }()
	go func() { defer wg.Done(); d.feedWatchdog(ctx) }()
	return func() {
		d.notify.Stopping()
		cancel()
		wg.Wait()
	}, nil
}

// reportStatus keeps systemd's STATUS= line current.
func (d *daemon) reportStatus(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if line := d.snapshot().Line(); line != last {
				d.notify.Status(line)
				last = line
			}
		}
	}
}

// feedWatchdog pings systemd's watchdog only while the accept loop and
// the LED worker are alive, so a hung daemon gets restarted.
func (d *daemon) feedWatchdog(ctx context.Context) {
	every := systemd.WatchdogInterval()
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
			d.notify.Watchdog()
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
