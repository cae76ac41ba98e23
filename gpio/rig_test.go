package gpio

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// newSimRig is a Rig on the sim driver, logging to the returned buffer,
// closed when the test ends.
func newSimRig(t *testing.T, leds []LED) (*Rig, *logBuffer) {
	t.Helper()
	var logs logBuffer
	r, err := NewRig(DriverSim, leds, RigOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatalf("NewRig: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r, &logs
}

func heldPins(r *Rig) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return heldNames(r.board)
}

func TestRigShowsEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leds := []LED{
			{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: 50 * time.Millisecond},
			{Name: "connected", Pin: "GPIO17", On: EventClients, Action: ActionLevel},
		}
		r, logs := newSimRig(t, leds)
		synctest.Wait()

		r.ClientsChanged(+1)
		r.Notify(EventConnect)
		synctest.Wait()
		r.Notify(EventMessage)
		synctest.Wait()
		time.Sleep(time.Second) // the blink ends
		r.ClientsChanged(-1)
		r.Notify(EventDisconnect)
		synctest.Wait()

		want := []string{
			`level=INFO msg=led name=activity pin=GPIO27 state=off`,
			`level=INFO msg=led name=connected pin=GPIO17 state=off`,
			`level=INFO msg=led name=connected pin=GPIO17 state=on`,
			`level=INFO msg=led name=activity pin=GPIO27 state=on`,
			`level=INFO msg=led name=activity pin=GPIO27 state=off`,
			`level=INFO msg=led name=connected pin=GPIO17 state=off`,
		}
		if got := ledLines(logs.lines()); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if err := r.Healthy(time.Second); err != nil {
			t.Errorf("Healthy = %v, want nil", err)
		}
	})
}

func TestRigApplySwapsLEDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old := []LED{
			{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Hour},
			{Name: "connected", Pin: "GPIO17", On: EventClients, Action: ActionLevel},
		}
		r, logs := newSimRig(t, old)
		r.ClientsChanged(+1)
		synctest.Wait()

		// GPIO27 kept under a new name and polarity, GPIO17 dropped, GPIO22
		// new; the client count carries over to the new worker.
		renamed := []LED{
			{Name: "traffic", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Hour, ActiveLow: true},
			{Name: "online", Pin: "GPIO22", On: EventClients, Action: ActionLevel},
		}
		before := len(ledLines(logs.lines()))
		if err := r.Apply(DriverSim, renamed); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		synctest.Wait()
		if got, want := heldPins(r), "GPIO22,GPIO27"; got != want {
			t.Errorf("held after Apply = %s, want %s", got, want)
		}
		r.Notify(EventMessage)
		synctest.Wait()

		got := ledLines(logs.lines())[before:]
		want := []string{
			// The old worker stops and drives its LEDs off as it goes.
			`level=INFO msg=led name=connected pin=GPIO17 state=off`,
			// The new one starts with every LED off, then shows the state.
			`level=INFO msg=led name=traffic pin=GPIO27 state=off`,
			`level=INFO msg=led name=online pin=GPIO22 state=off`,
			`level=INFO msg=led name=online pin=GPIO22 state=on`,
			`level=INFO msg=led name=traffic pin=GPIO27 state=on`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("log after Apply:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(strings.Join(logs.lines(), "\n"), `msg="LEDs applied" driver=sim leds=2`) {
			t.Errorf("Apply did not log what it applied:\n%s", strings.Join(logs.lines(), "\n"))
		}
	})
}

