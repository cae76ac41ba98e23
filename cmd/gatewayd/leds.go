package main

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gpio"
	periphgpio "periph.io/x/conn/v3/gpio"
)

// ledRig wires the server's events to the LEDs and swaps the LEDs on
// reload. The hooks only touch atomics, so the echo path never waits.
type ledRig struct {
	log           *slog.Logger
	acceptHealthy func() error // the accept loop's health, for the heartbeat

	clients atomic.Int64
	// reloading is set while apply swaps workers, when the old one has
	// stopped on purpose.
	reloading atomic.Bool
	emitted   func() eventCounts

	mu     sync.Mutex  // guards the totals below against a scrape during reload
	base   eventCounts // events emitted when the running controller started
	before ledTotals   // what controllers replaced by reloads did
	ctrl   atomic.Pointer[gpio.Controller]
	stop   context.CancelFunc
	board  *gpio.Board
	driver gpio.Driver // as configured
}

// eventCounts is how many of each LED event the server has emitted.
type eventCounts map[gpio.Event]uint64

// notifiedEvents are the events the hooks pass to Notify.
var notifiedEvents = []gpio.Event{gpio.EventConnect, gpio.EventDisconnect, gpio.EventMessage}

func newLEDRig(cfg *configs.Config, log *slog.Logger, healthy func() error, emitted func() eventCounts) (*ledRig, error) {
	r := &ledRig{log: log, acceptHealthy: healthy, emitted: emitted}
	board, leds, pins, err := r.claim(cfg)
	if err != nil {
		return nil, err
	}
	ctrl, err := r.controller(leds, pins)
	if err != nil {
		board.Close()
		return nil, err
	}
	r.start(board, ctrl, cfg.Driver())
	return r, nil
}

// claim opens cfg's driver (reusing the running board when the driver is
// unchanged) and claims cfg's LEDs on it. On error the running LEDs are
// untouched.
func (r *ledRig) claim(cfg *configs.Config) (*gpio.Board, []gpio.LED, map[string]periphgpio.PinOut, error) {
	leds := cfg.LEDs()
	board := r.board
	if board == nil || cfg.Driver() != r.driver {
		var err error
		if board, err = gpio.Open(cfg.Driver(), leds, r.log); err != nil {
			return nil, nil, nil, err
		}
	}
	if board.Driver() == gpio.DriverNone {
		leds = nil
	}
	pins, err := board.Claim(leds)
	if err != nil {
		if board != r.board {
			board.Close()
		}
		return nil, nil, nil, err
	}
	return board, leds, pins, nil
}

// controller builds the LED worker for leds, which drives them all off.
func (r *ledRig) controller(leds []gpio.LED, pins map[string]periphgpio.PinOut) (*gpio.Controller, error) {
	return gpio.NewController(leds, pins, gpio.Options{
		Healthy: r.acceptHealthy,
		Clients: func() int { return int(r.clients.Load()) },
		Logger:  r.log,
	})
}

func (r *ledRig) start(board *gpio.Board, ctrl *gpio.Controller, driver gpio.Driver) {
	ctx, cancel := context.WithCancel(context.Background())
	r.board, r.driver, r.stop = board, driver, cancel
	r.mu.Lock()
	if r.ctrl.Load() != nil {
		r.before = r.before.add(r.running())
	}
	r.base = r.emitted()
	r.ctrl.Store(ctrl)
	r.mu.Unlock()
	go ctrl.Run(ctx)
}

// apply replaces the LEDs with cfg's. The new lines are claimed first: if
// that fails, the old LEDs keep working and the error says why. Only then
// is the old worker stopped (driving its LEDs off), so that no two workers
// ever write one line, and the new one started.
func (r *ledRig) apply(cfg *configs.Config) error {
	board, leds, pins, err := r.claim(cfg)
	if err != nil {
		return err
	}
	r.reloading.Store(true)
	defer r.reloading.Store(false)
	if !r.halt() {
		return errors.New("gpio: the LED worker is stuck in a pin write; restart gatewayd")
	}
	if board != r.board {
		r.board.Close()
	}
	board.Bind(leds)
	// The configuration was validated and every pin is claimed, so this
	// cannot fail; if it did, the LEDs stay off and the error is logged.
	ctrl, err := r.controller(leds, pins)
	if err != nil {
		return err
	}
	board.Keep(leds)
	r.start(board, ctrl, cfg.Driver())
	r.log.Info("LEDs applied", "driver", board.Driver().String(), "leds", len(leds))
	return nil
}

// haltTimeout bounds the wait for the LED worker to stop: a worker stuck in
// a pin write must not hold up a reload or a shutdown.
const haltTimeout = 2 * time.Second

// halt stops the worker and waits until it has driven its LEDs off. It
// reports false if the worker did not stop within haltTimeout.
func (r *ledRig) halt() bool {
	r.stop()
	select {
	case <-r.ctrl.Load().Done():
		return true
	case <-time.After(haltTimeout):
		r.log.Error("the LED worker did not stop; a GPIO write is hanging", "waited", haltTimeout)
		return false
	}
}

// close drives every LED off and releases the lines.
func (r *ledRig) close() {
	if r.halt() {
		r.board.Close()
	}
}

func (r *ledRig) hooks() gateway.Hooks {
	return gateway.Hooks{
		Connect: func(netip.AddrPort, int) {
			r.clients.Add(1)
			c := r.ctrl.Load()
			c.ClientsChanged()
			c.Notify(gpio.EventConnect)
		},
		Message: func(netip.AddrPort, int) {
			r.ctrl.Load().Notify(gpio.EventMessage)
		},
		Disconnect: func(netip.AddrPort, int, error) {
			r.clients.Add(-1)
			c := r.ctrl.Load()
			c.ClientsChanged()
			c.Notify(gpio.EventDisconnect)
		},
	}
}

func (r *ledRig) healthy(stall time.Duration) error {
	if r.reloading.Load() {
		return nil
	}
	select {
	case <-r.ctrl.Load().Done():
		return errors.New("gpio: LED worker stopped")
	default:
	}
	return r.ctrl.Load().Healthy(stall)
}

// ledTotals are the LED counters exported as metrics.
type ledTotals struct {
	changes, errors uint64
	// coalesced is events notified but folded into one already pending,
	// so not shown on their own: notified minus taken by the worker.
	coalesced uint64
}

func (t ledTotals) add(u ledTotals) ledTotals {
	return ledTotals{t.changes + u.changes, t.errors + u.errors, t.coalesced + u.coalesced}
}

// totals are the LED counters since the daemon started, across reloads.
func (r *ledRig) totals() ledTotals {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.before.add(r.running())
}

// running counts what the current controller did; r.mu must be held.
func (r *ledRig) running() ledTotals {
	c := r.ctrl.Load()
	st := c.Stats()
	now := r.emitted()
	t := ledTotals{changes: st.Changes, errors: st.Errors}
	for _, e := range notifiedEvents {
		if notified := now[e] - r.base[e]; c.Shows(e) && notified > st.Taken[e] {
			t.coalesced += notified - st.Taken[e]
		}
	}
	return t
}
