package gpio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	periphgpio "periph.io/x/conn/v3/gpio"
)

// rig is a Controller on recording pins, its worker running until the
// test ends.
type rig struct {
	c      *Controller
	pins   map[string]*recPin
	cancel context.CancelFunc
}

// newRig builds a controller for leds, each pin starting at its LED's lit
// level so that the test can see NewController drive it off.
func newRig(t *testing.T, leds []LED, opts Options) *rig {
	t.Helper()
	r := &rig{pins: map[string]*recPin{}}
	outs := map[string]Output{}
	for _, l := range leds {
		p := newRecPin(l.Pin)
		p.L = periphgpio.Level(!l.ActiveLow) // lit
		r.pins[l.Pin] = p
		outs[l.Pin] = p
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := NewController(leds, outs, opts)
	if err != nil {
		t.Fatalf("NewController: %v", err)
	}
	r.c = c
	return r
}

// run starts the worker; it is stopped, and its end awaited, at cleanup.
func (r *rig) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.c.Run(ctx)
	t.Cleanup(r.stop)
}

func (r *rig) stop() {
	r.cancel()
	<-r.c.Done()
}

var eventsShown = []Event{EventConnect, EventDisconnect, EventMessage}

func polarities() []bool { return []bool{false, true} }

func TestNewControllerDrivesEveryLEDOff(t *testing.T) {
	for _, activeLow := range polarities() {
		t.Run(fmt.Sprintf("active_low=%v", activeLow), func(t *testing.T) {
			leds := []LED{
				{Name: "a", Pin: "P1", On: EventMessage, Action: ActionBlink, ActiveLow: activeLow},
				{Name: "b", Pin: "P2", On: EventClients, Action: ActionLevel, ActiveLow: activeLow},
				{Name: "c", Pin: "P3", On: EventHeartbeat, Action: ActionBlink, ActiveLow: activeLow},
			}
			r := newRig(t, leds, Options{})
			for _, l := range leds {
				p := r.pins[l.Pin]
				if p.lit(activeLow) {
					t.Errorf("LED %s lit after NewController; want off", l.Name)
				}
				if got, want := p.Read(), periphgpio.Level(activeLow); got != want {
					t.Errorf("pin %s level = %v, want %v", l.Pin, got, want)
				}
			}
		})
	}
}

func TestNewControllerErrors(t *testing.T) {
	pins := map[string]Output{"P1": newRecPin("P1")}
	tests := []struct {
		led  LED
		want string
	}{
		{LED{Name: "x", Pin: "P9", On: EventMessage, Action: ActionBlink}, `gpio: led "x": pin "P9" was not opened`},
		{LED{Name: "x", Pin: "P1", On: EventMessage, Action: ActionLevel}, `gpio: led "x": event message takes action blink or toggle, not level`},
	}
	for _, tt := range tests {
		_, err := NewController([]LED{tt.led}, pins, Options{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewController(%+v) = %v, want %q", tt.led, err, tt.want)
		}
	}
}

func TestBlinkShowsEachEvent(t *testing.T) {
	const d = 30 * time.Millisecond
	for _, ev := range eventsShown {
		for _, activeLow := range polarities() {
			t.Run(fmt.Sprintf("%v/active_low=%v", ev, activeLow), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					led := LED{Name: "l", Pin: "P", On: ev, Action: ActionBlink, Duration: d, ActiveLow: activeLow}
					r := newRig(t, []LED{led}, Options{})
					p := r.pins["P"]
					r.run(t)

					// Events the LED does not show leave it alone.
					for e := range numEvents {
						if e != ev {
							r.c.Notify(e)
						}
					}
					r.c.ClientsChanged()
					time.Sleep(3 * d)
					if got := p.numWrites(); got != 2 {
						t.Fatalf("after other events: %d pin writes, want only NewController's and Run's off: %v", got, p.history())
					}

					r.c.Notify(ev)
					// The history, not the pin: a poll on a loaded machine may
					// miss a whole blink.
					gatewaytest.Eventually(t, "the LED to light", func() bool { return transitionsToLit(p.history(), activeLow) == 1 })
					gatewaytest.Eventually(t, "the LED to go dark again", func() bool { return !p.lit(activeLow) })
					ss := spells(p.history(), activeLow)
					if len(ss) != 2 || !ss[1].lit {
						t.Fatalf("spells = %+v, want dark then one lit spell", ss)
					}
					if on := ss[1].length(); on < d {
						t.Errorf("lit for %v, want about %v", on, d)
					}
				})
			})
		}
	}
}

