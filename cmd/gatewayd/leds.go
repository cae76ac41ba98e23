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
)

// ledRig wires the server's events to the LEDs and swaps the LEDs on
// reload. The hooks only touch atomics, so the echo path never waits.
type ledRig struct {
	log           *slog.Logger
	acceptHealthy func() error // the accept loop's health, for the heartbeat

	clients atomic.Int64
	current []gpio.LED // the running controller's LEDs
	emitted func() eventCounts

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
	board, ctrl, err := r.open(cfg)
	if err != nil {
		return nil, err
	}
	r.current = cfg.LEDs()
	r.start(board, ctrl, cfg.Driver())
	return r, nil
}

// open claims cfg's LEDs on a board and builds their controller, which
// drives them all off.
func (r *ledRig) open(cfg *configs.Config) (*gpio.Board, *gpio.Controller, error) {
	leds := cfg.LEDs()
	board := r.board
	if board == nil || cfg.Driver() != r.driver {
		var err error
		if board, err = gpio.Open(cfg.Driver(), leds, r.log); err != nil {
			return nil, nil, err
		}
	}
	if board.Driver() == gpio.DriverNone {
		leds = nil
	}
	pins, err := board.Claim(leds)
	if err != nil {
		r.abandon(board)
		return nil, nil, err
	}
	ctrl, err := gpio.NewController(leds, pins, gpio.Options{
		Healthy: r.acceptHealthy,
		Clients: func() int { return int(r.clients.Load()) },
		Logger:  r.log,
	})
	if err != nil {
		r.abandon(board)
		return nil, nil, err
	}
	return board, ctrl, nil
}

// abandon undoes a failed open: a new board is closed, the current one
// goes back to the lines its running controller uses.
func (r *ledRig) abandon(board *gpio.Board) {
	if board != r.board {
		board.Close()
		return
	}
	board.Keep(r.current)
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

// apply replaces the LEDs with cfg's. If they cannot be claimed, the old
// LEDs keep working and the error says why.
func (r *ledRig) apply(cfg *configs.Config) error {
	board, ctrl, err := r.open(cfg)
	if err != nil {
		return err
	}
	oldBoard := r.board
	r.halt()
	if board != oldBoard {
		oldBoard.Close()
	} else {
		board.Keep(cfg.LEDs())
	}
	r.current = cfg.LEDs()
	r.start(board, ctrl, cfg.Driver())
	r.log.Info("LEDs applied", "driver", board.Driver().String(), "leds", len(cfg.LEDs()))
	return nil
}

// halt stops the worker and waits until it has driven its LEDs off.
func (r *ledRig) halt() {
	r.stop()
	<-r.ctrl.Load().Done()
}

// close drives every LED off and releases the lines.
func (r *ledRig) close() {
	r.halt()
	r.board.Close()
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