// A configuration the old LEDs cannot be swapped for leaves them working.
func TestRigApplyFailureKeepsOldLEDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old := []LED{{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionToggle, Duration: time.Millisecond}}
		r, logs := newSimRig(t, old)

		type applyCase struct {
			name string
			d    Driver
			leds []LED
			want string
		}
		tests := []applyCase{
			{"invalid LED", DriverSim, []LED{{Name: "x", Pin: "GPIO5", On: EventMessage, Action: ActionLevel}},
				`gpio: led "x": event message takes action blink or toggle, not level`},
		}
		if len(gpioChipPaths()) == 0 { // else periph could open, and the claim fail otherwise
			tests = append(tests, applyCase{"driver that cannot open", DriverPeriph, []LED{{Name: "y", Pin: "GPIO5", On: EventMessage, Action: ActionBlink}},
				"gpio: this host has no GPIO lines (no /dev/gpiochip*)"})
		}
		for _, tt := range tests {
			if err := r.Apply(tt.d, tt.leds); err == nil || err.Error() != tt.want {
				t.Errorf("%s: Apply = %v, want %q", tt.name, err, tt.want)
			}
			if got := heldPins(r); got != "GPIO27" {
				t.Errorf("%s: held after a failed Apply = %s, want GPIO27", tt.name, got)
			}
			before := len(ledLines(logs.lines()))
			r.Notify(EventMessage)
			synctest.Wait()
			if got := ledLines(logs.lines())[before:]; len(got) != 1 || !strings.Contains(got[0], "name=activity pin=GPIO27") {
				t.Errorf("%s: after a failed Apply a message logged %q, want the old LED to toggle", tt.name, got)
			}
			time.Sleep(time.Second)
		}
	})
}

// A worker stuck in a pin write cannot be swapped out: Apply must say so
// and release every line and board it claimed for the swap, and a later
// Apply, once the write returns, must succeed.
func TestRigApplyWithStuckWorkerReleasesNewClaims(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    Driver // the driver applied; sim is the running one
	}{
		{"same driver: new lines released", DriverSim},
		{"new driver: new board closed", DriverAuto},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testStuckApply(t, tt.d) })
		})
	}
}