func TestToggleFlipsAtMostOncePerDuration(t *testing.T) {
	const d = 40 * time.Millisecond
	for _, ev := range eventsShown {
		for _, activeLow := range polarities() {
			t.Run(fmt.Sprintf("%v/active_low=%v", ev, activeLow), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					led := LED{Name: "l", Pin: "P", On: ev, Action: ActionToggle, Duration: d, ActiveLow: activeLow}
					r := newRig(t, []LED{led}, Options{})
					p := r.pins["P"]
					r.run(t)

					r.c.Notify(ev)
					gatewaytest.Eventually(t, "the first toggle to light the LED", func() bool { return p.lit(activeLow) })
					r.c.Notify(ev) // held back until d has passed, then shown
					gatewaytest.Eventually(t, "the second toggle to darken the LED", func() bool { return !p.lit(activeLow) })
					ws := p.history()
					if len(ws) != 4 {
						t.Fatalf("writes = %v, want off, off, on, off", ws)
					}
					if gap := ws[3].at.Sub(ws[2].at); gap < d {
						t.Errorf("second flip %v after the first, want at least %v", gap, d)
					}
					time.Sleep(3 * d)
					if got := p.numWrites(); got != 4 {
						t.Errorf("%d writes after the events were shown, want 4: a toggle must not repeat", got)
					}
				})
			})
		}
	}
}

func TestClientsLevel(t *testing.T) {
	for _, activeLow := range polarities() {
		t.Run(fmt.Sprintf("active_low=%v", activeLow), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var clients atomic.Int64
				led := LED{Name: "l", Pin: "P", On: EventClients, Action: ActionLevel, ActiveLow: activeLow}
				r := newRig(t, []LED{led}, Options{Clients: func() int { return int(clients.Load()) }})
				p := r.pins["P"]
				r.run(t)

				steps := []struct {
					clients int64
					lit     bool
				}{{1, true}, {3, true}, {0, false}, {2, true}, {0, false}}
				for _, s := range steps {
					clients.Store(s.clients)
					r.c.ClientsChanged()
					gatewaytest.Eventually(t, fmt.Sprintf("lit=%v with %d clients", s.lit, s.clients), func() bool { return p.lit(activeLow) == s.lit })
				}
				// 5 steps, 4 changes of level, plus the initial offs.
				gatewaytest.Eventually(t, "the writes to settle", func() bool { return len(p.history()) >= 6 })
				time.Sleep(50 * time.Millisecond)
				if got, want := transitionsToLit(p.history(), activeLow), 2; got != want {
					t.Errorf("lit %d times, want %d: %v", got, want, p.history())
				}
			})
		})
	}
}

func TestFloodIsCoalesced(t *testing.T) {
	const (
		d         = 20 * time.Millisecond
		flood     = 500 * time.Millisecond
		notifiers = 1000
	)
	led := LED{Name: "activity", Pin: "P", On: EventMessage, Action: ActionBlink, Duration: d}
	// The worker asks Clients once per step: count its wake-ups.
	var steps atomic.Int64
	r := newRig(t, []LED{led}, Options{Clients: func() int { steps.Add(1); return 0 }})
	p := r.pins["P"]
	r.run(t)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var calls atomic.Int64
	start := time.Now()
	for range notifiers {
		wg.Go(func() {
			n := int64(0)
			for !stop.Load() {
				r.c.Notify(EventMessage)
				n++
				// Echo goroutines wait on the network between messages;
				// spinning ones would starve the test's own goroutine.
				runtime.Gosched()
			}
			calls.Add(n)
		})
	}
	time.Sleep(flood)
	stop.Store(true)
	wg.Wait()
	end := time.Now()
	stepsDuring := steps.Load()
	elapsed := end.Sub(start)

	var during []write
	for _, w := range p.history()[2:] { // NewController's and Run's off
		if !w.at.After(end) {
			during = append(during, w)
		}
	}
	// The worker lights the LED at most once per 2*d (d lit, d dark), so
	// over elapsed it writes at most 2 per 2*d, plus the one it may have
	// begun just before the window and the last, unfinished blink.
	limit := 2*int(elapsed/(2*d)) + 4
	st := r.c.Stats()
	t.Logf("%d Notify calls in %v: %d pin writes (limit %d), %d worker steps, stats %+v", calls.Load(), elapsed.Round(time.Millisecond), len(during), limit, stepsDuring, st)
	if len(during) > limit {
		t.Errorf("%d pin writes in %v with duration %v, want at most %d", len(during), elapsed, d, limit)
	}
	// The worker wakes for its spells, not for every event: a flood
	// leaves the event pending, and Notify returns at its first load.
	if limitSteps := int64(2*limit + 10); stepsDuring > limitSteps {
		t.Errorf("the worker stepped %d times during the flood, want at most %d: it must not wake for every event", stepsDuring, limitSteps)
	}
	if blinks := transitionsToLit(during, false); blinks < 1 {
		t.Errorf("the LED never lit during the flood")
	}
	// Each lit spell lasts d and each dark spell between blinks at least
	// d, measured from the writes: a flood is a flicker, never a steady
	// light. Slowness only lengthens spells.
	for _, s := range spells(during, false) {
		if s.length() < d {
			t.Errorf("%s spell of %v during the flood, want at least %v", map[bool]string{true: "lit", false: "dark"}[s.lit], s.length(), d)
		}
	}

	gatewaytest.Eventually(t, "a flicker: at least two blinks", func() bool { return transitionsToLit(p.history(), false) >= 2 })
	gatewaytest.Eventually(t, "the LED to go dark after the flood", func() bool { return !p.lit(false) })
}

