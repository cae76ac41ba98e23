package gpio

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseNames(t *testing.T) {
	for _, e := range []Event{EventConnect, EventDisconnect, EventMessage, EventClients, EventHeartbeat} {
		if got, err := ParseEvent(e.String()); got != e || err != nil {
			t.Errorf("ParseEvent(%q) = %v, %v; want %v", e.String(), got, err, e)
		}
	}
	for _, a := range []Action{ActionBlink, ActionToggle, ActionLevel} {
		if got, err := ParseAction(a.String()); got != a || err != nil {
			t.Errorf("ParseAction(%q) = %v, %v; want %v", a.String(), got, err, a)
		}
	}
	for _, d := range []Driver{DriverAuto, DriverPeriph, DriverSim, DriverNone} {
		if got, err := ParseDriver(d.String()); got != d || err != nil {
			t.Errorf("ParseDriver(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
	}
	names := map[string]string{
		"connect": EventConnect.String(), "heartbeat": EventHeartbeat.String(),
		"level": ActionLevel.String(), "periph": DriverPeriph.String(),
		"Event(9)": Event(9).String(), "Event(-1)": Event(-1).String(),
		"Action(3)": Action(3).String(), "Driver(4)": Driver(4).String(),
	}
	for want, got := range names {
		if got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		parse func(string) error
		in    string
		want  string
	}{
		{func(s string) error { _, err := ParseEvent(s); return err }, "Connect", `must be connect, disconnect, message, clients or heartbeat, got "Connect"`},
		{func(s string) error { _, err := ParseEvent(s); return err }, "", `must be connect, disconnect, message, clients or heartbeat, got ""`},
		{func(s string) error { _, err := ParseAction(s); return err }, "flash", `must be blink, toggle or level, got "flash"`},
		{func(s string) error { _, err := ParseDriver(s); return err }, "gpiod", `must be auto, periph, sim or none, got "gpiod"`},
	}
	for _, tt := range tests {
		if err := tt.parse(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("parse(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestEventActions(t *testing.T) {
	want := map[Event][]Action{
		EventConnect:    {ActionBlink, ActionToggle},
		EventDisconnect: {ActionBlink, ActionToggle},
		EventMessage:    {ActionBlink, ActionToggle},
		EventClients:    {ActionLevel},
		EventHeartbeat:  {ActionBlink},
	}
	for e, w := range want {
		if got := e.Actions(); !slices.Equal(got, w) {
			t.Errorf("%v.Actions() = %v, want %v", e, got, w)
		}
	}
}

func TestLEDValidate(t *testing.T) {
	ok := LED{Name: "a", Pin: "GPIO17", On: EventMessage, Action: ActionBlink}
	tests := []struct {
		name string
		edit func(*LED)
		want string // "" for valid
	}{
		{"valid blink", func(*LED) {}, ""},
		{"valid toggle", func(l *LED) { l.Action = ActionToggle; l.On = EventConnect }, ""},
		{"valid level", func(l *LED) { l.On, l.Action = EventClients, ActionLevel }, ""},
		{"valid heartbeat", func(l *LED) { l.On, l.Duration = EventHeartbeat, time.Second }, ""},
		{"1ms", func(l *LED) { l.Duration = time.Millisecond }, ""},
		{"no name", func(l *LED) { l.Name = "" }, "no name"},
		{"no pin", func(l *LED) { l.Pin = "" }, "no pin"},
		{"clients blink", func(l *LED) { l.On = EventClients }, "event clients takes action level, not blink"},
		{"clients toggle", func(l *LED) { l.On, l.Action = EventClients, ActionToggle }, "event clients takes action level, not toggle"},
		{"level on message", func(l *LED) { l.Action = ActionLevel }, "event message takes action blink or toggle, not level"},
		{"level on heartbeat", func(l *LED) { l.On, l.Action = EventHeartbeat, ActionLevel }, "event heartbeat takes action blink, not level"},
		{"heartbeat toggle", func(l *LED) { l.On, l.Action = EventHeartbeat, ActionToggle }, "event heartbeat takes action blink, not toggle"},
		{"negative", func(l *LED) { l.Duration = -time.Second }, "negative duration -1s"},
		{"too short", func(l *LED) { l.Duration = time.Microsecond }, "duration 1µs is shorter than 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ok
			tt.edit(&l)
			err := l.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate(%+v) = %v, want nil", l, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("Validate(%+v) = %v, want %q", l, err, tt.want)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		led  LED
		want time.Duration
	}{
		{LED{On: EventMessage, Action: ActionBlink}, DefaultBlink},
		{LED{On: EventConnect, Action: ActionToggle}, DefaultBlink},
		{LED{On: EventHeartbeat, Action: ActionBlink}, DefaultHeartbeat},
		{LED{On: EventHeartbeat, Action: ActionBlink, Duration: 3 * time.Second}, 3 * time.Second},
		{LED{On: EventMessage, Action: ActionBlink, Duration: 20 * time.Millisecond}, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := tt.led.WithDefaults().Duration; got != tt.want {
			t.Errorf("%+v.WithDefaults().Duration = %v, want %v", tt.led, got, tt.want)
		}
	}
}

func TestNaturalLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"GPIO2", "GPIO10", true},
		{"GPIO10", "GPIO2", false},
		{"GPIO2", "GPIO2", false},
		{"GPIO9", "ID_SD", true},
		{"ID_SC", "ID_SD", true},
		{"GPIO", "GPIO0", true},
		{"SDA1", "GPIO3", false},
		{"PIN007", "PIN8", true},
	}
	for _, tt := range tests {
		if got := naturalLess(tt.a, tt.b); got != tt.want {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	names := []string{"GPIO27", "ID_SD", "GPIO3", "GPIO10", "GPIO2", "ID_SC", "GPIO17"}
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case naturalLess(a, b):
			return -1
		case naturalLess(b, a):
			return 1
		}
		return 0
	})
	if got, want := strings.Join(names, " "), "GPIO2 GPIO3 GPIO10 GPIO17 GPIO27 ID_SC ID_SD"; got != want {
		t.Errorf("sorted = %s, want %s", got, want)
	}
}
