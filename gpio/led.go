package gpio

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is what an LED shows.
type Event int

const (
	EventConnect    Event = iota // a client connected
	EventDisconnect              // a client disconnected
	EventMessage                 // a message was echoed
	EventClients                 // at least one client is connected (a level)
	EventHeartbeat               // the daemon is healthy (a pattern)

	numEvents
)

var eventNames = [...]string{"connect", "disconnect", "message", "clients", "heartbeat"}

func (e Event) String() string {
	if e >= 0 && e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("Event(%d)", int(e))
}

// ParseEvent parses an event name as written in the configuration.
func ParseEvent(s string) (Event, error) {
	for i, name := range eventNames {
		if s == name {
			return Event(i), nil
		}
	}
	return 0, fmt.Errorf("must be connect, disconnect, message, clients or heartbeat, got %q", s)
}

// Actions is the actions that can show e.
func (e Event) Actions() []Action {
	switch e {
	case EventClients:
		return []Action{ActionLevel} // a level, not a moment
	case EventHeartbeat:
		return []Action{ActionBlink} // a steady pattern, never a steady light
	}
	return []Action{ActionBlink, ActionToggle}
}

// Action is how an LED shows its event.
type Action int

const (
	ActionBlink  Action = iota // light for Duration, then dark for at least Duration
	ActionToggle               // flip, at most once per Duration
	ActionLevel                // lit while the condition holds
)

var actionNames = [...]string{"blink", "toggle", "level"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// ParseAction parses an action name as written in the configuration.
func ParseAction(s string) (Action, error) {
	for i, name := range actionNames {
		if s == name {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("must be blink, toggle or level, got %q", s)
}

// Driver selects how pins are reached.
type Driver int

const (
	DriverAuto   Driver = iota // periph on a host with GPIO lines, else sim
	DriverPeriph               // real lines through the GPIO character device
	DriverSim                  // no hardware; every change is logged
	DriverNone                 // LEDs are ignored
)

var driverNames = [...]string{"auto", "periph", "sim", "none"}

func (d Driver) String() string {
	if d >= 0 && int(d) < len(driverNames) {
		return driverNames[d]
	}
	return fmt.Sprintf("Driver(%d)", int(d))
}

// ParseDriver parses a driver name as written in the configuration.
func ParseDriver(s string) (Driver, error) {
	for i, name := range driverNames {
		if s == name {
			return Driver(i), nil
		}
	}
	return 0, fmt.Errorf("must be auto, periph, sim or none, got %q", s)
}

// Default durations, used when an LED's Duration is zero.
const (
	DefaultBlink     = 100 * time.Millisecond
	DefaultHeartbeat = time.Second
)

// MinDuration is the shortest Duration an LED takes: a shorter blink
// would not be seen, and would only load the pin.
const MinDuration = time.Millisecond

// LED is one configured LED.
type LED struct {
	Name   string
	Pin    string // the GPIO line's name, such as "GPIO17"
	On     Event
	Action Action
	// Duration is how long a blink lights the LED (and then the least time
	// it stays dark), the least time between two toggles, or a heartbeat's
	// period.
	Duration time.Duration
	// ActiveLow means the LED is lit when its pin is low.
	ActiveLow bool
}

// WithDefaults fills in a zero Duration.
func (l LED) WithDefaults() LED {
	if l.Duration == 0 {
		l.Duration = DefaultBlink
		if l.On == EventHeartbeat {
			l.Duration = DefaultHeartbeat
		}
	}
	return l
}

// Validate reports a combination of fields that cannot work. The error
// names the rule broken, not the LED; the caller says which LED it is.
func (l LED) Validate() error {
	switch {
	case l.Name == "":
		return errors.New("no name")
	case l.Pin == "":
		return errors.New("no pin")
	case !slices.Contains(l.On.Actions(), l.Action):
		return fmt.Errorf("event %s takes action %s, not %s", l.On, joinActions(l.On.Actions()), l.Action)
	case l.Duration < 0:
		return fmt.Errorf("negative duration %v", l.Duration)
	case l.Duration > 0 && l.Duration < MinDuration:
		return fmt.Errorf("duration %v is shorter than %v", l.Duration, MinDuration)
	}
	return nil
}

func joinActions(as []Action) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.String()
	}
	return strings.Join(names, " or ")
}