func TestSingleMessageAfterQuietShows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 20 * time.Millisecond
		led := LED{Name: "activity", Pin: "P", On: EventMessage, Action: ActionBlink, Duration: d}
		r := newRig(t, []LED{led}, Options{})
		p := r.pins["P"]
		r.run(t)

		// A burst, then quiet, then one message: it must light the LED again.
		for range 100 {
			r.c.Notify(EventMessage)
		}
		gatewaytest.Eventually(t, "the burst to light the LED", func() bool { return transitionsToLit(p.history(), false) >= 1 })
		quiet := func() bool {
			n := p.numWrites()
			time.Sleep(5 * d)
			return !p.lit(false) && p.numWrites() == n
		}
		for round := range 3 {
			gatewaytest.Eventually(t, "a quiet spell", quiet)
			before := transitionsToLit(p.history(), false)
			r.c.Notify(EventMessage)
			gatewaytest.Eventually(t, fmt.Sprintf("message %d to light the LED", round), func() bool {
				return transitionsToLit(p.history(), false) > before
			})
		}
	})
}

func TestHeartbeatDoublePulsesWhileHealthy(t *testing.T) {
	const period = 400 * time.Millisecond
	for _, activeLow := range polarities() {
		t.Run(fmt.Sprintf("active_low=%v", activeLow), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				led := LED{Name: "hb", Pin: "P", On: EventHeartbeat, Action: ActionBlink, Duration: period, ActiveLow: activeLow}
				r := newRig(t, []LED{led}, Options{Healthy: func() error { return nil }})
				p := r.pins["P"]
				r.run(t)

				// A double pulse: two short flashes close together, then a long
				// rest. Wait until one has been seen whole.
				var ss []spell
				gatewaytest.Eventually(t, "a double pulse", func() bool {
					ss = spells(p.history(), activeLow)
					if len(ss) > 0 {
						ss = ss[1:] // skip the initial dark
					}
					for i := 0; i+3 < len(ss); i++ {
						if ss[i].lit && ss[i+1].length() < period*40/100 && ss[i+2].lit && ss[i+3].length() >= period*68/100 {
							return true
						}
					}
					return false
				})
				// Whatever the scheduling, no flash is shorter than 7% of the
				// period, no gap shorter than 18%, and no two short gaps follow
				// each other: the pattern never degrades into a steady light.
				// (Slowness only lengthens spells.)
				for i, s := range ss {
					switch {
					case s.lit && s.length() < period*7/100:
						t.Errorf("flash %d lasted %v, want about %v", i, s.length(), period*7/100)
					case !s.lit && s.length() < period*18/100:
						t.Errorf("gap %d lasted %v, want at least about %v", i, s.length(), period*18/100)
					case !s.lit && i >= 2 && ss[i-2].length() < period*68/100 && s.length() < period*68/100:
						t.Errorf("gaps %d and %d both short (%v, %v): want a rest after each double pulse", i-2, i, ss[i-2].length(), s.length())
					}
				}
			})
		})
	}
}

