package gpio

import (
	"log/slog"
	"sync"

	periphgpio "periph.io/x/conn/v3/gpio"
)

// simPin is an LED with no hardware behind it: it remembers its level and
// logs every change, so a newcomer on a PC sees the LEDs in the terminal.
//
// On reload a held pin passes from one controller to the next while the
// old worker may still be writing it, hence the mutex.
type simPin struct {
	log *slog.Logger

	mu    sync.Mutex
	led   LED // the LED it shows, replaced when a reload reuses the pin
	level periphgpio.Level
	known bool // level has been set at least once
}

var _ Output = &simPin{}

func (p *simPin) Out(l periphgpio.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
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

// show makes p log as led, which a reload may have renamed or inverted.
func (p *simPin) show(led LED) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.led = led
}

// discard is an LED that is ignored: driver none.
type discard struct{}

var _ Output = discard{}

func (discard) Out(periphgpio.Level) error { return nil }
