package gpio

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	periphgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3/gpioioctl"
)

// logBuffer collects a logger's lines without time stamps; it is safe for
// the LED worker and the test to use at once.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSuffix(b.buf.String(), "\n"), "\n")
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// ledLines keeps the sim driver's LED lines.
func ledLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, "msg=led ") {
			out = append(out, l)
		}
	}
	return out
}

func openSim(t *testing.T, leds []LED) (*Board, *logBuffer) {
	t.Helper()
	var logs logBuffer
	b, err := Open(DriverSim, leds, logs.logger())
	if err != nil {
		t.Fatalf("Open(sim): %v", err)
	}
	t.Cleanup(b.Close)
	return b, &logs
}

func TestSimLogsEachChange(t *testing.T) {
	leds := []LED{
		{Name: "connect", Pin: "GPIO17", On: EventClients, Action: ActionLevel},
		{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, ActiveLow: true},
	}
	b, logs := openSim(t, leds)
	if got := b.Driver(); got != DriverSim {
		t.Errorf("Driver() = %v, want sim", got)
	}
	pins, err := b.Claim(leds)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	writes := []struct {
		pin   string
		level periphgpio.Level
	}{
		{"GPIO17", periphgpio.Low},
		{"GPIO17", periphgpio.High},
		{"GPIO17", periphgpio.High}, // no change: no line
		{"GPIO17", periphgpio.Low},
		{"GPIO27", periphgpio.High}, // active low: off
		{"GPIO27", periphgpio.Low},
		{"GPIO27", periphgpio.High},
	}
	for _, w := range writes {
		if err := pins[w.pin].Out(w.level); err != nil {
			t.Fatalf("%s.Out(%v): %v", w.pin, w.level, err)
		}
	}
	want := []string{
		`level=INFO msg=led name=connect pin=GPIO17 state=off`,
		`level=INFO msg=led name=connect pin=GPIO17 state=on`,
		`level=INFO msg=led name=connect pin=GPIO17 state=off`,
		`level=INFO msg=led name=activity pin=GPIO27 state=off`,
		`level=INFO msg=led name=activity pin=GPIO27 state=on`,
		`level=INFO msg=led name=activity pin=GPIO27 state=off`,
	}
	if got := ledLines(logs.lines()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// LEDs are driven on or off: a sim pin offers no PWM to succeed.
	if _, ok := pins["GPIO17"].(interface {
		PWM(periphgpio.Duty, physic.Frequency) error
	}); ok {
		t.Errorf("a sim pin has a PWM method; want none")
	}
}

func TestSimThroughController(t *testing.T) {
	leds := []LED{{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionToggle, Duration: time.Millisecond, ActiveLow: true}}
	b, logs := openSim(t, leds)
	pins, err := b.Claim(leds)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewController(leds, pins, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go c.Run(ctx)
	c.Notify(EventMessage)
	gatewaytest.Eventually(t, "the toggle", func() bool { return len(ledLines(logs.lines())) == 2 })
	cancel()
	<-c.Done()
	want := []string{
		`level=INFO msg=led name=activity pin=GPIO27 state=off`,
		`level=INFO msg=led name=activity pin=GPIO27 state=on`,
		`level=INFO msg=led name=activity pin=GPIO27 state=off`,
	}
	if got := ledLines(logs.lines()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClaimReusesHeldPinsAndKeepReleases(t *testing.T) {
	a := LED{Name: "a", Pin: "GPIO5", On: EventMessage, Action: ActionBlink}
	b := LED{Name: "b", Pin: "GPIO6", On: EventConnect, Action: ActionBlink}
	c := LED{Name: "c", Pin: "GPIO13", On: EventDisconnect, Action: ActionBlink}
	board, _ := openSim(t, nil)

	first, err := board.Claim([]LED{a, b})
	if err != nil {
		t.Fatal(err)
	}
	second, err := board.Claim([]LED{a, c})
	if err != nil {
		t.Fatal(err)
	}
	if second["GPIO5"] != first["GPIO5"] {
		t.Errorf("Claim opened GPIO5 again; want the held line reused")
	}
	if len(second) != 2 {
		t.Errorf("Claim returned %d pins, want 2: %v", len(second), second)
	}
	if got := heldNames(board); got != "GPIO13,GPIO5,GPIO6" {
		t.Errorf("held after two claims = %s, want GPIO13,GPIO5,GPIO6 (Claim releases nothing)", got)
	}
	board.Keep([]LED{a, c})
	if got := heldNames(board); got != "GPIO13,GPIO5" {
		t.Errorf("held after Keep(a, c) = %s, want GPIO13,GPIO5", got)
	}
	third, err := board.Claim([]LED{b})
	if err != nil {
		t.Fatal(err)
	}
	if third["GPIO6"] == first["GPIO6"] {
		t.Errorf("a released line came back as the same pin; want it opened afresh")
	}
	board.Close()
	if got := heldNames(board); got != "" {
		t.Errorf("held after Close = %s, want none", got)
	}
}

// A claim that fails keeps nothing it did not hold before. The sim driver
// cannot fail, and the periph driver needs real lines to succeed, so this
// uses a periph board whose only chip has no lines, holding one line from
// an earlier claim. (That a line claimed earlier in the same failing call
// is released cannot be shown without real GPIO lines.)
func TestClaimFailureKeepsNothingNew(t *testing.T) {
	held := newRecPin("GPIO17")
	board := &Board{
		driver: DriverPeriph,
		log:    slog.New(slog.DiscardHandler),
		chips:  &periphChips{chips: []*gpioioctl.GPIOChip{{}}},
		held:   map[string]Output{"GPIO17": held},
	}
	leds := []LED{
		{Name: "a", Pin: "GPIO17", On: EventClients, Action: ActionLevel},
		{Name: "b", Pin: "GPIO99", On: EventMessage, Action: ActionBlink},
	}
	pins, err := board.Claim(leds)
	if err == nil || !strings.Contains(err.Error(), `gpio: pin "GPIO99" does not exist`) {
		t.Errorf("Claim = %v, %v; want an error naming GPIO99", pins, err)
	}
	if pins != nil {
		t.Errorf("Claim returned pins %v with its error", pins)
	}
	if got := heldNames(board); got != "GPIO17" {
		t.Errorf("held after a failed claim = %s, want GPIO17 only", got)
	}
	if verified, err := board.Check(leds[1:]); !verified || err == nil {
		t.Errorf("Check(GPIO99) = %v, %v; want verified with an error", verified, err)
	}
}

// On reload the new controller drives the reused lines off while the old
// worker may still be writing them, and a reused sim line must log under
// the LED's new name and polarity.
func TestSimPinReusedByNextController(t *testing.T) {
	old := []LED{{Name: "activity", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Millisecond}}
	b, logs := openSim(t, old)
	pins, err := b.Claim(old)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := NewController(old, pins, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go c1.Run(ctx)
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for {
			select {
			case <-stop:
				return
			default:
				c1.Notify(EventMessage)
			}
		}
	}()

	// A reload claims the new LEDs while the old worker still runs...
	renamed := []LED{{Name: "traffic", Pin: "GPIO27", On: EventMessage, Action: ActionBlink, Duration: time.Millisecond, ActiveLow: true}}
	pins2, err := b.Claim(renamed)
	if err != nil {
		t.Fatal(err)
	}
	// ...stops it, then binds the lines to the new LEDs.
	close(stop)
	<-flooded
	cancel()
	<-c1.Done()
	before := len(ledLines(logs.lines()))
	b.Bind(renamed)
	c2, err := NewController(renamed, pins2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go c2.Run(ctx2)
	c2.Notify(EventMessage)
	gatewaytest.Eventually(t, "the new LED to blink", func() bool {
		return strings.Contains(strings.Join(ledLines(logs.lines()), "\n"), "name=traffic pin=GPIO27 state=on")
	})
	cancel2()
	<-c2.Done()

	lines := ledLines(logs.lines())
	for _, l := range lines[:before] {
		if !strings.Contains(l, "name=activity") {
			t.Errorf("old worker's write logged as %q, want name=activity", l)
		}
	}
	for _, l := range lines[before:] {
		if !strings.Contains(l, "name=traffic") {
			t.Errorf("new worker's write logged as %q, want name=traffic", l)
		}
	}
	if got := pins2["GPIO27"].(*simPin).level; got != periphgpio.High {
		t.Errorf("active-low pin left at %v, want High (off)", got)
	}
}

func heldNames(b *Board) string {
	var names []string
	for name := range b.held {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// This host has no GPIO character device: auto falls back to sim and says
// why, and periph refuses in one sentence.
func TestDriversWithoutGPIOLines(t *testing.T) {
	if paths := gpioChipPaths(); len(paths) > 0 {
		t.Skipf("this host has GPIO lines: %v", paths)
	}
	leds := []LED{{Name: "a", Pin: "GPIO17", On: EventMessage, Action: ActionBlink}}

	_, err := Open(DriverPeriph, leds, slog.New(slog.DiscardHandler))
	if want := "gpio: this host has no GPIO lines (no /dev/gpiochip*)"; err == nil || err.Error() != want {
		t.Errorf("Open(periph) = %v, want %q", err, want)
	}

	var logs logBuffer
	b, err := Open(DriverAuto, leds, logs.logger())
	if err != nil {
		t.Fatalf("Open(auto): %v", err)
	}
	defer b.Close()
	if got := b.Driver(); got != DriverSim {
		t.Errorf("auto resolved to %v, want sim", got)
	}
	want := `level=INFO msg="gpio driver" driver=sim reason="auto: gpio: this host has no GPIO lines (no /dev/gpiochip*)"`
	if got := logs.lines(); len(got) != 1 || got[0] != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	if verified, err := b.Check(leds); verified || err != nil {
		t.Errorf("Check on sim = %v, %v; want unverified, no error", verified, err)
	}
}

func TestOpenLogsDriver(t *testing.T) {
	tests := []struct {
		d    Driver
		want string
	}{
		{DriverSim, `level=INFO msg="gpio driver" driver=sim reason=configured`},
		{DriverNone, `level=INFO msg="gpio driver" driver=none reason="configured; LEDs are ignored"`},
	}
	for _, tt := range tests {
		var logs logBuffer
		b, err := Open(tt.d, nil, logs.logger())
		if err != nil {
			t.Fatalf("Open(%v): %v", tt.d, err)
		}
		if got := logs.lines(); len(got) != 1 || got[0] != tt.want {
			t.Errorf("Open(%v) logged %q, want %q", tt.d, got, tt.want)
		}
		b.Close()
	}
	if _, err := Open(Driver(7), nil, nil); err == nil || err.Error() != "gpio: unknown driver Driver(7)" {
		t.Errorf("Open(Driver(7)) = %v, want an unknown driver error", err)
	}
}

func TestNoneDriverIgnoresLEDs(t *testing.T) {
	var logs logBuffer
	b, err := Open(DriverNone, nil, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	leds := []LED{{Name: "a", Pin: "GPIO17", On: EventMessage, Action: ActionBlink}}
	pins, err := b.Claim(leds)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []periphgpio.Level{periphgpio.High, periphgpio.Low} {
		if err := pins["GPIO17"].Out(l); err != nil {
			t.Errorf("Out(%v) = %v", l, err)
		}
	}
	if got := ledLines(logs.lines()); len(got) != 0 {
		t.Errorf("driver none logged LED changes: %q", got)
	}
}
