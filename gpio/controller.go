package gpio

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	periphgpio "periph.io/x/conn/v3/gpio"

	"github.com/gatewayd/gatewayd/gateway/stall"
)

// Controller is the LED worker: one goroutine that owns every pin write.
// Notify and ClientsChanged only set atomic flags and, when a flag was clear,
// wake the worker with a non-blocking send, so the network path never
// waits on GPIO, on a lock or on an unbounded queue.
type Controller struct {
	leds       []*ledState
	subscribed [numEvents]bool
	pending    [numEvents]atomic.Bool
	clients    func() int
	wake       chan struct{}
	healthy    func() error
	log        *slog.Logger

	// watch tells the worker waiting for its next step from one stuck in
	// a step: a step that lasts too long means a hung GPIO write.
	watch   stall.Watch
	changes atomic.Uint64
	taken   [numEvents]atomic.Uint64
	errors  atomic.Uint64
	done    chan struct{}
}

// Options tune a Controller. The zero value is usable.
type Options struct {
	// Healthy gates the heartbeat: it is asked before every beat and a
	// non-nil answer keeps heartbeat LEDs dark. Nil means always healthy.
	Healthy func() error
	// Clients says how many clients are connected, for EventClients LEDs;
	// call ClientsChanged when it changes. Nil means none.
	Clients func() int
	// Logger receives GPIO write failures. Nil means slog.Default().
	Logger *slog.Logger
}

// NewController drives every LED off and returns the controller; pins maps
// each LED's Pin to an output. Start the worker with Run.
func NewController(leds []LED, pins map[string]Output, opts Options) (*Controller, error) {
	c := &Controller{
		wake:    make(chan struct{}, 1),
		healthy: opts.Healthy,
		clients: opts.Clients,
		log:     opts.Logger,
		done:    make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.clients == nil {
		c.clients = func() int { return 0 }
	}
	for _, l := range leds {
		l = l.WithDefaults()
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("gpio: led %q: %w", l.Name, err)
		}
		pin, ok := pins[l.Pin]
		if !ok {
			return nil, fmt.Errorf("gpio: led %q: pin %q was not opened", l.Name, l.Pin)
		}
		c.leds = append(c.leds, &ledState{LED: l, pin: pin})
		c.subscribed[l.On] = true
	}
	for _, s := range c.leds {
		c.write(s, false)
	}
	return c, nil
}

// Notify records that e happened. It never blocks and is safe from any
// goroutine. While the LED is busy showing earlier events, new ones fold
// into a single pending one.
func (c *Controller) Notify(e Event) {
	if !c.subscribed[e] {
		return
	}
	// Load first: under a flood the flag is already set, and a plain load
	// of a shared cache line costs far less than a store to it.
	if c.pending[e].Load() {
		return
	}
	if c.pending[e].Swap(true) {
		return
	}
	c.signal()
}

// ClientsChanged wakes the worker to look at Options.Clients again. The
// count is read by the worker, not passed in, so that two connections
// reporting at once can never leave a stale count behind.
func (c *Controller) ClientsChanged() {
	if c.subscribed[EventClients] {
		c.signal()
	}
}

func (c *Controller) signal() {
	select {
	case c.wake <- struct{}{}:
	default: // the worker is already due to wake
	}
}

