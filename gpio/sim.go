package gpio

import (
	"log/slog"

	periphgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// simPin is an LED with no hardware behind it: it remembers its level and
// logs every change, so a newcomer on a PC sees the LEDs in the terminal.
type simPin struct {
	led   LED
	log   *slog.Logger
	level periphgpio.Level
	known bool // level has been set at least once
}

var _ periphgpio.PinOut = &simPin{}

func (p *simPin) Out(l periphgpio.Level) error {
	if p.known && l == p.level {
		return nil
	}
	p.level, p.known = l, true
	state := "off"
	if bool(l) != p.led.ActiveLow {
		state = "on"
	}
	p.log.Info("led", "name", p.led.Name, "pin", p.led.Pin, "state", state)
	return nil
}

func (p *simPin) String() string                              { return p.led.Pin + "(sim)" }
func (p *simPin) Halt() error                                 { return nil }
func (p *simPin) Name() string                                { return p.led.Pin }
func (p *simPin) Number() int                                 { return -1 }
func (p *simPin) Function() string                            { return "Out" }
func (p *simPin) PWM(periphgpio.Duty, physic.Frequency) error { return errNoPWM }

// discard is an LED that is ignored: driver none.
type discard struct{ simPin }

func (discard) Out(periphgpio.Level) error { return nil }