func TestHeartbeatDarkWhileUnhealthy(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const period = 100 * time.Millisecond
		var sick atomic.Bool
		sick.Store(true)
		healthy := func() error {
			if sick.Load() {
				return errors.New("accept loop stuck")
			}
			return nil
		}
		led := LED{Name: "hb", Pin: "P", On: EventHeartbeat, Action: ActionBlink, Duration: period}
		r := newRig(t, []LED{led}, Options{Healthy: healthy})
		p := r.pins["P"]
		r.run(t)

		time.Sleep(4 * period)
		if n := transitionsToLit(p.history(), false); n != 0 {
			t.Fatalf("heartbeat lit %d times while unhealthy, want dark", n)
		}
		sick.Store(false)
		gatewaytest.Eventually(t, "the heartbeat to resume once healthy", func() bool { return transitionsToLit(p.history(), false) >= 2 })
		sick.Store(true)
		gatewaytest.Eventually(t, "the heartbeat to stop once unhealthy", func() bool {
			before := p.history()
			time.Sleep(3 * period)
			after := p.history()
			return !p.lit(false) && transitionsToLit(after, false) == transitionsToLit(before, false)
		})
	})
}

func TestHeartbeatStopsWhenWorkerStuck(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const period = 100 * time.Millisecond
		leds := []LED{
			{Name: "hb", Pin: "HB", On: EventHeartbeat, Action: ActionBlink, Duration: period},
			{Name: "activity", Pin: "ACT", On: EventMessage, Action: ActionBlink, Duration: 10 * time.Millisecond},
		}
		r := newRig(t, leds, Options{})
		hb, act := r.pins["HB"], r.pins["ACT"]
		r.run(t)

		gatewaytest.Eventually(t, "the heartbeat to beat", func() bool { return transitionsToLit(hb.history(), false) >= 2 })
		if err := r.c.Healthy(5 * time.Second); err != nil {
			t.Fatalf("Healthy before the hang: %v", err)
		}

		release := act.hang()
		r.c.Notify(EventMessage)
		<-act.entered
		const stall = 50 * time.Millisecond
		gatewaytest.Eventually(t, "Healthy to report the stuck worker", func() bool { return r.c.Healthy(stall) != nil })
		if err := r.c.Healthy(stall); !strings.Contains(err.Error(), "gpio: LED worker stuck for") {
			t.Errorf("Healthy = %q, want it to say the worker is stuck", err)
		}
		frozen := hb.numWrites()
		time.Sleep(3 * period)
		if got := hb.numWrites(); got != frozen {
			t.Errorf("heartbeat pin written %d times while the worker was stuck, want 0", got-frozen)
		}

		release()
		gatewaytest.Eventually(t, "the heartbeat to resume", func() bool { return hb.numWrites() > frozen+1 })
		gatewaytest.Eventually(t, "Healthy to clear", func() bool { return r.c.Healthy(5*time.Second) == nil })
	})
}

func TestEveryLEDOffAfterRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var clients atomic.Int64
		clients.Store(1)
		leds := []LED{
			{Name: "blink", Pin: "P1", On: EventMessage, Action: ActionBlink, Duration: time.Hour},
			{Name: "toggle", Pin: "P2", On: EventConnect, Action: ActionToggle, Duration: time.Hour, ActiveLow: true},
			{Name: "level", Pin: "P3", On: EventClients, Action: ActionLevel},
			{Name: "heartbeat", Pin: "P4", On: EventHeartbeat, Action: ActionBlink, Duration: time.Hour, ActiveLow: true},
		}
		r := newRig(t, leds, Options{Clients: func() int { return int(clients.Load()) }})
		ctx, cancel := context.WithCancel(context.Background())
		go r.c.Run(ctx)
		r.c.Notify(EventMessage)
		r.c.Notify(EventConnect)
		r.c.ClientsChanged()
		for _, l := range leds {
			gatewaytest.Eventually(t, l.Name+" to light", func() bool { return r.pins[l.Pin].lit(l.ActiveLow) })
		}
		cancel()
		<-r.c.Done()
		for _, l := range leds {
			if r.pins[l.Pin].lit(l.ActiveLow) {
				t.Errorf("LED %s still lit after Run returned", l.Name)
			}
		}
	})
}

func TestStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = time.Hour // nothing here may wait on the timer
		leds := []LED{
			{Name: "blink", Pin: "P1", On: EventMessage, Action: ActionBlink, Duration: d},
			{Name: "toggle", Pin: "P2", On: EventConnect, Action: ActionToggle, Duration: d},
		}
		var logs bytes.Buffer
		var logMu sync.Mutex
		r := newRig(t, leds, Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))})
		if got, want := r.c.Stats(), (Stats{Changes: 2}); got != want {
			t.Fatalf("after NewController: Stats = %+v, want %+v", got, want)
		}
		r.run(t)

		// The first message lights the blink LED; the next waits for its
		// spells to end and changes nothing yet.
		r.c.Notify(EventMessage)
		wantStats(t, r.c, Stats{Changes: 5, Taken: [numEvents]uint64{EventMessage: 1, EventConnect: 0}})
		r.c.Notify(EventMessage)
		gatewaytest.Eventually(t, "the worker to take in the second message", func() bool { return !r.c.pending[EventMessage].Load() })
		wantStats(t, r.c, Stats{Changes: 5, Taken: [numEvents]uint64{EventMessage: 2, EventConnect: 0}})

		// The first connect flips the toggle, and the write fails; the second
		// waits for d.
		r.pins["P2"].failWith(errBroken)
		r.c.Notify(EventConnect)
		wantStats(t, r.c, Stats{Changes: 5, Errors: 1, Taken: [numEvents]uint64{EventMessage: 2, EventConnect: 1}})
		r.c.Notify(EventConnect)
		gatewaytest.Eventually(t, "the worker to take in the second connect", func() bool { return !r.c.pending[EventConnect].Load() })
		wantStats(t, r.c, Stats{Changes: 5, Errors: 1, Taken: [numEvents]uint64{EventMessage: 2, EventConnect: 2}})

		// Run writes both LEDs off as it starts (above) and as it ends: one
		// succeeds, one fails.
		r.stop()
		if got, want := r.c.Stats(), (Stats{Changes: 6, Errors: 2, Taken: [numEvents]uint64{EventMessage: 2, EventConnect: 2}}); got != want {
			t.Errorf("after Run: Stats = %+v, want %+v", got, want)
		}
		logMu.Lock()
		defer logMu.Unlock()
		// Logged once per failing spell, not once per write.
		if got := strings.Count(logs.String(), `msg="LED write failed" name=toggle pin=P2 err="line broken"`); got != 1 {
			t.Errorf("write failure logged %d times, want 1:\n%s", got, logs.String())
		}
	})
}

func TestStatsTakenCountsShownEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A flood during one blink folds into the pending flag: of 101
		// notifications at most 3 are taken in and shown, the rest coalesced.
		leds := []LED{{Name: "act", Pin: "ACT", On: EventMessage, Action: ActionBlink, Duration: 100 * time.Millisecond}}
		r := newRig(t, leds, Options{})
		act := r.pins["ACT"]
		r.run(t)

		r.c.Notify(EventMessage)
		gatewaytest.Eventually(t, "the first blink", func() bool { return transitionsToLit(act.history(), false) >= 1 })
		for range 100 {
			r.c.Notify(EventMessage)
		}
		gatewaytest.Eventually(t, "the second blink", func() bool { return transitionsToLit(act.history(), false) >= 2 })
		// The flood is taken in at most twice: once while the first blink is
		// lit (an LED holds one waiting event) and once when that is shown.
		time.Sleep(500 * time.Millisecond) // room for more blinks, which must not come
		taken := r.c.Stats().Taken[EventMessage]
		if taken < 2 || taken > 3 {
			t.Errorf("Taken[message] = %d after 101 notifications; want 2 or 3", taken)
		}
		if got := transitionsToLit(act.history(), false); uint64(got) != taken {
			t.Errorf("%d blinks for %d events taken; want one each", got, taken)
		}
		if !r.c.Shows(EventMessage) || r.c.Shows(EventConnect) {
			t.Errorf("Shows(message), Shows(connect) = %v, %v; want true, false", r.c.Shows(EventMessage), r.c.Shows(EventConnect))
		}
	})
}

// wantStats waits for the worker to reach want, and checks it goes no
// further.
func wantStats(t *testing.T, c *Controller, want Stats) {
	t.Helper()
	gatewaytest.Eventually(t, fmt.Sprintf("Stats = %+v", want), func() bool { return c.Stats() == want })
	time.Sleep(20 * time.Millisecond)
	if got := c.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