// Run is the LED worker. It returns when ctx is done, after driving every
// LED off.
func (c *Controller) Run(ctx context.Context) {
	defer close(c.done)
	defer c.allOff()
	// Off again: on reload the previous worker may have written these
	// lines since NewController, last with its own off level, which is the
	// lit level of an LED whose active_low changed. Watched like any
	// step: a write may hang here too.
	c.watch.Working(time.Now())
	c.allOff()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		c.watch.Working(now)
		next := c.step(now)
		c.watch.Waiting()
		if next.IsZero() {
			timer.Reset(time.Hour)
		} else {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// Done is closed when Run has returned and the LEDs are off.
func (c *Controller) Done() <-chan struct{} { return c.done }

// Healthy reports nil unless the worker has been stuck in one step (a pin
// write that does not return) for longer than limit.
func (c *Controller) Healthy(limit time.Duration) error {
	if busy := c.watch.Stuck(time.Now(), limit); busy > 0 {
		return fmt.Errorf("gpio: LED worker stuck for %v", busy.Round(time.Millisecond))
	}
	return nil
}

// Stats counts what the worker did.
type Stats struct {
	Changes uint64 // pin writes that succeeded, the offs at start and end included
	Errors  uint64 // pin writes that failed
	// Taken counts, by Event, the events the worker took in to show. The
	// rest of a flood folds into a pending flag uncounted, so that Notify
	// stays a single load; events notified minus events taken is how many
	// were coalesced.
	Taken [numEvents]uint64
}

// Shows reports whether some LED shows e, so Notify(e) is not a no-op.
func (c *Controller) Shows(e Event) bool {
	return e >= 0 && e < numEvents && c.subscribed[e]
}

func (c *Controller) Stats() Stats {
	st := Stats{Changes: c.changes.Load(), Errors: c.errors.Load()}
	for e := range numEvents {
		st.Taken[e] = c.taken[e].Load()
	}
	return st
}

// step takes in pending events, advances every LED and returns when it
// next needs attention (zero for "only when woken").
func (c *Controller) step(now time.Time) time.Time {
	// An event is taken in only by an LED with none waiting already.
	// Otherwise it stays pending, so that Notify returns at its first load
	// and the worker sleeps until its timer instead of waking for every
	// event of a flood.
	var room [numEvents]bool
	for _, s := range c.leds {
		room[s.On] = room[s.On] || !s.wanted
	}
	var fired [numEvents]bool
	for e := range numEvents {
		if room[e] && e != EventClients && e != EventHeartbeat {
			if fired[e] = c.pending[e].Swap(false); fired[e] {
				c.taken[e].Add(1)
			}
		}
	}
	connected := c.clients() > 0
	var next time.Time
	for _, s := range c.leds {
		if fired[s.On] {
			s.wanted = true
		}
		t := c.advance(s, now, connected)
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// advance moves one LED along its pattern and returns when it next needs
// attention.
func (c *Controller) advance(s *ledState, now time.Time, connected bool) time.Time {
	switch {
	case s.On == EventClients:
		if s.lit != connected {
			c.write(s, connected)
		}
		return time.Time{}
	case s.On == EventHeartbeat:
		return c.heartbeat(s, now)
	case now.Before(s.until):
		return s.until // lit, or holding dark or still after a change
	case s.lit && s.Action == ActionBlink:
		// End of the lit half: stay dark for as long, so that a flood
		// reads as a flicker and never as a steady light.
		s.until = c.write(s, false).Add(s.Duration)
		return s.until
	case s.wanted:
		s.wanted = false
		lit := true
		if s.Action == ActionToggle {
			lit = !s.lit
		}
		s.until = c.write(s, lit).Add(s.Duration)
		return s.until
	}
	return time.Time{}
}

// heartbeat plays the kernel heartbeat trigger's double pulse once per
// period while the daemon is healthy: lit for 7% of the period, dark 18%,
// lit 7%, dark for the rest. An unhealthy daemon's LED stays dark.
func (c *Controller) heartbeat(s *ledState, now time.Time) time.Time {
	if now.Before(s.until) {
		return s.until
	}
	p := s.Duration
	switch s.phase {
	case 0:
		if c.healthy != nil && c.healthy() != nil {
			s.until = c.write(s, false).Add(p)
			return s.until
		}
		s.until = c.write(s, true).Add(p * 7 / 100)
	case 1:
		s.until = c.write(s, false).Add(p * 18 / 100)
	case 2:
		s.until = c.write(s, true).Add(p * 7 / 100)
	case 3:
		s.until = c.write(s, false).Add(p * 68 / 100)
	}
	s.phase = (s.phase + 1) % 4
	return s.until
}

// write drives s's pin and returns when it is done, which is when the new
// spell begins: timing spells from the clock read at the start of the step
// would let a worker held up before the write (a slow line, a loaded CPU)
// shorten the spell it then starts, down to a steady light under a flood.
func (c *Controller) write(s *ledState, lit bool) time.Time {
	s.lit = lit
	level := periphgpio.Level(lit != s.ActiveLow)
	if err := s.pin.Out(level); err != nil {
		if c.errors.Add(1) == 1 || !s.failing {
			c.log.Warn("LED write failed", "name", s.Name, "pin", s.Pin, "err", err)
		}
		s.failing = true
		return time.Now()
	}
	s.failing = false
	c.changes.Add(1)
	return time.Now()
}

func (c *Controller) allOff() {
	for _, s := range c.leds {
		c.write(s, false)
	}
}

// ledState is one LED as the worker sees it; only the worker touches it.
type ledState struct {
	LED
	pin     Output
	lit     bool
	wanted  bool      // an event is waiting to be shown
	until   time.Time // the current lit or dark spell ends
	phase   int       // heartbeat step
	failing bool      // the last write failed (log once per failure spell)
}