func testStuckApply(t *testing.T, d Driver) {
	act := newRecPin("GPIO27")
	old := []LED{{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Millisecond}}
	var logs logBuffer
	board, err := Open(DriverSim, nil, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	board.held["GPIO27"] = act // claimed as a line that can hang
	const halt = 2 * time.Second
	r, err := rigOnBoard(board, DriverSim, old, RigOptions{Logger: logs.logger(), HaltTimeout: halt})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Wait() // the worker's first offs are written
	var opened []*Board
	r.open = func(d Driver, leds []LED, log *slog.Logger) (*Board, error) {
		b, err := Open(d, leds, log)
		if err == nil {
			opened = append(opened, b)
		}
		return b, err
	}

	release := act.hang()
	r.Notify(EventMessage)
	<-act.entered

	next := []LED{
		{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Millisecond},
		{Name: "connected", Pin: "GPIO22", On: EventClients, Action: ActionLevel},
	}
	start := time.Now()
	if err := r.Apply(d, next); !errors.Is(err, ErrWorkerStuck) {
		t.Fatalf("Apply with a stuck worker = %v, want ErrWorkerStuck", err)
	}
	if waited := time.Since(start); waited != halt {
		t.Errorf("Apply waited %v for the stuck worker, want the halt timeout %v", waited, halt)
	}
	if got := heldPins(r); got != "GPIO27" {
		t.Errorf("held after the stuck Apply = %s, want GPIO27 alone: the new line must be released", got)
	}
	for _, b := range opened {
		if got := heldNames(b); got != "" {
			t.Errorf("the board opened for the stuck Apply still holds %s, want it closed", got)
		}
	}
	if err := r.Healthy(time.Second); err == nil || !strings.Contains(err.Error(), "gpio: LED worker stuck for") {
		t.Errorf("Healthy with a stuck worker = %v, want it to say so", err)
	}

	// The write returns; the worker, told to stop, drives its LED off and
	// ends. The next Apply swaps as usual.
	release()
	synctest.Wait()
	if err := r.Apply(d, next); err != nil {
		t.Fatalf("Apply once the write returned: %v", err)
	}
	if got := heldPins(r); got != "GPIO22,GPIO27" {
		t.Errorf("held after Apply = %s, want GPIO22,GPIO27", got)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := heldPins(r); got != "" {
		t.Errorf("held after Close = %s, want none", got)
	}
	if err := r.Healthy(time.Second); err == nil || err.Error() != "gpio: LED worker stopped" {
		t.Errorf("Healthy after Close = %v, want the worker stopped", err)
	}
}

// Close with a stuck worker keeps the lines, which the worker may still
// write, and a later Close, once the write returns, releases them.
func TestRigCloseWithStuckWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := newRecPin("GPIO27")
		board, err := Open(DriverSim, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		board.held["GPIO27"] = act
		leds := []LED{{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Millisecond}}
		r, err := rigOnBoard(board, DriverSim, leds, RigOptions{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		release := act.hang()
		r.Notify(EventMessage)
		<-act.entered
		if err := r.Close(); !errors.Is(err, ErrWorkerStuck) {
			t.Errorf("Close with a stuck worker = %v, want ErrWorkerStuck", err)
		}
		if got := heldPins(r); got != "GPIO27" {
			t.Errorf("held after a stuck Close = %s, want GPIO27", got)
		}
		release()
		if err := r.Close(); err != nil {
			t.Errorf("Close once the write returned: %v", err)
		}
		if got := heldPins(r); got != "" {
			t.Errorf("held after Close = %s, want none", got)
		}
		if act.lit(false) {
			t.Errorf("LED lit after Close, want off")
		}
	})
}

// The rig counts what it was notified, so Coalesced needs nothing from the
// caller, and it carries every count across Apply.
func TestRigTotals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leds := []LED{{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Hour}}
		r, _ := newSimRig(t, leds)
		synctest.Wait()
		// NewController's off and Run's off.
		if got, want := r.Totals(), (Totals{Changes: 2}); got != want {
			t.Errorf("at start: Totals = %+v, want %+v", got, want)
		}

		// The first message lights the LED; the second waits for the blink
		// to end; the other 99 fold into it. Events no LED shows are not
		// counted at all.
		r.Notify(EventMessage)
		synctest.Wait()
		for range 100 {
			r.Notify(EventMessage)
			r.Notify(EventConnect)
		}
		synctest.Wait()
		if got, want := r.Totals(), (Totals{Changes: 3, Coalesced: 99}); got != want {
			t.Errorf("after 101 messages: Totals = %+v, want %+v", got, want)
		}

		// Apply: the old worker's off at its end, the new worker's two
		// offs; the counts so far carry over.
		if err := r.Apply(DriverSim, []LED{{Name: "traffic", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Hour}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := r.Totals(), (Totals{Changes: 6, Coalesced: 99}); got != want {
			t.Errorf("after Apply: Totals = %+v, want %+v", got, want)
		}
		r.Notify(EventMessage)
		synctest.Wait()
		for range 10 {
			r.Notify(EventMessage)
		}
		synctest.Wait()
		if got, want := r.Totals(), (Totals{Changes: 7, Coalesced: 108}); got != want {
			t.Errorf("after 11 more messages: Totals = %+v, want %+v", got, want)
		}
	})
}

func TestRigHealthyWhileReloading(t *testing.T) {
	r, _ := newSimRig(t, nil)
	r.reloading.Store(true)
	defer r.reloading.Store(false)
	if err := r.Healthy(0); err != nil {
		t.Errorf("Healthy while reloading = %v, want nil", err)
	}
}

func TestRigApplyAfterClose(t *testing.T) {
	r, err := NewRig(DriverSim, nil, RigOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := r.Apply(DriverSim, nil); err == nil {
		t.Errorf("Apply after Close succeeded, want an error")
	}
}

func TestNewRigErrors(t *testing.T) {
	bad := []LED{{Name: "x", Pin: "GPIO5", On: EventMessage, Action: ActionLevel}}
	if _, err := NewRig(DriverSim, bad, RigOptions{}); err == nil || err.Error() != `gpio: led "x": event message takes action blink or toggle, not level` {
		t.Errorf("NewRig(invalid LED) = %v, want the LED named", err)
	}
	if _, err := NewRig(Driver(7), nil, RigOptions{}); err == nil || err.Error() != "gpio: unknown driver Driver(7)" {
		t.Errorf("NewRig(Driver(7)) = %v, want an unknown driver error", err)
	}
}
